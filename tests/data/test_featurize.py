"""featurize_smiles: rejects instead of exceptions, a transparent on-disk cache, identical serial/parallel output."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gnn_drug.data.featurize import MoleculeFeaturizer, featurize_smiles
from gnn_drug.data.rejects import write_rejects
from tests.helpers import SMALL_SMILES, assert_graphs_equal

MIXED = ["CCO", "C1CC", "", "c1ccccc1", "C(C)(C)(C)(C)C", "CC(=O)[O-].[Na+]", None, "  CCN  "]


def assert_same(a, b):
    np.testing.assert_array_equal(a.rows, b.rows)
    assert a.smiles == b.smiles
    assert len(a.graphs) == len(b.graphs)
    for ga, gb in zip(a.graphs, b.graphs, strict=True):
        assert_graphs_equal(ga, gb)
    np.testing.assert_array_equal(a.extras, b.extras)
    assert [(r.row, r.smiles, r.reason) for r in a.rejects] == [(r.row, r.smiles, r.reason) for r in b.rejects]


def test_invalid_smiles_become_rejects_with_rows_and_reasons():
    result = featurize_smiles(MIXED, MoleculeFeaturizer())
    assert result.rows.tolist() == [0, 3, 5, 7]
    assert result.smiles == ["CCO", "c1ccccc1", "CC(=O)O", "CCN"]
    assert len(result) == 4 and len(result.graphs) == 4
    reasons = {r.row: r.reason for r in result.rejects}
    assert sorted(reasons) == [1, 2, 4, 6]
    assert "unclosed ring" in reasons[1]
    assert "empty" in reasons[2]
    assert "valence" in reasons[4].lower()
    assert "empty" in reasons[6]
    assert result.rejects[0].smiles == "C1CC"


def test_all_invalid_input_gives_empty_result():
    result = featurize_smiles(["C1CC", "XYZ"], MoleculeFeaturizer())
    assert len(result) == 0 and len(result.rejects) == 2
    assert result.extras.shape == (0, 0)


def test_extra_features_are_concatenated_in_order():
    featurizer = MoleculeFeaturizer(extra_features=("morgan", "rdkit2d"))
    result = featurize_smiles(["CCO", "c1ccccc1"], featurizer)
    assert result.extras.shape == (2, 2048 + featurizer.vectors[1].dim)
    assert featurizer.extra_dim == result.extras.shape[1]
    assert len(featurizer.extra_names) == featurizer.extra_dim
    assert set(np.unique(result.extras[:, :2048])) <= {0.0, 1.0}
    molwt = featurizer.extra_names.index("MolWt")
    assert result.extras[0, molwt] == pytest.approx(46.07, abs=0.01)


def test_unknown_extra_feature_is_refused():
    with pytest.raises(ValueError, match="unknown extra features"):
        MoleculeFeaturizer(extra_features=("ecfp",))


def test_cache_round_trip_gives_identical_arrays(tmp_path):
    smiles = MIXED + SMALL_SMILES + ["OCC", "C(O)C", "O[C@@H](N)C", "N[C@@H](C)O"]
    featurizer = MoleculeFeaturizer(extra_features=("morgan_count",))
    first = featurize_smiles(smiles, featurizer, cache_dir=tmp_path)
    files = list(tmp_path.glob("features-*.sqlite"))
    assert len(files) == 1 and files[0].stat().st_size > 0
    uncached = featurize_smiles(smiles, MoleculeFeaturizer(extra_features=("morgan_count",)))
    assert_same(first, uncached)

    calls = []
    second = featurize_smiles(smiles, MoleculeFeaturizer(extra_features=("morgan_count",)), cache_dir=tmp_path,
                              progress=calls.append)
    assert_same(first, second)
    # every valid input came from the cache (reported first), only the rejects were featurised again
    assert calls[0] == len(first)


def test_cache_is_used_on_the_second_call(tmp_path, monkeypatch):
    smiles = ["CCO", "c1ccccc1"]
    featurize_smiles(smiles, MoleculeFeaturizer(), cache_dir=tmp_path)

    def boom(*args, **kwargs):
        raise AssertionError("featurised although cached")

    monkeypatch.setattr(MoleculeFeaturizer, "__call__", boom)
    monkeypatch.setattr(MoleculeFeaturizer, "keys_with_mol", boom)
    result = featurize_smiles(smiles, MoleculeFeaturizer(), cache_dir=tmp_path)
    assert result.smiles == ["CCO", "c1ccccc1"]


def test_cache_is_separate_per_featuriser_version(tmp_path):
    featurize_smiles(["CCO"], MoleculeFeaturizer(), cache_dir=tmp_path)
    with_fp = featurize_smiles(["CCO"], MoleculeFeaturizer(extra_features=("morgan",)), cache_dir=tmp_path)
    assert with_fp.extras.shape == (1, 2048)
    assert len(list(tmp_path.glob("features-*.sqlite"))) == 2


def test_serial_and_two_workers_give_identical_results(tox21_frame):
    """The process-pool path only runs for at least 2 chunks (2 x 1000 molecules)."""
    smiles = tox21_frame["smiles"].tolist()[:2200]
    serial = featurize_smiles(smiles, MoleculeFeaturizer(), n_workers=1)
    parallel = featurize_smiles(smiles, MoleculeFeaturizer(), n_workers=2)
    assert len(serial) > 2150
    assert_same(serial, parallel)
    direct = MoleculeFeaturizer()
    for k in range(0, len(serial), 97):  # workers send packed keys; the parent's graphs equal a direct call's
        canonical, graph, _ = direct(smiles[serial.rows[k]])
        assert canonical == serial.smiles[k]
        assert_graphs_equal(graph, parallel.graphs[k])


def test_write_rejects(tmp_path):
    result = featurize_smiles(["CCO", "C1CC", "c1ccccc1", "FC(F)(F)(F)F"], MoleculeFeaturizer())
    path = tmp_path / "out" / "rejects.csv"
    write_rejects(path, result.rejects, "input.csv")
    frame = pd.read_csv(path)
    assert list(frame.columns) == ["source", "row", "line", "input", "reason"]
    assert frame["row"].tolist() == [2, 4]  # 1-based data rows
    assert frame["line"].tolist() == [3, 5]  # file lines, header = line 1
    assert frame["input"].tolist() == ["C1CC", "FC(F)(F)(F)F"]
    assert "unclosed ring" in frame["reason"][0]
    assert (frame["source"] == "input.csv").all()


def test_write_rejects_with_no_rejects_writes_a_header(tmp_path):
    write_rejects(tmp_path / "rejects.csv", [], "x.csv")
    assert (tmp_path / "rejects.csv").read_text().strip() == "source,row,line,input,reason"
