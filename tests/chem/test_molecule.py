"""SMILES parsing: success, and failures that carry RDKit's own reason."""

from __future__ import annotations

import pytest

from gnn_drug.chem import InvalidMoleculeError, parse_smiles


def test_valid_smiles_parses_and_strips_whitespace():
    mol = parse_smiles("  CCO \n")
    assert mol.GetNumAtoms() == 3


@pytest.mark.parametrize(
    ("smiles", "reason_part"),
    [
        ("C1CC", "unclosed ring"),
        ("C(C)(C)(C)(C)C", "Explicit valence for atom # 0 C, 5"),
        ("c1cccc1", "kekulize"),
        ("c1ccccc1C(=O", "extra open parentheses"),
        ("XYZ", "syntax error"),
    ],
)
def test_invalid_smiles_carries_rdkits_reason(smiles, reason_part):
    with pytest.raises(InvalidMoleculeError) as info:
        parse_smiles(smiles)
    assert reason_part.lower() in info.value.reason.lower()
    assert info.value.smiles == smiles
    assert smiles in str(info.value)
    assert "\n" not in info.value.reason


@pytest.mark.parametrize("value", ["", "   ", None, float("nan")])
def test_empty_or_missing_input(value):
    with pytest.raises(InvalidMoleculeError, match="empty or missing"):
        parse_smiles(value)


def test_invalid_molecule_error_is_a_value_error():
    assert issubclass(InvalidMoleculeError, ValueError)


def test_inchi_amides_come_back_as_amides_not_imidic_acids():
    from rdkit import Chem

    from gnn_drug.chem import parse_inchi

    paracetamol = "InChI=1S/C8H9NO2/c1-6(10)9-7-2-4-8(11)5-3-7/h2-5,11H,1H3,(H,9,10)"
    assert Chem.MolToSmiles(Chem.MolFromInchi(paracetamol)) == "CC(O)=Nc1ccc(O)cc1"  # what RDKit alone gives
    assert Chem.MolToSmiles(parse_inchi(paracetamol)) == "CC(=O)Nc1ccc(O)cc1"
    # two amide bonds (a dipeptide, Gly-Gly-Gly): both rewritten, same InChIKey
    triglycine = Chem.MolToInchi(Chem.MolFromSmiles("NCC(=O)NCC(=O)NCC(=O)O"))
    mol = parse_inchi(triglycine)
    assert not mol.HasSubstructMatch(Chem.MolFromSmarts("[OX2H1][CX3]=[NX2]"))
    assert Chem.MolToInchi(mol) == triglycine


def test_bad_inchi_gives_a_reason():
    import pytest

    from gnn_drug.chem import InvalidMoleculeError, parse_inchi

    with pytest.raises(InvalidMoleculeError, match="must start with 'InChI='"):
        parse_inchi("CCO")
    with pytest.raises(InvalidMoleculeError, match="cannot build"):
        parse_inchi("InChI=1S/garbage")
