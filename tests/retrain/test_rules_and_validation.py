"""The promotion rule, data validation, drift and the scaffold-hash holdout, as plain functions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gnn_drug.data.tables import molecule_table_from_frame
from gnn_drug.errors import ConfigError
from gnn_drug.retrain.holdout import newest_holdout, scaffold_holdout
from gnn_drug.retrain.job import PromotionRule, ValidationRules, load_job
from gnn_drug.retrain.runner import _canonicalise, decide
from gnn_drug.retrain.validation import (
    DataReport,
    data_profile,
    drift_summary,
    population_stability_index,
    validate_table,
)


def test_first_model_is_promoted_unless_it_misses_the_floor():
    rule = PromotionRule(metric="roc_auc")
    assert decide(rule, None, {"roc_auc": 0.7})[0]
    floor = PromotionRule(metric="roc_auc", min_value=0.75)
    promote, reason, _ = decide(floor, None, {"roc_auc": 0.7})
    assert not promote and "misses the floor" in reason


def test_primary_must_improve_by_delta_and_secondary_may_drop_by_epsilon():
    rule = PromotionRule(metric="roc_auc", min_improvement=0.01, secondary={"pr_auc": 0.02})
    champion = {"roc_auc": 0.80, "pr_auc": 0.40}
    assert decide(rule, champion, {"roc_auc": 0.815, "pr_auc": 0.39})[0]
    promote, reason, _ = decide(rule, champion, {"roc_auc": 0.805, "pr_auc": 0.45})
    assert not promote and "improvement +0.0050 < required 0.01" in reason
    promote, reason, checks = decide(rule, champion, {"roc_auc": 0.85, "pr_auc": 0.37})
    assert not promote and "pr_auc dropped 0.0300 > allowed 0.02" in reason
    assert [c["passed"] for c in checks] == [True, False]


def test_lower_is_better_metrics_and_undefined_values():
    rule = PromotionRule(metric="rmse", min_improvement=0.05)
    assert decide(rule, {"rmse": 1.0}, {"rmse": 0.9})[0]
    assert not decide(rule, {"rmse": 1.0}, {"rmse": 0.97})[0]
    assert not decide(rule, {"rmse": 1.0}, {"rmse": float("nan")})[0]


def test_reference_rows_and_champion_consistency_guard():
    rule = PromotionRule(metric="roc_auc", reference_max_drop=0.02, champion_max_drop=0.1)
    better_overall = {"roc_auc": 0.80}
    promote, reason, _ = decide(rule, {"roc_auc": 0.75}, better_overall, {"roc_auc": 0.85, "molecules": 50},
                                {"roc_auc": 0.80, "molecules": 50})
    assert not promote and "champion's unchanged files" in reason
    promote, reason, _ = decide(rule, {"roc_auc": 0.55}, {"roc_auc": 0.56}, champion_recorded=0.82)
    assert not promote and "suspect" in reason
    assert decide(rule, {"roc_auc": 0.78}, {"roc_auc": 0.80}, champion_recorded=0.82)[0]


def test_unknown_metric_is_a_config_error(tmp_path):
    path = tmp_path / "job.yaml"
    path.write_text("name: j\ndata: x.csv\ntask_config: t.yaml\nregistry: {model: m}\nwork_dir: w\naudit_dir: a\n"
                    "promotion: {metric: accuracy}\n")
    with pytest.raises(ConfigError, match="promotion.metric.*unknown metric 'accuracy'"):
        load_job(path)
    path.write_text(path.read_text().replace("accuracy", "roc_auc") + "holdout: {policy: file}\n")
    with pytest.raises(ConfigError, match="needs holdout.file"):
        load_job(path)
    path.write_text(path.read_text().replace("holdout: {policy: file}\n", ""))
    job = load_job(path)
    assert job.path(job.work_dir) == tmp_path / "w" and job.registry_uri() is None


def _table(rows):
    frame = pd.DataFrame(rows, columns=["smiles", "y", "pic50"], dtype=str)
    frame["_file"] = "new.csv"
    frame["_row"] = np.arange(1, len(frame) + 1)
    table = molecule_table_from_frame(frame, "new.csv", "smiles", ["y", "pic50"],
                                      {"y": "classification", "pic50": "regression"})
    return table, frame


def test_validation_reports_duplicates_ranges_and_invalid_molecules():
    rows = [["CCO", "1", "5.0"], ["OCC", "0", "5.1"], ["c1ccccc1", "0", "6.0"], ["C1CC", "1", "4.0"],
            ["CCN", "0", "42.0"]]
    table, frame = _table(rows)
    canonical, reasons = _canonicalise(table.smiles)
    report = DataReport()
    rules = ValidationRules(min_rows=3, max_invalid_fraction=0.5, label_ranges={"pic50": (0.0, 14.0)},
                            max_conflicting_duplicates=1.0)
    validate_table(table, frame, rules, report, canonical, reasons)
    assert report.invalid_count == 1 and report.invalid[0]["row"] == 4 and "ring" in report.invalid[0]["reason"]
    assert report.duplicates == 1 and report.conflicting_duplicates == 1  # CCO and OCC, labels 1 vs 0
    assert any("new.csv row 5, column 'pic50': label 42 outside the allowed range [0, 14]" in p
               for p in report.problems)
    strict = DataReport()
    validate_table(table, frame, ValidationRules(min_rows=10, max_invalid_fraction=0.1), strict, canonical,
                   reasons)
    assert any("only 5 rows" in p for p in strict.problems)
    assert any("cannot be parsed" in p and "new.csv row 4" in p for p in strict.problems)


def test_drift_flags_a_shifted_library_and_not_the_same_one(clintox_smiles):
    small = [s for s in clintox_smiles if 5 < len(s) < 30][:300]
    large = [s for s in clintox_smiles if len(s) > 60][:300]
    table, _ = _table([[s, "0", "5"] for s in small])
    canonical = [c for c in _canonicalise(small)[0] if c]
    profile = data_profile(canonical, table)
    same = drift_summary(profile, canonical, table)
    assert same["major_shifts"] == [] and all(p["psi"] < 0.01 for p in same["properties"].values())
    big_table, _ = _table([[s, "0", "5"] for s in large])
    shifted = drift_summary(profile, [c for c in _canonicalise(large)[0] if c], big_table)
    assert {"mol_wt", "heavy_atoms"} <= set(shifted["major_shifts"])
    assert drift_summary(None, canonical, table) == {"available": False,
                                                     "reason": "the champion has no stored data profile"}
    assert population_stability_index([10, 10], [10, 10]) == pytest.approx(0.0)


def test_scaffold_holdout_is_stable_as_data_grows(tox21_frame):
    smiles = tox21_frame["smiles"].tolist()[:600]
    canonical = _canonicalise(smiles)[0]
    grown = scaffold_holdout(smiles, canonical, 0.2)
    first = scaffold_holdout(smiles[:300], canonical[:300], 0.2)
    np.testing.assert_array_equal(grown[:300], first)  # earlier rows never change side
    assert 0.1 < grown.mean() < 0.3
    assert not np.array_equal(grown, scaffold_holdout(smiles, canonical, 0.2, salt="other"))
    # the same scaffold is always on the same side: benzene derivatives share the scaffold c1ccccc1
    phenyls = ["Cc1ccccc1", "Oc1ccccc1", "Nc1ccccc1", "Clc1ccccc1"]
    mask = scaffold_holdout(phenyls, phenyls, 0.5)
    assert mask.all() or not mask.any()
    assert newest_holdout(10, 0.25).tolist() == [False] * 7 + [True] * 3
