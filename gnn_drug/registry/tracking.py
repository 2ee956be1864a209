"""Log a finished run (train, retrain, tune) to MLflow tracking: flattened config as params, metrics,
and the run's small files as artefacts — so a team sees its history in the MLflow UI."""

from __future__ import annotations

import os
import time
from pathlib import Path

from gnn_drug.registry.mlflow_registry import (
    _flat_metrics,
    default_mlflow_uri,
    experiment_id,
    flatten,
    mlflow_client,
)

MLFLOW_ENV = "GNN_DRUG_MLFLOW"
_ARTEFACT_SUFFIXES = {".json", ".yaml", ".csv", ".md", ".txt", ".sha256"}


def tracking_uri_from(value: str | None) -> str | None:
    """``--mlflow`` / $GNN_DRUG_MLFLOW: unset or '0'/'false' = off, '1'/'true' = default store, else a URI."""
    value = value if value is not None else os.environ.get(MLFLOW_ENV)
    if not value or value.lower() in ("0", "false", "no", "off"):
        return None
    if value.lower() in ("1", "true", "yes", "on", "mlflow"):
        return default_mlflow_uri()
    return value[len("mlflow:"):] if value.startswith("mlflow:") else value


def log_run(tracking_uri: str, experiment: str, run_name: str, params: dict, metrics: dict,
            run_dir: str | os.PathLike | None = None, tags: dict[str, str] | None = None) -> str:
    """Record one finished run; returns the MLflow run id. Checkpoints and model weights are not uploaded
    (the registry holds models); configs, metrics, summaries, rejects and predictions are."""
    from mlflow.entities import Metric, Param

    client = mlflow_client(tracking_uri)
    run = client.create_run(experiment_id(client, experiment, tracking_uri), run_name=run_name, tags=tags or {})
    run_id = run.info.run_id
    flat_params = [Param(k, str(v)[:500]) for k, v in flatten(params).items()]
    stamp = int(time.time() * 1000)
    flat_metrics = [Metric(k, v, stamp, 0) for k, v in _flat_metrics(metrics).items()]
    for start in range(0, max(len(flat_params), len(flat_metrics)), 100):
        client.log_batch(run_id, metrics=flat_metrics[start:start + 100], params=flat_params[start:start + 100])
    if run_dir is not None:
        for path in sorted(Path(run_dir).rglob("*")):
            if path.is_file() and path.suffix in _ARTEFACT_SUFFIXES and "checkpoints" not in path.parts:
                relative = path.parent.relative_to(run_dir)
                client.log_artifact(run_id, str(path), None if str(relative) == "." else str(relative))
    client.set_terminated(run_id)
    return run_id
