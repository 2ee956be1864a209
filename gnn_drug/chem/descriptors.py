"""RDKit 2D descriptors (the ~200 of ``Descriptors.descList``) as one float vector per molecule.

Raw values span many orders of magnitude; models scale them with statistics fitted on the training split
(see :class:`gnn_drug.data.features.FeatureScaler`). Values RDKit cannot compute become NaN, later imputed.
"""

from __future__ import annotations

import numpy as np
from rdkit import Chem
from rdkit.Chem import Descriptors

DESCRIPTOR_NAMES: tuple[str, ...] = tuple(name for name, _ in Descriptors.descList)
_FUNCTIONS = tuple(fn for _, fn in Descriptors.descList)


class RDKit2DFeaturizer:
    """Callable: ``Mol`` -> float32 vector of the RDKit 2D descriptors (NaN where undefined)."""

    version = f"rdkit2d-v1-{len(DESCRIPTOR_NAMES)}"
    names = DESCRIPTOR_NAMES

    @property
    def dim(self) -> int:
        return len(DESCRIPTOR_NAMES)

    def __call__(self, mol: Chem.Mol) -> np.ndarray:
        values = np.empty(len(_FUNCTIONS), dtype=np.float64)
        for i, fn in enumerate(_FUNCTIONS):
            try:
                values[i] = fn(mol)
            except Exception:  # a descriptor undefined for this molecule
                values[i] = np.nan
        values[~np.isfinite(values)] = np.nan
        with np.errstate(over="ignore"):
            return np.clip(values, -1e30, 1e30).astype(np.float32)
