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
# (offset, bits) of each atom / bond key field when packed into one integer: atomic number, degree, charge (+32),
# chiral tag, H count, hybridisation, aromatic, in ring, isotope; bond type, conjugated, in ring, stereo
_ATOM_KEY_LAYOUT = ((0, 8), (0, 5), (32, 6), (0, 4), (0, 5), (0, 4), (0, 1), (0, 1), (0, 10))
_BOND_KEY_LAYOUT = ((0, 6), (0, 1), (0, 1), (0, 4))


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
        self._codes: dict = {}

    @staticmethod
    def atom_features(key: tuple) -> list[float]:
        atomic_num, degree, charge, chiral, num_hs, hybrid, aromatic, in_ring, isotope = key
        hybrid = Chem.HybridizationType.values.get(int(hybrid), hybrid)
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
        bond_type = Chem.BondType.values.get(int(bond_type), bond_type)
        stereo = Chem.BondStereo.values.get(int(stereo), stereo)
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

    @staticmethod
    def _read(mol: Chem.Mol) -> tuple[list[tuple], list[int], list[tuple]]:
        """What the features are a function of: per atom and per bond a tuple of RDKit values (ints), and the
        bond ends."""
        atoms = []
        for i in range(mol.GetNumAtoms()):  # index access avoids RDKit's slow Python-level atom sequence
            a = mol.GetAtomWithIdx(i)
            atoms.append((a.GetAtomicNum(), a.GetTotalDegree(), a.GetFormalCharge(), int(a.GetChiralTag()),
                          a.GetTotalNumHs(), int(a.GetHybridization()), int(a.GetIsAromatic()), int(a.IsInRing()),
                          a.GetIsotope()))
        ends: list[int] = []
        bonds = []
        for i in range(mol.GetNumBonds()):
            b = mol.GetBondWithIdx(i)
            ends += (b.GetBeginAtomIdx(), b.GetEndAtomIdx())
            bonds.append((int(b.GetBondType()), int(b.GetIsConjugated()), int(b.IsInRing()), int(b.GetStereo())))
        return atoms, ends, bonds

    def _tables(self) -> None:
        if len(self._atom_table) != len(self._atom_array):
            self._atom_array = np.asarray(self._atom_table, dtype=np.float32)
        if len(self._bond_table) != len(self._bond_array):
            self._bond_array = np.asarray(self._bond_table, dtype=np.float32)

    @staticmethod
    def _edge_index(ends: np.ndarray) -> np.ndarray:
        """Bond ends [m, 2] -> directed edges [2, 2m], edge 2k = u->v and 2k+1 = v->u."""
        pairs = np.asarray(ends, dtype=np.int64).reshape(-1, 2)
        return np.stack([pairs, pairs[:, ::-1]], axis=1).reshape(-1, 2).T.copy()

    def __call__(self, mol: Chem.Mol) -> MolGraph:
        atoms, ends, bonds = self._read(mol)
        atom_rows = [self._atom_row(key) for key in atoms]
        bond_rows = [self._bond_row(key) for key in bonds for _ in (0, 1)]
        self._tables()
        if bonds:
            edge_index, edge_attr = self._edge_index(np.asarray(ends)), self._bond_array[bond_rows]
        else:
            edge_index = np.zeros((2, 0), dtype=np.int64)
            edge_attr = np.zeros((0, BOND_FEATURE_DIM), dtype=np.float32)
        return MolGraph(x=self._atom_array[atom_rows], edge_index=edge_index, edge_attr=edge_attr)

    def keys(self, mol: Chem.Mol) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The molecule's compact form: atom keys [n, 9], bond ends [m, 2] and bond keys [m, 4], int16 — ~12x
        smaller than the graph's float features; :func:`pack_keys` / :meth:`unpack_graphs` carry many of them
        between processes (what screening workers send)."""
        atoms, ends, bonds = self._read(mol)
        return (np.asarray(atoms, dtype=np.int16).reshape(-1, 9), np.asarray(ends, dtype=np.int16).reshape(-1, 2),
                np.asarray(bonds, dtype=np.int16).reshape(-1, 4))

    def unpack_graphs(self, blob: bytes) -> list[MolGraph]:
        """:func:`pack_keys` output -> the molecules' graphs, identical to calling the featuriser on each; the
        feature lookups are vectorised over all atoms (and bonds) of the pack."""
        n = int(np.frombuffer(blob[:8], dtype=np.int64)[0])
        sizes = np.frombuffer(blob, dtype=np.int32, count=2 * n, offset=8).reshape(2, n)
        n_atoms, n_bonds = sizes[0].astype(np.int64), sizes[1].astype(np.int64)
        total_a, total_b = int(n_atoms.sum()), int(n_bonds.sum())
        body = np.frombuffer(blob, dtype=np.int16, offset=8 + 8 * n)
        atoms = body[: 9 * total_a].reshape(total_a, 9)
        ends = body[9 * total_a : 9 * total_a + 2 * total_b].reshape(total_b, 2).astype(np.int64)
        bonds = body[9 * total_a + 2 * total_b : 9 * total_a + 6 * total_b].reshape(total_b, 4)
        atom_rows = self._rows_of(atoms, self._atom_row, _ATOM_KEY_LAYOUT)
        bond_rows = self._rows_of(bonds, self._bond_row, _BOND_KEY_LAYOUT)
        self._tables()
        x_all = self._atom_array[atom_rows]
        e_all = np.repeat(self._bond_array[bond_rows], 2, axis=0)
        edges_all = self._edge_index(ends)  # [2, 2 * total_b], per-molecule atom numbering
        a_start = np.concatenate([[0], np.cumsum(n_atoms)])
        b_start = 2 * np.concatenate([[0], np.cumsum(n_bonds)])
        return [MolGraph(x=x_all[a_start[k] : a_start[k + 1]], edge_index=edges_all[:, b_start[k] : b_start[k + 1]],
                         edge_attr=e_all[b_start[k] : b_start[k + 1]]) for k in range(n)]

    def _rows_of(self, keys: np.ndarray, row_of, layout: tuple[tuple[int, int], ...]) -> np.ndarray:
        """Feature-table rows of key rows. A key row packs exactly into one integer (``layout``: per field its
        offset and bit width); codes seen before are found by binary search, new ones looked up once. Rows with
        a field outside its width take the slower exact path."""
        if len(keys) == 0:
            return np.zeros(0, dtype=np.int64)
        codes = np.zeros(len(keys), dtype=np.int64)
        fits = np.ones(len(keys), dtype=bool)
        for j, (offset, width) in enumerate(layout):
            field = keys[:, j].astype(np.int64) + offset
            fits &= (field >= 0) & (field < (1 << width))
            codes = (codes << width) | (field & ((1 << width) - 1))
        if not fits.all():
            unique, inverse = np.unique(keys, axis=0, return_inverse=True)
            rows = np.array([row_of(tuple(int(v) for v in key)) for key in unique], dtype=np.int64)
            return rows[inverse.ravel()]
        exact, sorted_codes, sorted_rows = self._codes.get(row_of, ({}, np.zeros(0, np.int64), np.zeros(0, np.int64)))
        pos = np.minimum(np.searchsorted(sorted_codes, codes), max(len(sorted_codes) - 1, 0))
        hit = sorted_codes[pos] == codes if len(sorted_codes) else np.zeros(len(codes), dtype=bool)
        if not hit.all():
            new_codes, first = np.unique(codes[~hit], return_index=True)
            for code, key in zip(new_codes.tolist(), keys[~hit][first], strict=True):
                exact[code] = row_of(tuple(int(v) for v in key))
            sorted_codes = np.array(sorted(exact), dtype=np.int64)
            sorted_rows = np.array([exact[c] for c in sorted_codes.tolist()], dtype=np.int64)
            self._codes[row_of] = (exact, sorted_codes, sorted_rows)
            pos = np.searchsorted(sorted_codes, codes)
        return sorted_rows[pos]


def pack_keys(keys: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> bytes:
    """Many molecules' :meth:`MolGraphFeaturizer.keys` as one buffer (no pickle): count, atom and bond counts,
    then all atom keys, all bond ends, all bond keys."""
    n = len(keys)
    sizes = np.array([[len(a) for a, _, _ in keys], [len(b) for _, _, b in keys]], dtype=np.int32).reshape(2, n)
    parts = [np.array([n], dtype=np.int64).tobytes(), sizes.tobytes()]
    for column in range(3):
        arrays = [k[column] for k in keys]
        parts.append(np.concatenate(arrays).astype(np.int16).tobytes() if arrays else b"")
    return b"".join(parts)
