"""Reading molecule tables from CSV, TSV, gzipped CSV and Parquet; labels, task types and errors."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest

from gnn_drug.data.tables import (
    CLASSIFICATION,
    REGRESSION,
    infer_task_type,
    load_molecule_table,
    read_table,
)
from gnn_drug.errors import DataError

CSV_TEXT = "smiles,active,logS\nCCO,1,-0.5\nc1ccccc1,0,\nCC(=O)O,,1.25\nCCN,1,2\n"


def write(path, text):
    path.write_text(text)
    return path


@pytest.fixture
def frame_expected():
    return {
        "smiles": ["CCO", "c1ccccc1", "CC(=O)O", "CCN"],
        "active": [1.0, 0.0, np.nan, 1.0],
        "logS": [-0.5, np.nan, 1.25, 2.0],
    }


def check_table(table, expected):
    assert table.smiles == expected["smiles"]
    assert table.targets == ["active", "logS"]
    np.testing.assert_array_equal(table.labels[:, 0], np.asarray(expected["active"], np.float32))
    np.testing.assert_array_equal(table.labels[:, 1], np.asarray(expected["logS"], np.float32))
    assert table.task_types == [CLASSIFICATION, REGRESSION]
    assert table.labels.dtype == np.float32
    assert len(table) == 4 and table.num_tasks == 2


def test_csv(tmp_path, frame_expected):
    check_table(load_molecule_table(write(tmp_path / "a.csv", CSV_TEXT)), frame_expected)


def test_tsv(tmp_path, frame_expected):
    check_table(load_molecule_table(write(tmp_path / "a.tsv", CSV_TEXT.replace(",", "\t"))), frame_expected)


def test_gzipped_csv(tmp_path, frame_expected):
    path = tmp_path / "a.csv.gz"
    with gzip.open(path, "wt") as handle:
        handle.write(CSV_TEXT)
    check_table(load_molecule_table(path), frame_expected)


def test_parquet(tmp_path, frame_expected):
    path = tmp_path / "a.parquet"
    pd.DataFrame(frame_expected).to_parquet(path, index=False)
    check_table(load_molecule_table(path), frame_expected)


def test_smi_file_with_ids(tmp_path):
    frame = read_table(write(tmp_path / "lib.smi", "CCO ethanol\nc1ccccc1 benzene\n"))
    assert frame["smiles"].tolist() == ["CCO", "c1ccccc1"]
    assert frame["id"].tolist() == ["ethanol", "benzene"]


def test_blank_labels_are_nan_not_zero(tmp_path):
    table = load_molecule_table(write(tmp_path / "a.csv", "smiles,y\nCCO,\nCCC,0\nCCN, \nCCCl,NA\n"))
    assert np.isnan(table.labels[0, 0]) and np.isnan(table.labels[2, 0]) and np.isnan(table.labels[3, 0])
    assert table.labels[1, 0] == 0.0


def test_a_column_named_like_nan_values_is_still_read(tmp_path):
    """Values such as 'NA' are missing labels, but SMILES like 'N' are never turned into NaN."""
    table = load_molecule_table(write(tmp_path / "a.csv", "smiles,y\nN,1\nC,0\n"))
    assert table.smiles == ["N", "C"]


@pytest.mark.parametrize(
    ("values", "kind"),
    [
        ([0, 1, 1, np.nan], CLASSIFICATION),
        ([1.0, 1.0, 0.0], CLASSIFICATION),
        ([0, 1, 2], REGRESSION),
        ([0.5, 1.0], REGRESSION),
        ([-1.0, 0.0, 1.0], REGRESSION),
    ],
)
def test_task_type_inference(values, kind):
    assert infer_task_type(np.asarray(values, dtype=np.float32)) == kind


def test_declared_task_types_override_inference(tmp_path):
    path = write(tmp_path / "a.csv", "smiles,a,b\nCCO,1,0\nCCC,0,1\n")
    table = load_molecule_table(path, task_types={"a": "regression"})
    assert table.task_types == [REGRESSION, CLASSIFICATION]
    assert load_molecule_table(path, task_types="regression").task_types == [REGRESSION, REGRESSION]


def test_declared_classification_with_other_values_is_refused(tmp_path):
    path = write(tmp_path / "a.csv", "smiles,a\nCCO,1\nCCC,2\n")
    with pytest.raises(DataError, match=r"row 2 \(line 3\), column 'a'.*0 or 1"):
        load_molecule_table(path, task_types={"a": "classification"})


def test_unknown_declared_task_type(tmp_path):
    with pytest.raises(DataError, match="task type 'ordinal'"):
        load_molecule_table(write(tmp_path / "a.csv", "smiles,a\nCCO,1\n"), task_types="ordinal")


def test_non_numeric_label_names_file_row_and_column(tmp_path):
    path = write(tmp_path / "assay.csv", "smiles,ic50,active\nCCO,1.5,1\nCCC,2.0,0\nCCN,>10,1\n")
    with pytest.raises(DataError) as info:
        load_molecule_table(path)
    message = str(info.value)
    assert str(path) in message
    assert "row 3 (line 4)" in message
    assert "'ic50'" in message
    assert "'>10'" in message


def test_missing_smiles_column_lists_the_columns(tmp_path):
    path = write(tmp_path / "a.csv", "mol,y\nCCO,1\n")
    with pytest.raises(DataError) as info:
        load_molecule_table(path)
    assert str(path) in str(info.value)
    assert "'smiles'" in str(info.value) and "['mol', 'y']" in str(info.value)


def test_smiles_column_matched_case_insensitively_and_by_name(tmp_path):
    path = write(tmp_path / "a.csv", "SMILES,y,name\nCCO,1,eth\n")
    table = load_molecule_table(path, targets=["y"], id_column="name")
    assert table.smiles == ["CCO"] and table.ids == ["eth"] and table.targets == ["y"]


def test_missing_target_column(tmp_path):
    with pytest.raises(DataError, match=r"label column\(s\) \['z'\] not found"):
        load_molecule_table(write(tmp_path / "a.csv", "smiles,y\nCCO,1\n"), targets=["z"])


def test_no_label_columns(tmp_path):
    path = write(tmp_path / "a.csv", "smiles\nCCO\n")
    with pytest.raises(DataError, match="no label columns"):
        load_molecule_table(path)
    table = load_molecule_table(path, require_targets=False)
    assert table.labels.shape == (1, 0)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        read_table(tmp_path / "nope.csv")


def test_malformed_csv_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="cannot be read"):
        read_table(write(tmp_path / "a.csv", "smiles,y\nCCO,1\nCCC,0,5,6\n"))
