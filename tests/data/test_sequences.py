import numpy as np
import pytest

from gnn_drug.data.sequences import (
    AMINO_ACIDS,
    VOCABULARY_SIZE,
    clean_sequence,
    kmer_composition,
    tokenize_sequences,
)
from gnn_drug.errors import DataError


def test_clean_sequence_normalises_case_whitespace_and_stop():
    assert clean_sequence(" mkv lx*\n", "f.csv: row 3") == "MKVLX"


@pytest.mark.parametrize("bad", ["MK1V", "MK-V", "", None])
def test_clean_sequence_names_the_place_and_the_characters(bad):
    with pytest.raises(DataError, match="f.csv: row 3"):
        clean_sequence(bad, "f.csv: row 3")


def test_tokens_pad_with_zero_and_truncate_the_c_terminus():
    tokens = tokenize_sequences(["ACD", "MKVLAAAAAA"], max_length=5)
    assert tokens.shape == (2, 5)
    assert tokens[0, 3:].tolist() == [0, 0] and (tokens[0, :3] > 0).all()
    assert tokens[1].tolist() == tokenize_sequences(["MKVLA"], 5)[0].tolist()
    assert tokens.max() < VOCABULARY_SIZE


def test_kmer_composition_counts_residues_and_dipeptides():
    vec = kmer_composition(["AAC"])[0]
    single = dict(zip(AMINO_ACIDS, vec[:20], strict=True))
    assert single["A"] == pytest.approx(2 / 3) and single["C"] == pytest.approx(1 / 3)
    assert vec[20:].sum() == pytest.approx(1.0)
    assert np.count_nonzero(vec[20:]) == 2  # AA and AC
    assert kmer_composition(["X"]).sum() == 0  # only unknown residues: nothing counted, no division by zero
