"""Morgan (ECFP-like) fingerprints as dense vectors, bit or count, for concatenation before a model head."""

from __future__ import annotations

import numpy as np
from rdkit import Chem
from rdkit.Chem import rdFingerprintGenerator


class MorganFeaturizer:
    """Callable: ``Mol`` -> float32 vector of length ``n_bits``.

    Counts are log1p-scaled so that frequent substructures do not dominate the vector.
    """

    def __init__(self, radius: int = 2, n_bits: int = 2048, counts: bool = True) -> None:
        self.radius = radius
        self.n_bits = n_bits
        self.counts = counts
        self._generator = None

    @property
    def version(self) -> str:
        return f"morgan-v1-r{self.radius}-n{self.n_bits}-{'count' if self.counts else 'bit'}"

    @property
    def dim(self) -> int:
        return self.n_bits

    def __call__(self, mol: Chem.Mol) -> np.ndarray:
        if self._generator is None:
            self._generator = rdFingerprintGenerator.GetMorganGenerator(radius=self.radius, fpSize=self.n_bits)
        if self.counts:
            return np.log1p(self._generator.GetCountFingerprintAsNumPy(mol).astype(np.float32))
        return self._generator.GetFingerprintAsNumPy(mol).astype(np.float32)

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_generator": None}
