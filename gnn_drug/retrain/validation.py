"""Checks on incoming data before anything is trained, and a compact profile of it for drift reports.

Validation gathers every problem (file, row, reason) instead of stopping at the first; fatal ones (missing
columns, non-numeric or out-of-range labels, too many unparseable molecules, too few rows) make the job exit
with the invalid-data code. The profile (label statistics, decile histograms of a few RDKit properties) is stored
with each registered model, so the next run can say how the new data differs from the champion's.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from gnn_drug.data.registry import sha256_of
from gnn_drug.data.tables import CLASSIFICATION, MoleculeTable, molecule_table_from_frame, read_table
from gnn_drug.errors import DataError
from gnn_drug.retrain.job import ValidationRules

PROFILE_SAMPLE = 20_000  # properties are computed on at most this many molecules (seeded sample)
_MAX_LISTED = 50


@dataclass
class DataReport:
    files: list[dict] = field(default_factory=list)
    rows: int = 0
    invalid_count: int = 0
    invalid: list[dict] = field(default_factory=list)
    duplicates: int = 0
    conflicting_duplicates: int = 0
    labels: dict = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict:
        return {"files": self.files, "rows": self.rows, "invalid_molecules": self.invalid_count,
                "invalid_examples": self.invalid, "duplicate_molecules": self.duplicates,
                "conflicting_duplicates": self.conflicting_duplicates, "labels": self.labels,
                "problems": self.problems, "warnings": self.warnings}


def find_data_files(pattern: Path) -> list[Path]:
    """A file, or the files a glob matches, sorted by name (the order rows are read in, oldest first)."""
    if pattern.is_file():
        return [pattern]
    return [Path(p) for p in sorted(glob.glob(str(pattern), recursive=True)) if Path(p).is_file()]


def data_fingerprint(files: list[Path]) -> str:
    """sha256 over the files' own sha256 in name order: renaming nothing and touching nothing keeps it."""
    import hashlib

    digest = hashlib.sha256()
    for path in files:
        digest.update(sha256_of(path).encode())
    return digest.hexdigest()


def read_job_data(files: list[Path], smiles_column: str, targets: list[str] | None,
                  task_types: dict[str, str] | str | None, report: DataReport) -> tuple[pd.DataFrame, list[str]]:
    """Concatenate the files (columns checked per file); returns the frame with ``_file``/``_row``/``_sha256``
    provenance (the file's checksum tells which rows come from files unchanged since the champion's run)."""
    frames = []
    for path in files:
        try:
            frame = read_table(path)
            table = molecule_table_from_frame(frame, str(path), smiles_column, targets, task_types)
        except DataError as exc:
            report.problems.append(str(exc))
            continue
        targets = targets or table.targets
        kept = frame[[c for c in frame.columns if c == smiles_column or c in table.targets]].copy()
        kept.columns = ["smiles" if c == smiles_column else c for c in kept.columns]
        digest = sha256_of(path)
        kept["_file"] = path.name
        kept["_row"] = np.arange(1, len(kept) + 1)
        kept["_sha256"] = digest
        frames.append(kept)
        report.files.append({"path": str(path), "rows": len(frame), "sha256": digest})
    if not frames:
        return pd.DataFrame(), list(targets or [])
    return pd.concat(frames, ignore_index=True), list(targets or [])


def validate_table(table: MoleculeTable, frame: pd.DataFrame, rules: ValidationRules, report: DataReport,
                   canonical: list[str | None], reasons: list[str | None]) -> None:
    """Row count, molecule validity, label ranges and duplicates; ``canonical[i]`` is None for invalid rows."""
    report.rows = len(table)
    if len(table) < rules.min_rows:
        report.problems.append(f"only {len(table)} rows; the job needs at least {rules.min_rows}")
    bad = [i for i, c in enumerate(canonical) if c is None]
    report.invalid_count = len(bad)
    report.invalid = [{"file": frame["_file"].iat[i], "row": int(frame["_row"].iat[i]), "smiles": table.smiles[i],
                       "reason": reasons[i]} for i in bad[:_MAX_LISTED]]
    share = len(bad) / max(len(table), 1)
    if share > rules.max_invalid_fraction:
        first = report.invalid[0]
        report.problems.append(f"{len(bad)} of {len(table)} molecules ({share:.1%}) cannot be parsed, more than "
                               f"the {rules.max_invalid_fraction:.1%} allowed (first: {first['file']} row "
                               f"{first['row']}: {first['reason']})")
    elif bad:
        report.warnings.append(f"{len(bad)} molecule(s) cannot be parsed and will be skipped")
    for j, (target, kind) in enumerate(zip(table.targets, table.task_types, strict=True)):
        column = table.labels[:, j]
        present = column[~np.isnan(column)]
        stats = {"type": kind, "measured": int(present.size)}
        if present.size:
            stats.update(mean=float(present.mean()), min=float(present.min()), max=float(present.max()))
        report.labels[target] = stats
        if present.size == 0:
            report.problems.append(f"label column {target!r} has no measured values")
        if target in rules.label_ranges:
            low, high = rules.label_ranges[target]
            outside = np.flatnonzero(~np.isnan(column) & ((column < low) | (column > high)))
            if outside.size:
                i = int(outside[0])
                report.problems.append(
                    f"{frame['_file'].iat[i]} row {int(frame['_row'].iat[i])}, column {target!r}: label "
                    f"{column[i]:g} outside the allowed range [{low:g}, {high:g}] ({outside.size} such rows)")
    groups: dict[str, list[int]] = {}
    for i, key in enumerate(canonical):
        if key is not None:
            groups.setdefault(key, []).append(i)
    repeated = [rows for rows in groups.values() if len(rows) > 1]
    report.duplicates = len(repeated)
    conflicting = 0
    for rows in repeated:
        block = table.labels[rows]
        for j in range(block.shape[1]):
            values = block[:, j][~np.isnan(block[:, j])]
            if values.size > 1 and np.ptp(values) > (0 if table.task_types[j] == CLASSIFICATION else 1e-6):
                conflicting += 1
                break
    report.conflicting_duplicates = conflicting
    if repeated:
        report.warnings.append(f"{len(repeated)} molecule(s) appear more than once; {conflicting} with labels "
                               "that disagree")
    if groups and conflicting / len(groups) > rules.max_conflicting_duplicates:
        report.problems.append(f"{conflicting} molecules have conflicting labels, more than "
                               f"{rules.max_conflicting_duplicates:.1%} of the {len(groups)} distinct molecules")


