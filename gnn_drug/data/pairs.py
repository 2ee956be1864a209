"""Compound x entity measurements (binding affinity to a protein, response of a cell line) as one table shape.

A :class:`PairTable` keeps each distinct compound and entity once (SMILES; protein sequence or a numeric
feature profile) and the measured pairs as index arrays into them, so that models can encode each distinct
entity once per batch. Readers: the DeepDTA matrix layout (Davis, KIBA) and any long table of pairs with
optional compound and entity tables joined by id.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from gnn_drug.data.featurize import Reject
from gnn_drug.data.sequences import clean_sequence
from gnn_drug.data.tables import read_table
from gnn_drug.errors import DataError

VALUE_TRANSFORMS = ("none", "pkd_from_nm", "neg_log10_molar", "log10", "ln")


@dataclass
class PairTable:
    """Distinct compounds and entities, and the measured (compound, entity, value) pairs between them."""

    source: str
    value_name: str
    compound_ids: list[str]
    compound_smiles: list[str]
    entity_ids: list[str]
    entity_kind: str  # "protein" (sequences) or "profile" (numeric feature vectors, e.g. cell lines)
    compound_index: np.ndarray  # int64 [pairs]
    entity_index: np.ndarray  # int64 [pairs]
    values: np.ndarray  # float32 [pairs]; NaN only in tables read for prediction
    rows: np.ndarray  # int64 [pairs]: 0-based position of each pair in the input
    sequences: list[str] | None = None  # per entity, for proteins
    profiles: np.ndarray | None = None  # float32 [entities, features], for profiles
    profile_names: list[str] = field(default_factory=list)
    folds: dict[str, list[np.ndarray]] | None = None  # predefined split, as positions into the pairs

    def __len__(self) -> int:
        return len(self.values)

    @property
    def num_compounds(self) -> int:
        return len(self.compound_ids)

    @property
    def num_entities(self) -> int:
        return len(self.entity_ids)


def transform_values(values: np.ndarray, transform: str, source: str, rows: np.ndarray | None = None) -> np.ndarray:
    """Apply a unit transform; ``pkd_from_nm``: pKd = -log10(Kd / 1e9) with Kd in nM (Davis's convention)."""
    if transform == "none":
        return values.astype(np.float32)
    if transform not in VALUE_TRANSFORMS:
        raise DataError(f"{source}: unknown value transform {transform!r}; choose from {VALUE_TRANSFORMS}")
    bad = np.flatnonzero(~(values > 0) & ~np.isnan(values))
    if bad.size:
        row = int(rows[bad[0]]) if rows is not None else int(bad[0])
        raise DataError(f"{source}: row {row + 1}: value {values[bad[0]]!r} must be > 0 for the {transform} "
                        f"transform ({bad.size} such rows)")
    with np.errstate(divide="ignore", invalid="ignore"):
        if transform == "pkd_from_nm":
            out = -np.log10(values / 1e9)
        elif transform == "neg_log10_molar":
            out = -np.log10(values)
        elif transform == "log10":
            out = np.log10(values)
        else:
            out = np.log(values)
    return out.astype(np.float32)


# ---- DeepDTA layout ------------------------------------------------------------------------------------------
def _read_json(path: Path) -> object:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: not valid JSON ({exc})") from None


def load_deepdta(files: dict[str, Path], name: str, value_name: str, transform: str = "none") -> PairTable:
    """Davis/KIBA: ``ligands`` and ``proteins`` JSON (id -> SMILES / sequence, in matrix order), ``matrix``
    [drugs x proteins] with NaN = unmeasured, and the setting-1 folds as flat indices of the measured pairs in
    row-major order (DeepDTA's ``np.where(~np.isnan(Y))``)."""
    ligands = _read_json(files["ligands"])
    proteins = _read_json(files["proteins"])
    if not isinstance(ligands, dict) or not isinstance(proteins, dict):
        raise DataError(f"{files['ligands']}: ligands and proteins must be JSON objects (id -> string)")
    matrix = np.load(files["matrix"], allow_pickle=False)
    if matrix.shape != (len(ligands), len(proteins)):
        raise DataError(f"{files['matrix']}: shape {matrix.shape} does not match {len(ligands)} ligands x "
                        f"{len(proteins)} proteins")
    drug_idx, prot_idx = np.where(~np.isnan(matrix))
    values = transform_values(matrix[drug_idx, prot_idx], transform, str(files["matrix"]))
    sequences = [clean_sequence(s, f"{files['proteins']}: protein {k}") for k, s in proteins.items()]
    folds = None
    if "train_folds" in files and "test_fold" in files:
        train = _read_json(files["train_folds"])
        test = _read_json(files["test_fold"])
        folds = {"train": [np.asarray(f, dtype=np.int64) for f in train], "test": [np.asarray(test, np.int64)]}
        for part in folds["train"] + folds["test"]:
            if part.size and (part.min() < 0 or part.max() >= len(values)):
                raise DataError(f"{files['train_folds']}: fold index outside the {len(values)} measured pairs")
    return PairTable(
        source=str(Path(files["matrix"]).parent), value_name=value_name,
        compound_ids=[str(k) for k in ligands], compound_smiles=[str(v) for v in ligands.values()],
        entity_ids=[str(k) for k in proteins], entity_kind="protein",
        compound_index=drug_idx.astype(np.int64), entity_index=prot_idx.astype(np.int64), values=values,
        rows=np.arange(len(values), dtype=np.int64), sequences=sequences, folds=folds,
    )


# ---- long tables ---------------------------------------------------------------------------------------------
@dataclass
class CompoundSource:
    """A table giving each compound id its SMILES."""

    path: str
    id_column: str
    smiles_column: str


@dataclass
class EntitySource:
    """A table keyed by entity id: a protein sequence column, or numeric feature columns (all numeric columns
    but the id when ``columns`` is None). Several feature tables are concatenated (e.g. expression + CNV)."""

    path: str
    id_column: str
    sequence_column: str | None = None
    columns: list[str] | None = None
    prefix: str = ""


def _column(frame: pd.DataFrame, name: str, source: str, what: str) -> str:
    if name in frame.columns:
        return name
    matches = [c for c in frame.columns if str(c).lower() == name.lower()]
    if len(matches) == 1:
        return matches[0]
    raise DataError(f"{source}: no {what} column {name!r}; columns are {[str(c) for c in frame.columns][:30]}")


def _id_strings(series: pd.Series) -> pd.Series:
    text = series.astype(str).str.strip()
    return text.str.replace(r"\.0$", "", regex=True)  # ids read as floats (1290730.0) match ids read as text


def _read_profiles(sources: list[EntitySource]) -> tuple[dict[str, np.ndarray], list[str]]:
    merged: pd.DataFrame | None = None
    for src in sources:
        frame = read_table(src.path)
        id_col = _column(frame, src.id_column, src.path, "entity id")
        ids = _id_strings(frame[id_col])
        if ids.duplicated().any():
            dup = ids[ids.duplicated()].iloc[0]
            raise DataError(f"{src.path}: entity id {dup!r} appears more than once in column {id_col!r}")
        columns = src.columns or [c for c in frame.columns if c != id_col]
        numeric = frame[columns].apply(pd.to_numeric, errors="coerce")
        text = frame[columns].astype(str).apply(lambda c: c.str.strip())
        blank = frame[columns].isna() | text.isin(["", "NA", "nan"])
        bad = numeric.isna() & ~blank
        if src.columns is None:  # keep the numeric columns only (descriptors such as tissue names are dropped)
            numeric = numeric.loc[:, ~bad.any() & numeric.notna().any()]
        else:
            if bad.any().any():
                col = bad.any()[bad.any()].index[0]
                row = int(np.flatnonzero(bad[col].to_numpy())[0])
                raise DataError(f"{src.path}: row {row + 1}, column {col!r}: {frame[col].iloc[row]!r} is not numeric")
        numeric.columns = [f"{src.prefix}{c}" for c in numeric.columns]
        numeric.index = ids.to_numpy()
        merged = numeric if merged is None else merged.join(numeric, how="inner")
    assert merged is not None
    values = merged.to_numpy(dtype=np.float32)
    values = np.where(np.isnan(values), 0.0, values).astype(np.float32)  # unmeasured feature -> 0 (z-scored data)
    return {str(k): values[i] for i, k in enumerate(merged.index)}, [str(c) for c in merged.columns]


def load_pair_file(
    path: str | os.PathLike,
    compound_column: str,
    entity_column: str,
    value_column: str | None,
    smiles_column: str | None = None,
    sequence_column: str | None = None,
    compounds: CompoundSource | None = None,
    entities: list[EntitySource] | None = None,
    transform: str = "none",
    value_name: str | None = None,
    aggregate_duplicates: bool = True,
) -> tuple[PairTable, list[Reject]]:
    """Read a long table of pairs. Compound SMILES come from ``smiles_column`` (or the compound column itself
    when it holds SMILES and no compound table is given); entities from ``sequence_column`` or ``entities``.
    Rows that cannot be used (unknown compound/entity, bad sequence, missing value) become rejects. With
    ``value_column=None`` (prediction) every row is kept with a NaN value."""
    source = str(path)
    frame = read_table(path)
    comp_col = _column(frame, compound_column, source, "compound")
    ent_col = _column(frame, entity_column, source, "entity")
    compound_keys = frame[comp_col].astype(str).str.strip() if compounds else _id_strings(frame[comp_col])
    entity_keys = _id_strings(frame[ent_col])
    n = len(frame)
    rejects: list[Reject] = []
    usable = np.ones(n, dtype=bool)

    def reject(mask: np.ndarray, reason_of) -> None:
        for row in np.flatnonzero(mask & usable):
            rejects.append(Reject(row=int(row), smiles=f"{compound_keys.iloc[row]} | {entity_keys.iloc[row]}",
                                  reason=reason_of(int(row))))
        usable[mask] = False

    # compounds -> SMILES
    if smiles_column is not None:
        smi = frame[_column(frame, smiles_column, source, "SMILES")].astype(str).str.strip()
        compound_smiles = dict(zip(compound_keys, smi, strict=True))
    elif compounds is not None:
        table = read_table(compounds.path)
        ids = _id_strings(table[_column(table, compounds.id_column, compounds.path, "compound id")])
        smi = table[_column(table, compounds.smiles_column, compounds.path, "SMILES")].astype(str).str.strip()
        compound_smiles = dict(zip(ids, smi, strict=True))
        compound_keys = _id_strings(frame[comp_col])
    else:
        compound_smiles = {k: k for k in compound_keys}
    reject(~compound_keys.isin(compound_smiles.keys()).to_numpy(),
           lambda r: f"compound {compound_keys.iloc[r]!r} has no SMILES in {compounds.path if compounds else source}")

    # entities -> sequence or profile
    sequences: dict[str, str] = {}
    profiles: dict[str, np.ndarray] = {}
    profile_names: list[str] = []
    entity_kind = "protein"
    sequence_sources = [e for e in entities or [] if e.sequence_column]
    profile_sources = [e for e in entities or [] if not e.sequence_column]
    if sequence_column is not None:
        raw = frame[_column(frame, sequence_column, source, "sequence")]
        bad = np.zeros(n, dtype=bool)
        reasons: dict[int, str] = {}
        for row, (key, seq) in enumerate(zip(entity_keys, raw, strict=True)):
            try:
                clean = clean_sequence(seq, f"{source}: row {row + 1}")
            except DataError as exc:
                bad[row], reasons[row] = True, str(exc)
                continue
            if sequences.setdefault(key, clean) != clean:
                bad[row], reasons[row] = True, f"entity {key!r} has a different sequence on an earlier row"
        reject(bad, lambda r: reasons[r])
    elif sequence_sources:
        for src in sequence_sources:
            table = read_table(src.path)
            ids = _id_strings(table[_column(table, src.id_column, src.path, "entity id")])
            seqs = table[_column(table, src.sequence_column, src.path, "sequence")]
            for row, (key, seq) in enumerate(zip(ids, seqs, strict=True)):
                sequences[key] = clean_sequence(seq, f"{src.path}: row {row + 1}")
    elif profile_sources:
        entity_kind = "profile"
        profiles, profile_names = _read_profiles(profile_sources)
    else:
        raise DataError(f"{source}: give a sequence column or entity tables (sequences or feature profiles)")
    known = profiles if entity_kind == "profile" else sequences
    reject(~entity_keys.isin(known.keys()).to_numpy(), lambda r: f"entity {entity_keys.iloc[r]!r} has no "
           + ("feature profile" if entity_kind == "profile" else "sequence"))

    # values
    if value_column is not None:
        val_col = _column(frame, value_column, source, "value")
        text = frame[val_col].astype(str).str.strip()
        values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64)
        blank = text.isin(["", "nan", "NaN", "NA", "N/A", "null", "None"]).to_numpy()
        reject(np.isnan(values) & ~blank, lambda r: f"value {text.iloc[r]!r} in column {val_col!r} is not a number")
        reject(np.isnan(values), lambda r: f"no value in column {val_col!r}")
        kept = np.flatnonzero(usable)
        values = values.astype(np.float32)
        values[kept] = transform_values(values[kept], transform, source, kept)
    else:
        values = np.full(n, np.nan, dtype=np.float32)
    kept = np.flatnonzero(usable)

    comp_ids = list(dict.fromkeys(compound_keys.iloc[kept]))
    ent_ids = list(dict.fromkeys(entity_keys.iloc[kept]))
    comp_pos = {k: i for i, k in enumerate(comp_ids)}
    ent_pos = {k: i for i, k in enumerate(ent_ids)}
    compound_index = np.fromiter((comp_pos[k] for k in compound_keys.iloc[kept]), np.int64, len(kept))
    entity_index = np.fromiter((ent_pos[k] for k in entity_keys.iloc[kept]), np.int64, len(kept))
    pair_values, rows = values[kept], kept.astype(np.int64)
    if aggregate_duplicates and value_column is not None and len(kept):
        # one pair measured several times: train on the mean, keep the first row as its input row
        key = compound_index * max(1, len(ent_ids)) + entity_index
        unique, first, inverse = np.unique(key, return_index=True, return_inverse=True)
        if len(unique) < len(key):
            sums = np.bincount(inverse, weights=pair_values, minlength=len(unique))
            counts = np.bincount(inverse, minlength=len(unique))
            order = np.sort(first)
            remap = np.argsort(first)
            means = (sums / counts)[remap]
            compound_index, entity_index = compound_index[order], entity_index[order]
            pair_values, rows = means.astype(np.float32), rows[order]
    table = PairTable(
        source=source, value_name=value_name or (value_column or "value"),
        compound_ids=comp_ids, compound_smiles=[compound_smiles[k] for k in comp_ids],
        entity_ids=ent_ids, entity_kind=entity_kind,
        compound_index=compound_index, entity_index=entity_index, values=pair_values, rows=rows,
        sequences=[sequences[k] for k in ent_ids] if entity_kind == "protein" else None,
        profiles=np.stack([profiles[k] for k in ent_ids]) if entity_kind == "profile" and ent_ids else None,
        profile_names=profile_names,
    )
    return table, rejects
