"""Read a screening library of any size in chunks: CSV/TSV/SMILES/Parquet/SDF, gzipped or not.

Only one chunk is in memory at a time. Rows are numbered from 1 in file order (data rows, header excluded), which
is how rejects and scores refer back to the file.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from gnn_drug.data.tables import _suffixes
from gnn_drug.errors import DataError


@dataclass
class LibraryChunk:
    index: int  # 0-based chunk number
    first_row: int  # 1-based row number of the first molecule
    smiles: list[str]
    ids: list[str]


def _pick_column(columns: list[str], wanted: str | None, path: Path, role: str) -> str | None:
    if wanted is None:
        return None
    if wanted in columns:
        return wanted
    matches = [c for c in columns if c.lower() == wanted.lower()]
    if len(matches) == 1:
        return matches[0]
    raise DataError(f"{path}: no {role} column {wanted!r}; columns are {columns}")


def _frames(path: Path, chunk_size: int) -> Iterator[pd.DataFrame]:
    kind = (_suffixes(path) or [""])[-1]
    if kind == ".parquet":
        import pyarrow.parquet as pq

        for batch in pq.ParquetFile(path).iter_batches(batch_size=chunk_size):
            yield batch.to_pandas().astype(str)
        return
    if kind in (".smi", ".smiles"):
        reader = pd.read_csv(path, sep=r"\s+", header=None, dtype=str, keep_default_na=False, engine="python",
                             chunksize=chunk_size, usecols=lambda c: c in (0, 1))
        for frame in reader:
            frame.columns = ["smiles", "id"][: frame.shape[1]]
            yield frame
        return
    sep = "\t" if kind in (".tsv", ".tab") else ","
    yield from pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, chunksize=chunk_size)


def _sdf_frames(path: Path, chunk_size: int, id_property: str | None) -> Iterator[pd.DataFrame]:
    from rdkit import Chem, RDLogger

    RDLogger.DisableLog("rdApp.*")
    handle = gzip.open(path, "rb") if path.suffix.lower() == ".gz" else open(path, "rb")
    with handle:
        smiles, ids = [], []
        for number, mol in enumerate(Chem.ForwardSDMolSupplier(handle), start=1):
            # an unparseable record keeps its place as an empty SMILES, so it is rejected with its row number
            smiles.append(Chem.MolToSmiles(mol) if mol is not None else "")
            name = ""
            if mol is not None:
                name = mol.GetProp(id_property) if id_property and mol.HasProp(id_property) else (
                    mol.GetProp("_Name") if mol.HasProp("_Name") else "")
            ids.append(name or f"record {number}")
            if len(smiles) == chunk_size:
                yield pd.DataFrame({"smiles": smiles, "id": ids})
                smiles, ids = [], []
        if smiles:
            yield pd.DataFrame({"smiles": smiles, "id": ids})


def count_molecules(path: str | os.PathLike) -> int | None:
    """Number of molecules, when it is cheap to know (line count of a text table, Parquet metadata, SDF record
    separators) — for the progress bar and ETA; None when the file cannot be counted."""
    path = Path(path)
    kind = (_suffixes(path) or [""])[-1]
    try:
        if kind == ".parquet":
            import pyarrow.parquet as pq

            return pq.ParquetFile(path).metadata.num_rows
        opener = gzip.open if path.suffix.lower() == ".gz" else open
        with opener(path, "rb") as handle:
            if kind in (".sdf", ".sd", ".mol"):
                return sum(1 for line in handle if line.startswith(b"$$$$"))
            lines = sum(1 for line in handle if line.strip())
        return lines if kind in (".smi", ".smiles") else max(lines - 1, 0)
    except (OSError, EOFError):
        return None


def iter_library(path: str | os.PathLike, smiles_column: str = "smiles", id_column: str | None = None,
                 chunk_size: int = 10_000) -> Iterator[LibraryChunk]:
    """Yield the library in chunks of ``chunk_size`` molecules."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: library file not found")
    is_sdf = (_suffixes(path) or [""])[-1] in (".sdf", ".sd", ".mol")
    frames = _sdf_frames(path, chunk_size, id_column) if is_sdf else _frames(path, chunk_size)
    row = 1
    try:
        for index, frame in enumerate(frames):
            columns = [str(c) for c in frame.columns]
            smi = "smiles" if is_sdf else _pick_column(columns, smiles_column, path, "SMILES")
            ident = "id" if is_sdf else _pick_column(columns, id_column, path, "id")
            smiles = frame[smi].fillna("").astype(str).tolist()
            ids = frame[ident].astype(str).tolist() if ident else [str(r) for r in range(row, row + len(frame))]
            yield LibraryChunk(index, row, smiles, ids)
            row += len(frame)
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, EOFError) as exc:
        raise DataError(f"{path}: cannot be read after row {row - 1}: {str(exc).strip()}") from None
