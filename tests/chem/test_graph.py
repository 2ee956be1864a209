"""Atom/bond graph featurisation checked against hand-derived values."""

from __future__ import annotations

import numpy as np
import pytest
from rdkit import Chem

from gnn_drug.chem import MolGraph, MolGraphFeaturizer
from gnn_drug.chem import graph as g
from gnn_drug.data.featurize import MoleculeFeaturizer
from tests.helpers import SMALL_SMILES, assert_graphs_equal

# Feature layout from the module docstring: one-hot blocks (each with a trailing 'other' slot) for element,
# total degree, formal charge, chirality tag, total H count, hybridisation; then aromatic, ring, mass / 100.
ELEMENT = 0
DEGREE = ELEMENT + len(g.ELEMENTS) + 1
CHARGE = DEGREE + len(g.DEGREES) + 1
CHIRAL = CHARGE + len(g.FORMAL_CHARGES) + 1
NUM_H = CHIRAL + len(g.CHIRAL_TAGS) + 1
HYBRID = NUM_H + len(g.NUM_HS) + 1
AROMATIC = HYBRID + len(g.HYBRIDISATIONS) + 1
RING = AROMATIC + 1
MASS = RING + 1
# Bond layout: bond type one-hot (+other), conjugated, in ring, stereo one-hot (+other).
BOND_TYPE = 0
CONJUGATED = len(g.BOND_TYPES) + 1
IN_RING = CONJUGATED + 1
STEREO = IN_RING + 1


def featurize(smiles: str) -> MolGraph:
    """Featurise RDKit's own parse (atom order as written), without standardisation."""
    return MolGraphFeaturizer()(Chem.MolFromSmiles(smiles))


def block(row: np.ndarray, start: int, length: int) -> int:
    """Index of the hot entry in a one-hot block (asserting exactly one is hot)."""
    part = row[start : start + length + 1]
    assert part.sum() == 1.0, part
    return int(np.argmax(part))


def test_feature_dimensions_match_the_documented_layout():
    # 30 elements+other, 8 degrees, 6 charges, 5 chirality tags, 6 H counts, 7 hybridisations, 3 scalars
    assert g.ATOM_FEATURE_DIM == 30 + 8 + 6 + 5 + 6 + 7 + 3 == MASS + 1 == 65
    # 5 bond types, conjugated, ring, 7 stereo classes
    assert g.BOND_FEATURE_DIM == 5 + 1 + 1 + 7 == 14


@pytest.mark.parametrize(
    ("smiles", "atoms", "bonds"),
    [("CCO", 3, 2), ("c1ccccc1", 6, 6), ("CC(=O)Oc1ccccc1C(=O)O", 13, 13), ("C", 1, 0), ("C1CC1.O", 4, 3)],
)
def test_atom_and_edge_counts(smiles, atoms, bonds):
    graph = featurize(smiles)
    assert graph.num_atoms == atoms
    assert graph.num_bonds == bonds
    assert graph.x.shape == (atoms, g.ATOM_FEATURE_DIM)
    assert graph.edge_index.shape == (2, 2 * bonds)
    assert graph.edge_attr.shape == (2 * bonds, g.BOND_FEATURE_DIM)


@pytest.mark.parametrize("smiles", SMALL_SMILES)
def test_edge_2k_plus_1_is_the_reverse_of_edge_2k(smiles):
    graph = featurize(smiles)
    ei = graph.edge_index
    np.testing.assert_array_equal(ei[:, 0::2], ei[::-1, 1::2])
    np.testing.assert_array_equal(graph.edge_attr[0::2], graph.edge_attr[1::2])
    # every RDKit bond appears exactly once as a pair
    mol = Chem.MolFromSmiles(smiles)
    expected = {frozenset((b.GetBeginAtomIdx(), b.GetEndAtomIdx())) for b in mol.GetBonds()}
    assert {frozenset(pair) for pair in ei[:, 0::2].T.tolist()} == expected


def test_benzene_atoms_are_aromatic_ring_sp2_ch():
    x = featurize("C1=CC=CC=C1").x  # Kekulé input is aromatised by sanitisation
    assert (x[:, AROMATIC] == 1).all()
    assert (x[:, RING] == 1).all()
    for row in x:
        assert block(row, ELEMENT, len(g.ELEMENTS)) == g.ELEMENTS.index(6)
        assert block(row, DEGREE, len(g.DEGREES)) == 3  # two ring neighbours + one H
        assert block(row, NUM_H, len(g.NUM_HS)) == 1
        assert block(row, HYBRID, len(g.HYBRIDISATIONS)) == 2  # SP2
    np.testing.assert_allclose(x[:, MASS], 12.011 / 100, rtol=1e-6)


