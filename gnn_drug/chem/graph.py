"""Atom/bond graph featurisation: RDKit molecule -> :class:`MolGraph` (plain numpy arrays, no torch).

Atom features (one-hot unless noted): element, total degree, formal charge, chirality tag, total H count,
hybridisation, aromatic flag, ring flag, and atomic mass / 100 (isotope mass when given). Bond features: bond type,
conjugated, in ring, stereo. Each directed edge is stored next to its reverse (edge ``2k`` is u->v, ``2k+1`` is
v->u), so the reverse of edge ``i`` is ``i ^ 1`` — what directed bond message passing (D-MPNN) needs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from rdkit import Chem

ELEMENTS = (1, 3, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15, 16, 17, 19, 20, 25, 26, 27, 29, 30, 33, 34, 35, 50, 53, 78, 79, 80)
DEGREES = (0, 1, 2, 3, 4, 5, 6)
FORMAL_CHARGES = (-2, -1, 0, 1, 2)
CHIRAL_TAGS = (0, 1, 2, 3)
NUM_HS = (0, 1, 2, 3, 4)
HYBRIDISATIONS = (
    Chem.HybridizationType.S,
    Chem.HybridizationType.SP,
    Chem.HybridizationType.SP2,
    Chem.HybridizationType.SP3,
    Chem.HybridizationType.SP3D,
    Chem.HybridizationType.SP3D2,
)
BOND_TYPES = (
    Chem.BondType.SINGLE,
    Chem.BondType.DOUBLE,
    Chem.BondType.TRIPLE,
    Chem.BondType.AROMATIC,
)
BOND_STEREO = (
    Chem.BondStereo.STEREONONE,
    Chem.BondStereo.STEREOANY,
    Chem.BondStereo.STEREOZ,
    Chem.BondStereo.STEREOE,
    Chem.BondStereo.STEREOCIS,
    Chem.BondStereo.STEREOTRANS,
)


_PERIODIC_TABLE = Chem.GetPeriodicTable()


def _one_hot(value, choices: tuple) -> list[float]:
    """One-hot over ``choices`` plus a final 'other' slot."""
    vec = [0.0] * (len(choices) + 1)
    try:
        vec[choices.index(value)] = 1.0
    except ValueError:
        vec[-1] = 1.0
    return vec


ATOM_FEATURE_DIM = (
    sum(len(c) + 1 for c in (ELEMENTS, DEGREES, FORMAL_CHARGES, CHIRAL_TAGS, NUM_HS, HYBRIDISATIONS)) + 3
)
BOND_FEATURE_DIM = len(BOND_TYPES) + 1 + 2 + len(BOND_STEREO) + 1


@dataclass(frozen=True)
class MolGraph:
    """A molecule as arrays: ``x`` [atoms, ATOM_FEATURE_DIM], ``edge_index`` [2, 2*bonds], ``edge_attr``."""

    x: np.ndarray
    edge_index: np.ndarray
    edge_attr: np.ndarray

    @property
    def num_atoms(self) -> int:
        return int(self.x.shape[0])

    @property
    def num_bonds(self) -> int:
        return int(self.edge_index.shape[1] // 2)

    def to_bytes(self) -> bytes:
        """Compact, pickle-free serialisation used by the on-disk feature cache."""
        header = np.array([self.x.shape[0], self.edge_index.shape[1]], dtype=np.int64).tobytes()
        return (
            header
            + self.x.astype(np.float32).tobytes()
            + self.edge_index.astype(np.int32).tobytes()
            + self.edge_attr.astype(np.float32).tobytes()
        )

    @classmethod
    def from_bytes(cls, blob: bytes) -> MolGraph:
        n_atoms, n_edges = np.frombuffer(blob[:16], dtype=np.int64)
        offset = 16
        x = np.frombuffer(blob, dtype=np.float32, count=n_atoms * ATOM_FEATURE_DIM, offset=offset)
        offset += x.nbytes
        ei = np.frombuffer(blob, dtype=np.int32, count=2 * n_edges, offset=offset)
        offset += ei.nbytes
        ea = np.frombuffer(blob, dtype=np.float32, count=n_edges * BOND_FEATURE_DIM, offset=offset)
        return cls(
            x=x.reshape(n_atoms, ATOM_FEATURE_DIM),
            edge_index=ei.reshape(2, n_edges).astype(np.int64),
            edge_attr=ea.reshape(n_edges, BOND_FEATURE_DIM),
        )


class MolGraphFeaturizer:
    """Callable: RDKit ``Mol`` -> :class:`MolGraph`.

    Distinct atom (bond) feature tuples are few, so each one's vector is built once and then looked up;
    this keeps featurisation close to the cost of reading the atoms from RDKit.
    """

    version = "graph-v2"
    atom_dim = ATOM_FEATURE_DIM
    bond_dim = BOND_FEATURE_DIM

    def __init__(self) -> None:
        self._atom_rows: dict[tuple, int] = {}
        self._atom_table: list[list[float]] = []
        self._bond_rows: dict[tuple, int] = {}
        self._bond_table: list[list[float]] = []
        self._atom_array = np.zeros((0, ATOM_FEATURE_DIM), dtype=np.float32)
        self._bond_array = np.zeros((0, BOND_FEATURE_DIM), dtype=np.float32)

    @staticmethod
    def atom_features(key: tuple) -> list[float]:
        atomic_num, degree, charge, chiral, num_hs, hybrid, aromatic, in_ring, isotope = key
        mass = isotope if isotope else _PERIODIC_TABLE.GetAtomicWeight(atomic_num)
        return (
            _one_hot(atomic_num, ELEMENTS)
            + _one_hot(degree, DEGREES)
            + _one_hot(charge, FORMAL_CHARGES)
            + _one_hot(int(chiral), CHIRAL_TAGS)
            + _one_hot(num_hs, NUM_HS)
            + _one_hot(hybrid, HYBRIDISATIONS)
            + [float(aromatic), float(in_ring), mass / 100.0]
        )

    @staticmethod
    def bond_features(key: tuple) -> list[float]:
        bond_type, conjugated, in_ring, stereo = key
        return (
            _one_hot(bond_type, BOND_TYPES)
            + [float(conjugated), float(in_ring)]
            + _one_hot(stereo, BOND_STEREO)
        )

    def _atom_row(self, key: tuple) -> int:
        row = self._atom_rows.get(key)
        if row is None:
            row = self._atom_rows[key] = len(self._atom_table)
            self._atom_table.append(self.atom_features(key))
        return row

    def _bond_row(self, key: tuple) -> int:
        row = self._bond_rows.get(key)
        if row is None:
            row = self._bond_rows[key] = len(self._bond_table)
            self._bond_table.append(self.bond_features(key))
        return row

    def __call__(self, mol: Chem.Mol) -> MolGraph:
        atom_rows = []
        for i in range(mol.GetNumAtoms()):  # index access avoids RDKit's slow Python-level atom sequence
            a = mol.GetAtomWithIdx(i)
            atom_rows.append(
                self._atom_row(
                    (
                        a.GetAtomicNum(),
                        a.GetTotalDegree(),
                        a.GetFormalCharge(),
                        a.GetChiralTag(),
                        a.GetTotalNumHs(),
                        a.GetHybridization(),
                        a.GetIsAromatic(),
                        a.IsInRing(),
                        a.GetIsotope(),
                    )
                )
            )
        ends: list[int] = []
        bond_rows: list[int] = []
        for i in range(mol.GetNumBonds()):
            b = mol.GetBondWithIdx(i)
            u, v = b.GetBeginAtomIdx(), b.GetEndAtomIdx()
            ends += (u, v, v, u)
            row = self._bond_row((b.GetBondType(), b.GetIsConjugated(), b.IsInRing(), b.GetStereo()))
            bond_rows += (row, row)
        if len(self._atom_table) != len(self._atom_array):
            self._atom_array = np.asarray(self._atom_table, dtype=np.float32)
        if len(self._bond_table) != len(self._bond_array):
            self._bond_array = np.asarray(self._bond_table, dtype=np.float32)
        if ends:
            edge_index = np.asarray(ends, dtype=np.int64).reshape(-1, 2).T.copy()
            edge_attr = self._bond_array[bond_rows]
        else:
            edge_index = np.zeros((2, 0), dtype=np.int64)
            edge_attr = np.zeros((0, BOND_FEATURE_DIM), dtype=np.float32)
        return MolGraph(x=self._atom_array[atom_rows], edge_index=edge_index, edge_attr=edge_attr)
