import json

import numpy as np
import pandas as pd
import pytest

from gnn_drug.data.pairs import (
    CompoundSource,
    EntitySource,
    load_deepdta,
    load_pair_file,
    transform_values,
)
from gnn_drug.data.registry import resolve_dataset_files
from gnn_drug.errors import DataError

SEQ_A = "MKVLAAGIVGLLLAACS"
SEQ_B = "MSTNPKPQRKTKRNTNRRPQDVKFPGG"


def test_davis_matrix_pairs_folds_and_pkd(data_dir):
    table = load_deepdta(resolve_dataset_files("davis", data_dir), "davis", "pKd", "pkd_from_nm")
    assert (len(table), table.num_compounds, table.num_entities) == (30056, 68, 442)
    assert table.values.min() == pytest.approx(5.0) and table.values.max() == pytest.approx(10.79588, abs=1e-4)
    assert [len(f) for f in table.folds["train"]] == [5010, 5009, 5009, 5009, 5009]
    assert len(table.folds["test"][0]) == 5010
    every = np.concatenate(table.folds["train"] + table.folds["test"])
    assert len(np.unique(every)) == len(every) == len(table)  # the six folds partition the pairs


def test_kiba_pairs_follow_row_major_order_of_measured_entries(data_dir):
    files = resolve_dataset_files("kiba", data_dir)
    table = load_deepdta(files, "kiba", "kiba_score")
    matrix = np.load(files["matrix"])
    assert len(table) == 118254 == int((~np.isnan(matrix)).sum())
    pick = np.random.default_rng(0).integers(0, len(table), 200)
    np.testing.assert_allclose(table.values[pick], matrix[table.compound_index[pick], table.entity_index[pick]],
                               rtol=1e-6)
    assert (np.diff(table.compound_index * 1000 + table.entity_index) > 0).all()


def test_pkd_transform_and_its_error_names_the_row():
    np.testing.assert_allclose(transform_values(np.array([10000.0, 1.0]), "pkd_from_nm", "x"), [5.0, 9.0])
    with pytest.raises(DataError, match="row 2"):
        transform_values(np.array([1.0, -3.0]), "pkd_from_nm", "x.csv")


def _long_table(tmp_path):
    frame = pd.DataFrame({
        "smiles": ["CCO", "CCO", "c1ccccc1", "CCO", "CCN", "CCC"],
        "target": ["P1", "P2", "P1", "P1", "P3", "P2"],
        "sequence": [SEQ_A, SEQ_B, SEQ_A, SEQ_A, "MK7", SEQ_B],
        "kd_nm": ["100", "1000", "10", "1000", "5", "abc"],
    })
    path = tmp_path / "pairs.csv"
    frame.to_csv(path, index=False)
    return path


def test_long_table_rejects_bad_rows_and_averages_duplicates(tmp_path):
    table, rejects = load_pair_file(_long_table(tmp_path), "smiles", "target", "kd_nm", sequence_column="sequence",
                                    transform="pkd_from_nm", value_name="pKd")
    reasons = {r.row: r.reason for r in rejects}
    assert set(reasons) == {4, 5}
    assert "'7'" in reasons[4] and "row 5" in reasons[4]  # bad residue, with the file row
    assert "not a number" in reasons[5]
    assert table.compound_ids == ["CCO", "c1ccccc1"] and table.entity_ids == ["P1", "P2"]
    assert table.sequences == [SEQ_A, SEQ_B]
    # (CCO, P1) was measured twice (pKd 7 and 6): one pair, the mean, at its first row
    assert len(table) == 3
    first = int(np.flatnonzero((table.compound_index == 0) & (table.entity_index == 0))[0])
    assert table.values[first] == pytest.approx(6.5) and table.rows[first] == 0


def test_long_table_with_compound_and_profile_tables(tmp_path):
    pd.DataFrame({"drug": ["d1", "d2", "d3"], "value": [1.0, 2.0, 3.0], "cell": [11, 12, 99]}).to_csv(
        tmp_path / "resp.csv", index=False)
    pd.DataFrame({"name": ["d1", "d2", "d3"], "smi": ["CCO", "CCN", "CCC"]}).to_csv(tmp_path / "drugs.csv",
                                                                                    index=False)
    pd.DataFrame({"cosmic": [11.0, 12.0], "tissue": ["lung", "skin"], "TP53_mut": [1, 0], "EGFR_mut": [0, 1]}).to_csv(
        tmp_path / "mut.tsv", sep="\t", index=False)
    pd.DataFrame({"cosmic": ["11", "12"], "g1": [0.5, -0.5]}).to_csv(tmp_path / "expr.csv", index=False)
    table, rejects = load_pair_file(
        tmp_path / "resp.csv", "drug", "cell", "value", compounds=CompoundSource(str(tmp_path / "drugs.csv"), "name",
                                                                                  "smi"),
        entities=[EntitySource(str(tmp_path / "mut.tsv"), "cosmic", prefix="mut:"),
                  EntitySource(str(tmp_path / "expr.csv"), "cosmic", prefix="exp:")])
    assert table.entity_kind == "profile"
    assert table.profile_names == ["mut:TP53_mut", "mut:EGFR_mut", "exp:g1"]  # the text column is not a feature
    assert table.entity_ids == ["11", "12"]  # 11.0 in one file and "11" in the other are the same cell line
    np.testing.assert_allclose(table.profiles, [[1, 0, 0.5], [0, 1, -0.5]])
    assert table.compound_smiles == ["CCO", "CCN"]
    assert [r.row for r in rejects] == [2] and "99" in rejects[0].reason


def test_missing_column_is_named(tmp_path):
    with pytest.raises(DataError, match="no entity column 'protein'"):
        load_pair_file(_long_table(tmp_path), "smiles", "protein", "kd_nm", sequence_column="sequence")


def test_deepdta_shape_mismatch_is_reported(tmp_path):
    (tmp_path / "l.txt").write_text(json.dumps({"a": "CCO", "b": "CCN"}))
    (tmp_path / "p.txt").write_text(json.dumps({"P": SEQ_A}))
    np.save(tmp_path / "m.npy", np.ones((3, 1)))
    with pytest.raises(DataError, match="does not match 2 ligands x 1 proteins"):
        load_deepdta({"ligands": tmp_path / "l.txt", "proteins": tmp_path / "p.txt", "matrix": tmp_path / "m.npy"},
                     "x", "v")
