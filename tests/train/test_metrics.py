"""Metrics against scikit-learn on hand examples, with missing labels and single-class tasks."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, mean_absolute_error, r2_score, roc_auc_score

from gnn_drug.train.metrics import evaluate_predictions, selection_score

NAN = float("nan")


def test_classification_metrics_match_sklearn_and_ignore_missing_labels():
    y_true = np.array([[1, 0], [0, NAN], [1, 1], [0, 0], [NAN, 1], [1, 0]], dtype=float)
    y_prob = np.array([[0.9, 0.2], [0.3, 0.99], [0.4, 0.7], [0.6, 0.1], [0.01, 0.4], [0.8, 0.5]])
    result = evaluate_predictions(y_true, y_prob, ["classification"] * 2, ["a", "b"])
    for j, name in enumerate(["a", "b"]):
        keep = ~np.isnan(y_true[:, j])
        task = result["per_task"][name]
        assert task["roc_auc"] == pytest.approx(roc_auc_score(y_true[keep, j], y_prob[keep, j]))
        assert task["pr_auc"] == pytest.approx(average_precision_score(y_true[keep, j], y_prob[keep, j]))
        assert task["n"] == 5
    # hand check for task a: positives {0.9, 0.4, 0.8}, negatives {0.3, 0.6}: 5 of 6 pairs ordered
    assert result["per_task"]["a"]["roc_auc"] == pytest.approx(5 / 6)
    assert result["per_task"]["a"]["n_positive"] == 3
    assert result["roc_auc"] == pytest.approx(np.mean([result["per_task"][t]["roc_auc"] for t in "ab"]))


def test_single_class_task_gives_nan_and_is_left_out_of_the_macro():
    y_true = np.array([[1, 0], [0, 0], [1, 0], [0, NAN]], dtype=float)
    y_prob = np.array([[0.9, 0.1], [0.2, 0.3], [0.7, 0.5], [0.4, 0.2]])
    result = evaluate_predictions(y_true, y_prob, ["classification"] * 2, ["ok", "all_negative"])
    assert math.isnan(result["per_task"]["all_negative"]["roc_auc"])
    assert math.isnan(result["per_task"]["all_negative"]["pr_auc"])
    assert result["roc_auc"] == pytest.approx(1.0)
    assert result["pr_auc"] == pytest.approx(1.0)


def test_no_defined_task_gives_nan_macro():
    result = evaluate_predictions(np.array([[1.0], [1.0]]), np.array([[0.2], [0.9]]), ["classification"], ["t"])
    assert math.isnan(result["roc_auc"])


def test_regression_metrics_match_sklearn():
    y_true = np.array([1.0, 2.0, NAN, 4.0, 5.5])
    y_pred = np.array([1.2, 1.7, 100.0, 4.4, 5.0])
    result = evaluate_predictions(y_true, y_pred, ["regression"], ["logS"])
    keep = ~np.isnan(y_true)
    t, p = y_true[keep], y_pred[keep]
    task = result["per_task"]["logS"]
    assert task["n"] == 4
    assert task["rmse"] == pytest.approx(np.sqrt(np.mean((t - p) ** 2)))
    assert task["mae"] == pytest.approx(mean_absolute_error(t, p))
    assert task["r2"] == pytest.approx(r2_score(t, p))
    assert task["pearson"] == pytest.approx(np.corrcoef(t, p)[0, 1])
    assert result["rmse"] == task["rmse"]
    assert "roc_auc" not in result


def test_mixed_tasks_and_selection_score():
    y_true = np.array([[1, 1.0], [0, 2.0], [1, 3.0], [0, 4.0]])
    y_pred = np.array([[0.8, 1.0], [0.1, 2.0], [0.9, 3.0], [0.3, 4.0]])
    result = evaluate_predictions(y_true, y_pred, ["classification", "regression"], ["c", "r"])
    assert result["roc_auc"] == pytest.approx(1.0) and result["rmse"] == pytest.approx(0.0)
    assert selection_score(result, ["classification", "regression"]) == pytest.approx(1.0)  # mean(AUC, R2)
    assert selection_score({"roc_auc": 0.7}, ["classification"]) == 0.7
    assert selection_score({"rmse": 0.5}, ["regression"]) == -0.5


def _brute_force_ci(y, p):
    num = den = 0.0
    for i in range(len(y)):
        for j in range(len(y)):
            if y[i] > y[j]:
                den += 1
                num += 1.0 if p[i] > p[j] else 0.5 if p[i] == p[j] else 0.0
    return num / den


def test_concordance_index_matches_the_definition_with_ties_on_both_sides():
    from gnn_drug.train.metrics import concordance_index

    rng = np.random.default_rng(0)
    y = rng.integers(0, 6, 120).astype(float)  # many ties in the truth (like Davis's pKd = 5 floor)
    p = np.round(y + rng.normal(0, 1.5, 120))  # and in the predictions
    assert concordance_index(y, p) == pytest.approx(_brute_force_ci(y, p))
    assert concordance_index(y, y) == 1.0 and concordance_index(y, -y) == 0.0
    assert concordance_index(y, np.zeros_like(y)) == 0.5


def test_rm2_is_one_for_perfect_predictions_and_penalises_offsets():
    from gnn_drug.train.metrics import rm2

    y = np.linspace(5, 10, 50)
    assert rm2(y, y) == pytest.approx(1.0)
    assert rm2(y, y + 3) < 0.8  # perfectly correlated but biased predictions lose credit
    assert np.isnan(rm2(y, np.full(50, 7.0)))


def test_pair_regression_metrics_reports_what_dta_papers_report():
    from gnn_drug.train.metrics import pair_regression_metrics

    y = np.array([5.0, 6.0, np.nan, 8.0])
    m = pair_regression_metrics(y, np.array([5.5, 6.0, 1.0, 7.0]))
    assert m["n"] == 3 and m["mse"] == pytest.approx((0.25 + 0 + 1) / 3)
    assert m["ci"] == 1.0 and set(m) == {"n", "mse", "rmse", "ci", "pearson", "spearman", "rm2"}