# ---- profile and drift ---------------------------------------------------------------------------------------
def _properties(smiles: list[str]) -> dict[str, np.ndarray]:
    from rdkit import Chem, RDLogger
    from rdkit.Chem import Crippen, Descriptors, rdMolDescriptors

    RDLogger.DisableLog("rdApp.*")
    names = ("mol_wt", "clogp", "tpsa", "hbd", "hba", "heavy_atoms")
    values: dict[str, list[float]] = {n: [] for n in names}
    for s in smiles:
        mol = Chem.MolFromSmiles(s)
        if mol is None:
            continue
        values["mol_wt"].append(Descriptors.MolWt(mol))
        values["clogp"].append(Crippen.MolLogP(mol))
        values["tpsa"].append(rdMolDescriptors.CalcTPSA(mol))
        values["hbd"].append(rdMolDescriptors.CalcNumHBD(mol))
        values["hba"].append(rdMolDescriptors.CalcNumHBA(mol))
        values["heavy_atoms"].append(mol.GetNumHeavyAtoms())
    return {n: np.asarray(v, dtype=np.float64) for n, v in values.items()}


def data_profile(canonical_smiles: list[str], table: MoleculeTable, seed: int = 0) -> dict:
    """Label statistics and decile edges + counts of molecular properties (on a seeded sample)."""
    rng = np.random.default_rng(seed)
    sample = canonical_smiles
    if len(sample) > PROFILE_SAMPLE:
        sample = [sample[i] for i in np.sort(rng.choice(len(sample), PROFILE_SAMPLE, replace=False))]
    properties = {}
    for name, values in _properties(sample).items():
        if values.size == 0:
            continue
        edges = np.unique(np.quantile(values, np.linspace(0, 1, 11)))
        counts = _histogram(values, edges)
        properties[name] = {"edges": [round(float(e), 4) for e in edges], "counts": counts,
                            "median": float(np.median(values))}
    labels = {}
    for j, target in enumerate(table.targets):
        present = table.labels[:, j][~np.isnan(table.labels[:, j])]
        labels[target] = {"measured": int(present.size), "mean": float(present.mean()) if present.size else None}
    return {"rows": len(table), "molecules": len(canonical_smiles), "labels": labels, "properties": properties}


def _histogram(values: np.ndarray, edges: np.ndarray) -> list[int]:
    """Counts in the bins the edges define, with everything outside the reference range in the end bins."""
    if len(edges) < 2:
        return [int(values.size)]
    inner = np.clip(values, edges[0], edges[-1])
    return [int(c) for c in np.histogram(inner, bins=edges)[0]]


def population_stability_index(expected: list[int], actual: list[int]) -> float:
    """PSI = Σ (a − e) ln(a / e) over bins of proportions; > 0.25 is conventionally a major shift."""
    e = np.asarray(expected, dtype=np.float64)
    a = np.asarray(actual, dtype=np.float64)
    e = np.clip(e / max(e.sum(), 1), 1e-4, None)
    a = np.clip(a / max(a.sum(), 1), 1e-4, None)
    return float(np.sum((a - e) * np.log(a / e)))


def drift_summary(reference: dict | None, canonical_smiles: list[str], table: MoleculeTable) -> dict:
    """How the new data differs from the champion's training data (rows, label means, property PSI)."""
    if not reference:
        return {"available": False, "reason": "the champion has no stored data profile"}
    rng = np.random.default_rng(0)
    sample = canonical_smiles
    if len(sample) > PROFILE_SAMPLE:
        sample = [sample[i] for i in np.sort(rng.choice(len(sample), PROFILE_SAMPLE, replace=False))]
    new_values = _properties(sample)
    properties = {}
    for name, ref in reference.get("properties", {}).items():
        values = new_values.get(name)
        if values is None or values.size == 0:
            continue
        psi = population_stability_index(ref["counts"], _histogram(values, np.asarray(ref["edges"])))
        properties[name] = {"psi": round(psi, 4), "median_before": ref["median"],
                            "median_now": float(np.median(values)),
                            "shift": "major" if psi > 0.25 else "moderate" if psi > 0.1 else "none"}
    labels = {}
    for j, target in enumerate(table.targets):
        present = table.labels[:, j][~np.isnan(table.labels[:, j])]
        before = reference.get("labels", {}).get(target, {})
        labels[target] = {"measured_before": before.get("measured"), "measured_now": int(present.size),
                          "mean_before": before.get("mean"),
                          "mean_now": float(present.mean()) if present.size else None}
    return {"available": True, "rows_before": reference.get("rows"), "rows_now": len(table),
            "labels": labels, "properties": properties,
            "major_shifts": sorted(n for n, p in properties.items() if p["shift"] == "major")}
