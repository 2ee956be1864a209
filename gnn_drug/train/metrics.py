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


def concordance_index(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Harrell's C: over pairs with different true values, the fraction whose predictions are in the same
    order (prediction ties count one half). O(n log n): a Fenwick tree over prediction ranks, filled in
    ascending order of the true value, one tie group at a time."""
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    order = np.argsort(y_true, kind="mergesort")
    y, ranks = y_true[order], np.unique(y_pred[order], return_inverse=True)[1].reshape(-1) + 1
    tree = np.zeros(int(ranks.max(initial=0)) + 1, dtype=np.int64)

    def prefix(r: int) -> int:
        total = 0
        while r > 0:
            total += tree[r]
            r -= r & -r
        return int(total)

    concordant, comparable, inserted, i, n = 0.0, 0, 0, 0, len(y)
    while i < n:
        j = i
        while j < n and y[j] == y[i]:
            j += 1
        for k in range(i, j):
            below, at_or_below = prefix(int(ranks[k]) - 1), prefix(int(ranks[k]))
            concordant += below + 0.5 * (at_or_below - below)
        comparable += inserted * (j - i)
        for k in range(i, j):
            r = int(ranks[k])
            while r < len(tree):
                tree[r] += 1
                r += r & -r
        inserted += j - i
        i = j
    return concordant / comparable if comparable else float("nan")


def rm2(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Roy's modified r²: r² (1 - sqrt(|r² - r0²|)), r0² with the regression through the origin — the
    definition used by DeepDTA, GraphDTA and MGraphDTA."""
    y = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(y_pred, dtype=np.float64)
    y_dev, p_dev = y - y.mean(), p - p.mean()
    denom = float((y_dev**2).sum() * (p_dev**2).sum())
    if denom == 0 or float((p * p).sum()) == 0:
        return float("nan")
    r2 = float((y_dev * p_dev).sum() ** 2 / denom)
    k = float((y * p).sum() / (p * p).sum())
    r02 = 1 - float(((y - k * p) ** 2).sum() / (y_dev**2).sum())
    return r2 * (1 - float(np.sqrt(abs(r2 - r02))))


def pair_regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """What affinity and drug-response papers report: MSE, RMSE, CI, Pearson, Spearman, r²m (NaN = missing)."""
    y_true = np.asarray(y_true, dtype=np.float64).reshape(-1)
    y_pred = np.asarray(y_pred, dtype=np.float64).reshape(-1)
    mask = ~np.isnan(y_true)
    t, p = y_true[mask], y_pred[mask]
    if len(t) < 2:
        return {"n": int(len(t)), "mse": float("nan"), "rmse": float("nan"), "ci": float("nan"),
                "pearson": float("nan"), "spearman": float("nan"), "rm2": float("nan")}
    from scipy.stats import spearmanr

    mse = float(np.mean((t - p) ** 2))
    varying = np.std(t) > 0 and np.std(p) > 0
    return {
        "n": int(len(t)),
        "mse": mse,
        "rmse": float(np.sqrt(mse)),
        "ci": concordance_index(t, p),
        "pearson": float(np.corrcoef(t, p)[0, 1]) if varying else float("nan"),
        "spearman": float(spearmanr(t, p).statistic) if varying else float("nan"),
        "rm2": rm2(t, p),
    }
