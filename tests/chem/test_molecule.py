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
