"""Fixed-length vector featurisers (Morgan fingerprints, RDKit 2D descriptors) and Murcko scaffolds."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from rdkit import Chem
from rdkit.Chem import Descriptors

from gnn_drug.chem import MorganFeaturizer, RDKit2DFeaturizer, murcko_scaffold

ASPIRIN = Chem.MolFromSmiles("CC(=O)Oc1ccccc1C(=O)O")


@pytest.mark.parametrize(("radius", "n_bits"), [(2, 2048), (3, 1024), (1, 64)])
def test_morgan_dimensions(radius, n_bits):
    for counts in (False, True):
        featurizer = MorganFeaturizer(radius=radius, n_bits=n_bits, counts=counts)
        vec = featurizer(ASPIRIN)
        assert featurizer.dim == n_bits
        assert vec.shape == (n_bits,) and vec.dtype == np.float32


def test_morgan_bits_are_binary_and_deterministic():
    featurizer = MorganFeaturizer(counts=False)
    a, b = featurizer(ASPIRIN), MorganFeaturizer(counts=False)(Chem.MolFromSmiles("OC(=O)c1ccccc1OC(C)=O"))
    assert set(np.unique(a)) <= {0.0, 1.0}
    assert a.sum() > 10
    np.testing.assert_array_equal(a, b)


def test_morgan_counts_are_log1p_of_bit_counts():
    counts = MorganFeaturizer(counts=True)(ASPIRIN)
    bits = MorganFeaturizer(counts=False)(ASPIRIN)
    np.testing.assert_array_equal(counts > 0, bits > 0)
    raw = np.expm1(counts)
    np.testing.assert_allclose(raw, np.round(raw), atol=1e-4)
    assert raw.max() >= 2  # aspirin has repeated environments (aromatic CH)


def test_morgan_differs_between_molecules_and_survives_pickling():
    featurizer = MorganFeaturizer()
    benzene = featurizer(Chem.MolFromSmiles("c1ccccc1"))
    assert not np.array_equal(benzene, featurizer(ASPIRIN))
    clone = pickle.loads(pickle.dumps(featurizer))
    np.testing.assert_array_equal(clone(ASPIRIN), featurizer(ASPIRIN))


def test_rdkit2d_dimension_names_and_values():
    featurizer = RDKit2DFeaturizer()
    vec = featurizer(ASPIRIN)
    assert featurizer.dim == len(Descriptors.descList) == vec.shape[0]
    assert vec.dtype == np.float32
    names = list(featurizer.names)
    assert vec[names.index("MolWt")] == pytest.approx(180.159, abs=1e-2)
    assert vec[names.index("NumHDonors")] == 1
    assert vec[names.index("RingCount")] == 1
    np.testing.assert_array_equal(vec, RDKit2DFeaturizer()(Chem.MolFromSmiles("OC(=O)c1ccccc1OC(C)=O")))


@pytest.mark.parametrize(
    ("smiles", "scaffold"),
    [
        ("CC(=O)Oc1ccccc1C(=O)O", "c1ccccc1"),
        ("CCO", ""),
        ("CN1CCC[C@H]1c1cccnc1", "c1cncc(C2CCCN2)c1"),
        ("c1ccc(Cc2ccccc2)cc1CCCC", "c1ccc(Cc2ccccc2)cc1"),
    ],
)
def test_murcko_scaffold(smiles, scaffold):
    assert murcko_scaffold(Chem.MolFromSmiles(smiles)) == scaffold
