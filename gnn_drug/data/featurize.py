"""Turn a list of SMILES into model-ready features, in parallel, with an on-disk cache and a rejects list.

A :class:`MoleculeFeaturizer` = standardiser + graph featuriser + optional vector featurisers (fingerprints,
descriptors). :func:`featurize_smiles` runs it over chunks in worker processes, never stops on a bad molecule
(each becomes a :class:`Reject` with RDKit's reason), and caches results in SQLite keyed by (canonical SMILES,
featuriser version) — plus the input string, so a re-run over the same file skips RDKit entirely.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gnn_drug.chem import (
    InvalidMoleculeError,
    MolGraph,
    MolGraphFeaturizer,
    MorganFeaturizer,
    RDKit2DFeaturizer,
    Standardizer,
)
from gnn_drug.chem.graph import pack_keys

VECTOR_FEATURIZERS: dict[str, Callable[[], object]] = {
    "morgan": lambda: MorganFeaturizer(counts=False),
    "morgan_count": lambda: MorganFeaturizer(counts=True),
    "rdkit2d": RDKit2DFeaturizer,
}


@dataclass
class Reject:
    """A molecule that could not be used: ``row`` is its 0-based position in the input."""

    row: int
    smiles: str
    reason: str


@dataclass
class MoleculeFeaturizer:
    """Standardise, then featurise as a graph plus optional fixed-length vectors (concatenated)."""

    standardizer: Standardizer = field(default_factory=Standardizer)
    extra_features: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        unknown = [n for n in self.extra_features if n not in VECTOR_FEATURIZERS]
        if unknown:
            raise ValueError(f"unknown extra features {unknown}; choose from {sorted(VECTOR_FEATURIZERS)}")
        self.extra_features = tuple(self.extra_features)
        self.graph = MolGraphFeaturizer()
        self.vectors = [VECTOR_FEATURIZERS[n]() for n in self.extra_features]

    @property
    def version(self) -> str:
        parts = [self.standardizer.version, self.graph.version, *(v.version for v in self.vectors)]
        return "+".join(parts)

    @property
    def extra_dim(self) -> int:
        return sum(v.dim for v in self.vectors)

    @property
    def extra_names(self) -> list[str]:
        names: list[str] = []
        for name, vec in zip(self.extra_features, self.vectors, strict=True):
            names += list(getattr(vec, "names", [f"{name}_{i}" for i in range(vec.dim)]))
        return names

    def __call__(self, smiles: str) -> tuple[str, MolGraph, np.ndarray]:
        """Return (canonical SMILES, graph, extra vector); raises :class:`InvalidMoleculeError`."""
        canonical, _, graph, extra = self.featurize_with_mol(smiles)
        return canonical, graph, extra

    def keys_with_mol(self, smiles: str):
        """(canonical SMILES, standardised molecule, graph keys (see ``MolGraphFeaturizer.keys``), extra vector):
        the compact form screening workers send to the process that runs the models."""
        std = self.standardizer(smiles)
        keys = self.graph.keys(std.mol)
        if self.vectors:
            extra = np.concatenate([v(std.mol) for v in self.vectors]).astype(np.float32)
        else:
            extra = np.zeros(0, dtype=np.float32)
        return std.smiles, std.mol, keys, extra

    def featurize_with_mol(self, smiles: str):
        """(canonical SMILES, standardised RDKit molecule, graph, extra vector), for callers that also need the
        molecule (screening computes properties on it)."""
        std = self.standardizer(smiles)
        graph = self.graph(std.mol)
        if self.vectors:
            extra = np.concatenate([v(std.mol) for v in self.vectors]).astype(np.float32)
        else:
            extra = np.zeros(0, dtype=np.float32)
        return std.smiles, std.mol, graph, extra


@dataclass
class FeaturizedMolecules:
    """Features of the molecules that succeeded, aligned with ``rows`` (their positions in the input)."""

    rows: np.ndarray
    smiles: list[str]
    graphs: list[MolGraph]
    extras: np.ndarray
    rejects: list[Reject]

    def __len__(self) -> int:
        return len(self.rows)


# ---- worker side -------------------------------------------------------------------------------------------
_WORKER_FEATURIZER: MoleculeFeaturizer | None = None


def _init_worker(featurizer: MoleculeFeaturizer) -> None:
    global _WORKER_FEATURIZER
    _WORKER_FEATURIZER = featurizer


@dataclass
class FeaturizedChunk:
    """One chunk's worker output, compact: the valid molecules' rows and canonical SMILES, their graphs as packed
    int16 keys (:func:`~gnn_drug.chem.graph.pack_keys`, ~12x smaller than float features, so the parent is not
    the bottleneck when it collects them), their extra vectors, and the rejects as (row, reason)."""

    rows: list[int]
    canonical: list[str]
    graph_keys: bytes
    extras: np.ndarray
    rejects: list[tuple[int, str]]


def _featurize_chunk(chunk: list[tuple[int, str]], featurizer: MoleculeFeaturizer | None = None) -> FeaturizedChunk:
    featurizer = featurizer or _WORKER_FEATURIZER
    rows, canonical, keys, extras, rejects = [], [], [], [], []
    for row, smiles in chunk:
        try:
            canon, _, graph_keys, extra = featurizer.keys_with_mol(smiles)
        except InvalidMoleculeError as exc:
            rejects.append((row, exc.reason))
            continue
        rows.append(row)
        canonical.append(canon)
        keys.append(graph_keys)
        extras.append(extra)
    extra_matrix = np.stack(extras) if extras else np.zeros((0, featurizer.extra_dim), np.float32)
    return FeaturizedChunk(rows, canonical, pack_keys(keys), extra_matrix, rejects)


# ---- cache ------------------------------------------------------------------------------------------------
class FeatureCache:
    """SQLite cache of featurised molecules for one featuriser version (safe: raw arrays, no pickle)."""

    def __init__(self, cache_dir: Path, version: str) -> None:
        cache_dir.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha1(version.encode()).hexdigest()[:16]
        self.path = cache_dir / f"features-{digest}.sqlite"
        self.conn = sqlite3.connect(self.path, timeout=60)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        self.conn.execute("CREATE TABLE IF NOT EXISTS inputs (raw TEXT PRIMARY KEY, canonical TEXT NOT NULL)")
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS features (canonical TEXT PRIMARY KEY, graph BLOB NOT NULL, extra BLOB)"
        )
        self.conn.execute("INSERT OR IGNORE INTO meta VALUES ('version', ?)", (version,))
        self.conn.commit()

    def lookup(self, raw: Sequence[str]) -> dict[str, tuple[str, bytes, bytes]]:
        found: dict[str, tuple[str, bytes, bytes]] = {}
        unique = list(dict.fromkeys(raw))
        for start in range(0, len(unique), 900):
            part = unique[start : start + 900]
            marks = ",".join("?" * len(part))
            query = (
                "SELECT i.raw, f.canonical, f.graph, f.extra FROM inputs i JOIN features f "
                f"ON i.canonical = f.canonical WHERE i.raw IN ({marks})"
            )
            for raw_smiles, canonical, graph, extra in self.conn.execute(query, part):
                found[raw_smiles] = (canonical, graph, extra)
        return found

    def store(self, entries: list[tuple[str, str, bytes, bytes]]) -> None:
        with self.conn:
            self.conn.executemany("INSERT OR REPLACE INTO inputs VALUES (?, ?)", [(r, c) for r, c, _, _ in entries])
            self.conn.executemany(
                "INSERT OR REPLACE INTO features VALUES (?, ?, ?)", [(c, g, e) for _, c, g, e in entries]
            )

    def close(self) -> None:
        self.conn.close()


# ---- driver -----------------------------------------------------------------------------------------------
def featurize_smiles(
    smiles: Sequence[str],
    featurizer: MoleculeFeaturizer,
    n_workers: int = 1,
    chunk_size: int = 1000,
    cache_dir: str | os.PathLike | None = None,
    progress: Callable[[int], None] | None = None,
) -> FeaturizedMolecules:
    """Featurise ``smiles`` (in input order); bad molecules become rejects, never exceptions."""
    smiles = list(smiles)
    cache = FeatureCache(Path(cache_dir), featurizer.version) if cache_dir is not None else None
    found: dict[int, tuple[str, MolGraph, np.ndarray]] = {}
    reasons: dict[int, str] = {}
    todo: list[tuple[int, str]] = []
    hits = cache.lookup([s.strip() if isinstance(s, str) else "" for s in smiles]) if cache else {}
    for row, raw in enumerate(smiles):
        key = raw.strip() if isinstance(raw, str) else ""
        hit = hits.get(key)
        if hit is not None:
            canonical, graph, extra = hit
            found[row] = (canonical, MolGraph.from_bytes(graph), np.frombuffer(extra, dtype=np.float32))
        else:
            todo.append((row, raw if isinstance(raw, str) else ""))
    if progress and found:
        progress(len(found))
    chunks = [todo[i : i + chunk_size] for i in range(0, len(todo), chunk_size)]
    new_entries: list[tuple[str, str, bytes, bytes]] = []

    def absorb(result: FeaturizedChunk) -> None:
        graphs = featurizer.graph.unpack_graphs(result.graph_keys) if result.rows else []
        for row, canonical, graph, extra in zip(result.rows, result.canonical, graphs, result.extras, strict=True):
            found[row] = (canonical, graph, extra)
            if cache is not None:
                new_entries.append((smiles[row].strip(), canonical, graph.to_bytes(), extra.tobytes()))
        reasons.update(result.rejects)
        if progress:
            progress(len(result.rows) + len(result.rejects))

    if n_workers <= 1 or len(todo) < 2 * chunk_size:
        for chunk in chunks:
            absorb(_featurize_chunk(chunk, featurizer))
    else:
        context = multiprocessing.get_context("forkserver")
        with ProcessPoolExecutor(n_workers, mp_context=context, initializer=_init_worker,
                                 initargs=(featurizer,)) as pool:
            for chunk_result in pool.map(_featurize_chunk, chunks):
                absorb(chunk_result)
    if cache is not None:
        if new_entries:
            cache.store(new_entries)
        cache.close()

    rows = sorted(found)
    rejects = [Reject(row=row, smiles=str(smiles[row]), reason=reasons[row]) for row in sorted(reasons)]
    canon = [found[row][0] for row in rows]
    graphs = [found[row][1] for row in rows]
    extras = [found[row][2] for row in rows]
    extra_matrix = np.stack(extras) if extras and featurizer.extra_dim else np.zeros((len(rows), 0), np.float32)
    return FeaturizedMolecules(
        rows=np.asarray(rows, dtype=np.int64), smiles=canon, graphs=graphs, extras=extra_matrix, rejects=rejects
    )