def test_ethanol_is_neither_aromatic_nor_cyclic():
    x = featurize("CCO").x
    assert (x[:, AROMATIC] == 0).all()
    assert (x[:, RING] == 0).all()
    assert block(x[2], ELEMENT, len(g.ELEMENTS)) == g.ELEMENTS.index(8)


def test_methyl_carbon_has_three_hydrogens():
    x = featurize("CC(=O)O").x
    assert block(x[0], NUM_H, len(g.NUM_HS)) == 3
    assert block(x[0], DEGREE, len(g.DEGREES)) == 4  # 1 heavy neighbour + 3 H
    assert block(x[0], HYBRID, len(g.HYBRIDISATIONS)) == 3  # SP3
    assert block(x[1], NUM_H, len(g.NUM_HS)) == 0  # carbonyl carbon
    assert block(x[3], NUM_H, len(g.NUM_HS)) == 1  # hydroxyl O


def test_formal_charges_in_nitrobenzene():
    x = featurize("O=[N+]([O-])c1ccccc1").x
    charges = [g.FORMAL_CHARGES[block(row, CHARGE, len(g.FORMAL_CHARGES))] for row in x]
    assert charges == [0, +1, -1, 0, 0, 0, 0, 0, 0]


def test_ammonium_charge_hydrogens_and_degree():
    (row,) = featurize("[NH4+]").x
    assert g.FORMAL_CHARGES[block(row, CHARGE, len(g.FORMAL_CHARGES))] == 1
    assert block(row, NUM_H, len(g.NUM_HS)) == 4
    assert block(row, DEGREE, len(g.DEGREES)) == 4


def test_chirality_tag_of_a_stereocentre():
    x_ccw = featurize("C[C@H](N)O").x
    x_cw = featurize("C[C@@H](N)O").x
    # '@' is anticlockwise: CHI_TETRAHEDRAL_CCW = 2; '@@' is CHI_TETRAHEDRAL_CW = 1; others unspecified (0)
    assert [block(r, CHIRAL, len(g.CHIRAL_TAGS)) for r in x_ccw] == [0, 2, 0, 0]
    assert [block(r, CHIRAL, len(g.CHIRAL_TAGS)) for r in x_cw] == [0, 1, 0, 0]
    assert [block(r, CHIRAL, len(g.CHIRAL_TAGS)) for r in featurize("CC(N)O").x] == [0, 0, 0, 0]


def test_element_outside_the_vocabulary_goes_to_other():
    (row,) = featurize("[Xe]").x
    assert block(row, ELEMENT, len(g.ELEMENTS)) == len(g.ELEMENTS)


def test_bond_types_aromatic_double_single_triple():
    def bond_type(smiles):
        return {block(r, BOND_TYPE, len(g.BOND_TYPES)) for r in featurize(smiles).edge_attr}

    assert bond_type("c1ccccc1") == {3}  # AROMATIC
    assert bond_type("C=C") == {1}  # DOUBLE
    assert bond_type("CC") == {0}  # SINGLE
    assert bond_type("C#N") == {2}  # TRIPLE


def test_bond_conjugation_and_ring_flags():
    benzene = featurize("c1ccccc1").edge_attr
    assert (benzene[:, CONJUGATED] == 1).all() and (benzene[:, IN_RING] == 1).all()
    ethane = featurize("CC").edge_attr
    assert (ethane[:, CONJUGATED] == 0).all() and (ethane[:, IN_RING] == 0).all()


def test_bond_stereo_of_difluoroethene():
    def double_bond_stereo(smiles):
        graph = featurize(smiles)
        mol = Chem.MolFromSmiles(smiles)
        (k,) = [b.GetIdx() for b in mol.GetBonds() if b.GetBondType() == Chem.BondType.DOUBLE]
        return g.BOND_STEREO[block(graph.edge_attr[2 * k], STEREO, len(g.BOND_STEREO))]

    assert double_bond_stereo("F/C=C/F") == Chem.BondStereo.STEREOE  # trans
    assert double_bond_stereo("F/C=C\\F") == Chem.BondStereo.STEREOZ  # cis
    assert double_bond_stereo("FC=CF") == Chem.BondStereo.STEREONONE
    # the single C-F bonds carry no stereo
    graph = featurize("F/C=C/F")
    assert g.BOND_STEREO[block(graph.edge_attr[0], STEREO, len(g.BOND_STEREO))] == Chem.BondStereo.STEREONONE


