"""Structure similarity: Morgan bit fingerprints (radius 2, 2048 bits, ECFP4-like) and Tanimoto nearest
neighbours within a set of molecules, e.g. to join similar compounds in a knowledge graph."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from rdkit import Chem, DataStructs
from rdkit.Chem import rdFingerprintGenerator

_GENERATOR = None


def morgan_fingerprint(mol: Chem.Mol) -> DataStructs.ExplicitBitVect:
    """Morgan bits, radius 2, 2048 bits."""
    global _GENERATOR
    if _GENERATOR is None:
        _GENERATOR = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    return _GENERATOR.GetFingerprint(mol)


def tanimoto_neighbours(fingerprints: Sequence[DataStructs.ExplicitBitVect | None], top_k: int,
                        min_similarity: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(i, j, similarity) of each molecule's ``top_k`` most similar others (ties by index), at least
    ``min_similarity``; ``None`` entries (no structure) have no neighbours. Memory O(n * top_k); time O(n^2)."""
    present = [k for k, fp in enumerate(fingerprints) if fp is not None]
    pool = [fingerprints[k] for k in present]
    rows, cols, sims = [], [], []
    for a, k in enumerate(present):
        similarity = np.asarray(DataStructs.BulkTanimotoSimilarity(pool[a], pool))
        similarity[a] = -1.0
        order = np.argsort(-similarity, kind="stable")[:top_k]
        order = order[similarity[order] >= max(min_similarity, 1e-12)]
        rows += [k] * len(order)
        cols += [present[b] for b in order]
        sims += similarity[order].tolist()
    return np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64), np.asarray(sims, dtype=np.float64)
