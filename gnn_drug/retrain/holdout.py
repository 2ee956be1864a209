"""Which rows of the job's data are held out to compare champion and challenger.

The holdout must be data neither model trained on. ``scaffold`` hashes each molecule's Bemis–Murcko scaffold
(of the standardised parent; acyclic molecules by their canonical SMILES) into [0, 1) and holds out those below
``fraction``: the decision depends only on the molecule, so it is the same in every run, and growing data never
moves a training molecule of the champion into the holdout.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np

from gnn_drug.chem import Standardizer
from gnn_drug.retrain.job import HoldoutPolicy
from gnn_drug.tasks.molecule_property import parent_scaffold


def _unit_hash(key: str, salt: str) -> float:
    digest = hashlib.sha256(f"{salt}\x00{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def scaffold_holdout(smiles: list[str], canonical: list[str | None], fraction: float, salt: str = "") -> np.ndarray:
    """Boolean mask over rows; invalid molecules (canonical None) are never held out (they are skipped anyway)."""
    standardizer = Standardizer()
    mask = np.zeros(len(smiles), dtype=bool)
    for i, (raw, canon) in enumerate(zip(smiles, canonical, strict=True)):
        if canon is None:
            continue
        key = parent_scaffold(raw, canon, standardizer) or canon
        mask[i] = _unit_hash(key, salt) < fraction
    return mask


def newest_holdout(n_rows: int, fraction: float) -> np.ndarray:
    """The last ``fraction`` of rows (files are read oldest first, rows in file order)."""
    mask = np.zeros(n_rows, dtype=bool)
    mask[n_rows - math.ceil(fraction * n_rows):] = True
    return mask


def holdout_mask(policy: HoldoutPolicy, smiles: list[str], canonical: list[str | None]) -> np.ndarray:
    if policy.policy == "scaffold":
        return scaffold_holdout(smiles, canonical, policy.fraction, policy.salt)
    if policy.policy == "newest":
        return newest_holdout(len(smiles), policy.fraction)
    raise ValueError(f"holdout policy {policy.policy!r} does not select rows of the job's data")