@pytest.mark.parametrize("smiles", SMALL_SMILES)
def test_to_bytes_from_bytes_round_trip(smiles):
    graph = featurize(smiles)
    back = MolGraph.from_bytes(graph.to_bytes())
    assert_graphs_equal(graph, back)
    assert back.x.dtype == np.float32 and back.edge_attr.dtype == np.float32
    assert back.edge_index.dtype == np.int64
    assert back.num_atoms == graph.num_atoms and back.num_bonds == graph.num_bonds


def test_featuriser_lookup_table_does_not_leak_between_molecules():
    """The featuriser caches feature rows; a molecule's graph must not depend on what was featurised before."""
    fresh = {s: featurize(s) for s in SMALL_SMILES}
    shared = MolGraphFeaturizer()
    for smiles in reversed(SMALL_SMILES):
        assert_graphs_equal(shared(Chem.MolFromSmiles(smiles)), fresh[smiles])


@pytest.mark.parametrize(
    ("a", "b"),
    [("OCC", "CCO"), ("O[C@@H](N)C", "C[C@H](N)O"), ("N[C@@H](C)O", "C[C@H](N)O"), ("C1=CC=CC=C1O", "Oc1ccccc1")],
)
def test_standardised_features_depend_only_on_the_molecule(a, b):
    """Two spellings of one molecule give identical graphs (same canonical atom order and chirality tags)."""
    featurizer = MoleculeFeaturizer()
    smiles_a, graph_a, _ = featurizer(a)
    smiles_b, graph_b, _ = featurizer(b)
    assert smiles_a == smiles_b
    assert_graphs_equal(graph_a, graph_b)


def test_enantiomers_get_different_features():
    featurizer = MoleculeFeaturizer()
    _, left, _ = featurizer("C[C@H](N)O")
    _, right, _ = featurizer("C[C@@H](N)O")
    assert not np.array_equal(left.x, right.x)


def test_packed_keys_rebuild_exactly_the_featuriser_graphs(tox21_subset):
    """What screening workers send (int16 keys, ~12x smaller) rebuilds the same graphs in another featuriser
    instance, including odd atoms (isotopes, charges, radicals), stereo bonds and bond-less molecules."""
    import pandas as pd

    from gnn_drug.chem.graph import pack_keys

    smiles = pd.read_csv(tox21_subset)["smiles"].tolist() + [
        "[13CH3]C(=O)[O-].[Na+]", "F/C=C/F", "[NH4+]", "O", "[Cl-]", "C[C@H](N)C(=O)O", "[CH2]C", "[2H]OC"]
    mols = [m for m in (Chem.MolFromSmiles(s) for s in smiles) if m is not None]
    sender, receiver = MolGraphFeaturizer(), MolGraphFeaturizer()
    blob = pack_keys([sender.keys(m) for m in mols])
    rebuilt = receiver.unpack_graphs(blob)
    assert len(rebuilt) == len(mols)
    for mol, graph in zip(mols, rebuilt, strict=True):
        assert_graphs_equal(graph, MolGraphFeaturizer()(mol))
    assert len(blob) < sum(len(MolGraphFeaturizer()(m).to_bytes()) for m in mols) / 5
    assert receiver.unpack_graphs(pack_keys([])) == []


def test_key_rows_outside_the_packed_layout_take_the_exact_path():
    featurizer = MolGraphFeaturizer()
    keys = np.array([[6, 4, 0, 0, 3, 4, 0, 0, 0], [6, 4, 0, 0, 3, 4, 0, 0, 2000], [6, 4, 0, 0, 3, 4, 0, 0, 0]],
                    dtype=np.int16)  # an isotope beyond 10 bits
    rows = featurizer._rows_of(keys, featurizer._atom_row, g._ATOM_KEY_LAYOUT)
    assert rows[0] == rows[2] != rows[1]
    assert featurizer._atom_table[rows[1]][MASS] == pytest.approx(20.0)  # mass = isotope / 100
