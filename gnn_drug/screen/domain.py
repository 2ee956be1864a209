"""Applicability domain: how close is a candidate to the molecules a model was trained on?

The nearest-neighbour Tanimoto similarity on Morgan fingerprints (radius 2, 2048 bits) between a candidate and the
model's training set; below ``threshold`` (0.35 by default, a common choice for ECFP4) the prediction is an
extrapolation and is flagged.
"""

from __future__ import annotations

from collections.abc import Sequence

from rdkit import Chem, DataStructs

from gnn_drug.chem.similarity import morgan_fingerprint

__all__ = ["DEFAULT_THRESHOLD", "TrainingSetNeighbours", "morgan_fingerprint"]

DEFAULT_THRESHOLD = 0.35


class TrainingSetNeighbours:
    """Morgan fingerprints of a training set and nearest-neighbour queries against it."""

    def __init__(self, smiles: Sequence[str]) -> None:
        self.smiles: list[str] = []
        self.fingerprints = []
        for s in smiles:
            mol = Chem.MolFromSmiles(s)
            if mol is not None:
                self.smiles.append(s)
                self.fingerprints.append(morgan_fingerprint(mol))

    def __len__(self) -> int:
        return len(self.fingerprints)

    def nearest(self, mol: Chem.Mol) -> tuple[float, str]:
        """(max Tanimoto similarity, the SMILES of that training molecule)."""
        if not self.fingerprints:
            return float("nan"), ""
        sims = DataStructs.BulkTanimotoSimilarity(morgan_fingerprint(mol), self.fingerprints)
        best = max(range(len(sims)), key=sims.__getitem__)
        return float(sims[best]), self.smiles[best]
