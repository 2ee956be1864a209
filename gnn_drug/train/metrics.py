"""Metrics as plain functions of (y_true, y_pred) with NaN = missing label, per task and macro-averaged."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import (
    average_precision_score,
    mean_absolute_error,
    mean_squared_error,
    r2_score,
    roc_auc_score,
)

from gnn_drug.data.tables import CLASSIFICATION


def _nanmean(values: list[float]) -> float:
    finite = [v for v in values if v is not None and np.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


def classification_task_metrics(y_true: np.ndarray, y_prob: np.ndarray) -> dict[str, float]:
    mask = ~np.isnan(y_true)
    t, p = y_true[mask], y_prob[mask]
    out = {"n": int(mask.sum()), "n_positive": int(t.sum())}
    if len(np.unique(t)) < 2:  # ROC-AUC undefined with one class present
        return {**out, "roc_auc": float("nan"), "pr_auc": float("nan")}
    return {**out, "roc_auc": float(roc_auc_score(t, p)), "pr_auc": float(average_precision_score(t, p))}


def regression_task_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    mask = ~np.isnan(y_true)
    t, p = y_true[mask], y_pred[mask]
    if len(t) < 2:
        nan = float("nan")
        return {"n": int(mask.sum()), "rmse": nan, "mae": nan, "r2": nan, "pearson": nan}
    pearson = float(np.corrcoef(t, p)[0, 1]) if np.std(t) > 0 and np.std(p) > 0 else float("nan")
    return {
        "n": int(mask.sum()),
        "rmse": float(np.sqrt(mean_squared_error(t, p))),
        "mae": float(mean_absolute_error(t, p)),
        "r2": float(r2_score(t, p)),
        "pearson": pearson,
    }


def evaluate_predictions(y_true: np.ndarray, y_pred: np.ndarray, task_types: Sequence[str],
                         task_names: Sequence[str]) -> dict:
    """Per-task metrics and macro averages over tasks where a metric is defined.

    Classification tasks give ``roc_auc`` and ``pr_auc``; regression tasks ``rmse``, ``mae``, ``r2``, ``pearson``.
    """
    y_true = np.asarray(y_true, dtype=np.float64).reshape(len(y_true), -1)
    y_pred = np.asarray(y_pred, dtype=np.float64).reshape(len(y_pred), -1)
    per_task: dict[str, dict] = {}
    for j, (kind, name) in enumerate(zip(task_types, task_names, strict=True)):
        fn = classification_task_metrics if kind == CLASSIFICATION else regression_task_metrics
        per_task[name] = fn(y_true[:, j], y_pred[:, j])
    result: dict = {}
    keys = set().union(*(m.keys() for m in per_task.values())) - {"n", "n_positive"} if per_task else set()
    for key in ("roc_auc", "pr_auc", "rmse", "mae", "r2", "pearson"):
        if key in keys:
            result[key] = _nanmean([m.get(key) for m in per_task.values() if key in m])
    result["per_task"] = per_task
    return result


def selection_score(metrics: dict, task_types: Sequence[str]) -> float:
    """One number to maximise for model selection: macro ROC-AUC for classification, -RMSE for regression,
    their mean (R² in place of RMSE) when both kinds are present."""
    kinds = set(task_types)
    if kinds == {CLASSIFICATION}:
        return metrics.get("roc_auc", float("nan"))
    if CLASSIFICATION not in kinds:
        return -metrics.get("rmse", float("nan"))
    return _nanmean([metrics.get("roc_auc"), metrics.get("r2")])
