"""Standardisation: salts stripped, charges neutralised, one canonical SMILES per molecule."""

from __future__ import annotations

import pytest

from gnn_drug.chem import InvalidMoleculeError, Standardizer


@pytest.fixture(scope="module")
def std() -> Standardizer:
    return Standardizer()


def test_sodium_acetate_becomes_acetic_acid(std):
    assert std("CC(=O)[O-].[Na+]").smiles == "CC(=O)O"


@pytest.mark.parametrize(
    ("salt", "parent"),
    [
        ("CCN(CC)CC.Cl", "CCN(CC)CC"),  # triethylamine hydrochloride
        ("Cl.CCCCCCCCC(=O)O", "CCCCCCCCC(=O)O"),  # largest fragment kept whatever its position
        ("CCCCCCCCCC(=O)[O-].[K+].O", "CCCCCCCCCC(=O)O"),
    ],
)
def test_largest_fragment_is_kept(std, salt, parent):
    assert std(salt).smiles == parent


def test_charges_are_neutralised(std):
    assert std("C[NH3+]").smiles == "CN"
    assert std("CC(=O)[O-]").smiles == "CC(=O)O"


def test_nitro_group_keeps_its_zwitterion(std):
    """A nitro group cannot be neutralised; the uncharger must leave N+ / O- in place."""
    assert std("c1ccccc1[N+](=O)[O-]").smiles == "O=[N+]([O-])c1ccccc1"


def test_options_can_be_switched_off():
    keep_all = Standardizer(cleanup=False, largest_fragment=False, uncharge=False)
    assert keep_all("CC(=O)[O-].[Na+]").smiles == "CC(=O)[O-].[Na+]"
    assert keep_all.version != Standardizer().version


@pytest.mark.parametrize(("a", "b"), [("OCC", "C(O)C"), ("C1=CC=CC=C1", "c1ccccc1"), ("C(=O)(O)C", "CC(O)=O")])
def test_two_spellings_give_one_canonical_smiles(std, a, b):
    assert std(a).smiles == std(b).smiles


def test_inchikey_of_aspirin(std):
    assert std("CC(=O)Oc1ccccc1C(=O)O").inchikey == "BSYNRYMUTXBXSQ-UHFFFAOYSA-N"
    assert std("OC(=O)c1ccccc1OC(C)=O").inchikey == "BSYNRYMUTXBXSQ-UHFFFAOYSA-N"


@pytest.mark.parametrize(
    ("smiles", "reason_part"), [("C1CC", "unclosed ring"), ("FC(F)(F)(F)F", "valence"), ("", "empty")]
)
def test_invalid_input_raises_with_reason(std, smiles, reason_part):
    with pytest.raises(InvalidMoleculeError) as info:
        std(smiles)
    assert reason_part in info.value.reason.lower()


def test_standardizer_is_picklable_after_use(std):
    import pickle

    std("CC(=O)[O-].[Na+]")  # builds the (unpicklable) RDKit tools
    clone = pickle.loads(pickle.dumps(std))
    assert clone("CC(=O)[O-].[Na+]").smiles == "CC(=O)O"


def test_plain_atom_detection():
    from gnn_drug.chem.standardize import has_only_plain_atoms

    assert has_only_plain_atoms("CCO") and has_only_plain_atoms("c1cc[nH]c1") and has_only_plain_atoms("C[C@@H](N)O")
    assert has_only_plain_atoms("[13CH4]") and has_only_plain_atoms("Clc1ccccc1Br")
    for smiles in ("O=[N+]([O-])c1ccccc1", "[Na+].[Cl-]", "[2H]C", "[H]C([H])([H])[H]", "C[Si](C)(C)C", "[Cu]",
                   "CC[Se]CC", "[NH4+]"):
        assert not has_only_plain_atoms(smiles), smiles


def test_fast_path_gives_exactly_the_full_standardisation(tox21_frame, clintox_smiles, monkeypatch):
    import gnn_drug.chem.standardize as module

    smiles = tox21_frame["smiles"].tolist()[::4] + clintox_smiles[::2] + [
        "O=N(=O)c1ccccc1", "CC(=O)O", "C1=CC=CC=C1C(=O)[O-].[K+]", "CN(C)C(=N)N",
        # uncharged SMILES the normaliser changes (sulfoxides, P(=O)=O) or that sanitising charges (N-oxide, azide)
        "CS(C)=O", "O=S1CCCC1", "c1ccccc1S(=O)c1ccccc1", "CCP(=S)=O", "O=n1ccccc1", "O=N1=CC=CC=C1", "CN=N#N",
        "C=N#N", "CS(C)(=O)=O"]
    standardizer = Standardizer()

    def run():
        out = []
        for s in smiles:
            try:
                out.append(standardizer(s).smiles)
            except InvalidMoleculeError as exc:
                out.append(f"rejected: {exc.reason}")
        return out

    fast = run()
    monkeypatch.setattr(module, "has_only_plain_atoms", lambda s: False)
    assert fast == run()
