"""Reading molecule tables (CSV/TSV/Parquet, optionally gzipped) into a :class:`MoleculeTable`.

Public datasets and a user's own assay file go through the same reader: a SMILES column, zero or more label
columns (blank = not measured, never zero), and per-column task types, declared or inferred.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from gnn_drug.data.atomic import atomic_path
from gnn_drug.errors import DataError

CLASSIFICATION = "classification"
REGRESSION = "regression"
TASK_TYPES = (CLASSIFICATION, REGRESSION)


def _suffixes(path: Path) -> list[str]:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in (".gz", ".bz2", ".xz", ".zip"):
        suffixes = suffixes[:-1]
    return suffixes


def read_table(path: str | os.PathLike) -> pd.DataFrame:
    """Read a CSV, TSV, SMILES (.smi) or Parquet file; compression is taken from the extension."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    suffixes = _suffixes(path)
    kind = suffixes[-1] if suffixes else ""
    try:
        if kind == ".parquet":
            return pd.read_parquet(path)
        if kind in (".tsv", ".tab"):
            return pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
        if kind in (".smi", ".smiles"):
            frame = pd.read_csv(path, sep=r"\s+", header=None, dtype=str, keep_default_na=False,
                                engine="python", usecols=[0, 1] if _has_two_columns(path) else [0])
            frame.columns = ["smiles", "id"][: frame.shape[1]]
            return frame
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot be read as a {kind or 'CSV'} table: {str(exc).strip()}") from None


def write_table(frame: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write CSV, TSV or Parquet by extension, atomically (a reader never sees a half-written file)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        if path.suffix.lower() == ".parquet":
            frame.to_parquet(tmp, index=False)
        else:
            frame.to_csv(tmp, index=False, sep="\t" if path.suffix.lower() == ".tsv" else ",")


def _has_two_columns(path: Path) -> bool:
    import gzip

    opener = gzip.open if path.suffix.lower() == ".gz" else open
    with opener(path, "rt") as handle:
        first = handle.readline().split()
    return len(first) >= 2


@dataclass
class MoleculeTable:
    """Molecules and their labels as read from one file (rows in file order, before any validation)."""

    source: str
    smiles: list[str]
    targets: list[str]
    labels: np.ndarray  # float32 [rows, targets], NaN = not measured
    task_types: list[str]
    ids: list[str] | None = None

    def __len__(self) -> int:
        return len(self.smiles)

    @property
    def num_tasks(self) -> int:
        return len(self.targets)


def _parse_labels(frame: pd.DataFrame, column: str, source: str) -> np.ndarray:
    raw = frame[column]
    if raw.dtype == object or pd.api.types.is_string_dtype(raw):
        text = raw.fillna("").astype(str).str.strip()
        blank = text.isin(["", "nan", "NaN", "NA", "N/A", "null", "None"])
        values = pd.to_numeric(text.where(~blank, None), errors="coerce")
        bad = values.isna() & ~blank
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise DataError(
                f"{source}: row {row + 1} (line {row + 2}), column {column!r}: label {text.iloc[row]!r} is not a "
                f"number ({int(bad.sum())} such rows in this column)"
            )
        return values.to_numpy(dtype=np.float32)
    return pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float32)


def infer_task_type(values: np.ndarray) -> str:
    """0/1-only columns are classification; anything else is regression."""
    present = values[~np.isnan(values)]
    if present.size and np.isin(present, (0.0, 1.0)).all():
        return CLASSIFICATION
    return REGRESSION


def molecule_table_from_frame(
    frame: pd.DataFrame,
    source: str,
    smiles_column: str = "smiles",
    targets: list[str] | None = None,
    task_types: dict[str, str] | str | None = None,
    id_column: str | None = None,
    require_targets: bool = True,
) -> MoleculeTable:
    """Validate columns and labels of ``frame``; every error names ``source``, the column and the row."""
    columns = [str(c) for c in frame.columns]
    if smiles_column not in columns:
        matches = [c for c in columns if c.lower() == smiles_column.lower()]
        if len(matches) != 1:
            raise DataError(f"{source}: no SMILES column {smiles_column!r}; columns are {columns}")
        smiles_column = matches[0]
    if id_column is not None and id_column not in columns:
        raise DataError(f"{source}: no id column {id_column!r}; columns are {columns}")
    if targets is None:
        targets = [c for c in columns if c not in (smiles_column, id_column)]
    missing = [t for t in targets if t not in columns]
    if missing:
        raise DataError(f"{source}: label column(s) {missing} not found; columns are {columns}")
    if require_targets and not targets:
        raise DataError(f"{source}: no label columns besides {smiles_column!r}")
    labels = np.stack([_parse_labels(frame, t, source) for t in targets], axis=1) if targets else np.zeros(
        (len(frame), 0), dtype=np.float32
    )
    types: list[str] = []
    for j, target in enumerate(targets):
        declared = task_types.get(target) if isinstance(task_types, dict) else task_types
        if declared is None:
            types.append(infer_task_type(labels[:, j]))
            continue
        if declared not in TASK_TYPES:
            raise DataError(f"{source}: task type {declared!r} for {target!r} must be one of {TASK_TYPES}")
        if declared == CLASSIFICATION:
            col = labels[:, j]
            bad = ~np.isnan(col) & ~np.isin(col, (0.0, 1.0))
            if bad.any():
                row = int(np.flatnonzero(bad)[0])
                raise DataError(
                    f"{source}: row {row + 1} (line {row + 2}), column {target!r}: classification label must be "
                    f"0 or 1, got {col[row]:g}"
                )
        types.append(declared)
    smiles = frame[smiles_column].fillna("").astype(str).tolist()
    ids = frame[id_column].astype(str).tolist() if id_column else None
    return MoleculeTable(source=source, smiles=smiles, targets=list(targets), labels=labels, task_types=types,
                         ids=ids)


def load_molecule_table(
    path: str | os.PathLike,
    smiles_column: str = "smiles",
    targets: list[str] | None = None,
    task_types: dict[str, str] | str | None = None,
    id_column: str | None = None,
    require_targets: bool = True,
) -> MoleculeTable:
    """Read ``path`` and validate it into a :class:`MoleculeTable`."""
    frame = read_table(path)
    return molecule_table_from_frame(frame, str(path), smiles_column, targets, task_types, id_column,
                                     require_targets)
