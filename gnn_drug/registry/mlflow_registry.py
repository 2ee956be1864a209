"""The registry on MLflow's model registry, so a team sees versions, aliases and runs in the MLflow UI.

Each version is an MLflow run of experiment ``gnn-drug/NAME`` whose artefact folder ``model/`` holds the
gnn-drug model directory; the registered model version points at it. Aliases are MLflow aliases; events are
kept as a JSON tag on the registered model. Fetched versions are copied to a local cache and verified with the
model's own checksums before use, whatever the artefact store.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from gnn_drug.errors import RegistryError
from gnn_drug.registry.base import ModelRegistry, ModelVersion, check_model_name, now_iso

if TYPE_CHECKING:
    from mlflow import MlflowClient

_EVENTS_TAG = "gnn_drug.events"
_MAX_EVENTS = 200  # MLflow tag values are bounded; older events stay in each version's own tags


def default_mlflow_uri() -> str:
    """$MLFLOW_TRACKING_URI, else an SQLite file under ~/.local/share/gnn-drug/mlflow."""
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    folder = Path.home() / ".local" / "share" / "gnn-drug" / "mlflow"
    return f"sqlite:///{folder / 'mlflow.db'}"


def mlflow_client(tracking_uri: str) -> MlflowClient:
    """An MlflowClient for ``tracking_uri`` (SQLite folders are created), quiet about progress bars."""
    try:
        from mlflow import MlflowClient
    except ImportError:
        raise RegistryError("MLflow is not installed: pip install mlflow (or gnn-drug[mlflow])") from None
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    if tracking_uri.startswith("sqlite:///"):
        Path(tracking_uri[len("sqlite:///"):]).expanduser().parent.mkdir(parents=True, exist_ok=True)
    return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


def experiment_id(client: MlflowClient, name: str, tracking_uri: str) -> str:
    """Get or create an experiment; with an SQLite store, artefacts go beside the database (not into cwd)."""
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    location = None
    if tracking_uri.startswith("sqlite:///"):
        db = Path(tracking_uri[len("sqlite:///"):]).expanduser().resolve()
        location = (db.parent / "artifacts").as_uri()
    return client.create_experiment(name, artifact_location=location)


class MlflowRegistry(ModelRegistry):
    def __init__(self, tracking_uri: str | None = None, cache_dir: str | os.PathLike | None = None) -> None:
        from gnn_drug.data.registry import default_cache_dir

        self.tracking_uri = tracking_uri or default_mlflow_uri()
        self.uri = f"mlflow:{self.tracking_uri}"
        self.client = mlflow_client(self.tracking_uri)
        self.cache_dir = Path(cache_dir) if cache_dir else default_cache_dir() / "mlflow-models"

    def _registered(self, name: str):
        from mlflow.exceptions import MlflowException

        try:
            return self.client.get_registered_model(check_model_name(name))
        except MlflowException:
            return None

    def _store(self, name: str, model_dir: Path, data_fingerprint: str | None, metrics: dict,
               description: str, meta: dict) -> ModelVersion:
        from mlflow.exceptions import MlflowException

        client = self.client
        exp = experiment_id(client, f"gnn-drug/{name}", self.tracking_uri)
        run = client.create_run(exp, run_name=f"{name}-register", tags={"gnn_drug.kind": "register"})
        run_id = run.info.run_id
        for key, value in _flat_metrics(metrics).items():
            client.log_metric(run_id, key, value)
        client.log_artifacts(run_id, str(model_dir), "model")
        client.set_terminated(run_id)
        try:
            client.create_registered_model(name)
        except MlflowException:
            pass  # already registered (or created concurrently)
        tags = {"gnn_drug.data_fingerprint": data_fingerprint or "", "gnn_drug.metrics": _bounded_json(metrics),
                "gnn_drug.meta": _bounded_json(meta)}
        created = client.create_model_version(name, f"{run.info.artifact_uri}/model", run_id=run_id, tags=tags,
                                              description=description or None)
        return ModelVersion(name, int(created.version), None, now_iso(), data_fingerprint, metrics, description,
                            meta=meta)

    def models(self) -> list[str]:
        return sorted(m.name for m in self.client.search_registered_models())

    def _version(self, mv) -> ModelVersion:
        from datetime import UTC, datetime

        created = datetime.fromtimestamp(mv.creation_timestamp / 1000, UTC).isoformat(timespec="seconds")
        metrics = json.loads(mv.tags.get("gnn_drug.metrics") or "{}")
        meta = json.loads(mv.tags.get("gnn_drug.meta") or "{}")
        return ModelVersion(mv.name, int(mv.version), None, created, mv.tags.get("gnn_drug.data_fingerprint") or None,
                            metrics, mv.description or "", meta=meta)

    def versions(self, name: str) -> list[ModelVersion]:
        if self._registered(name) is None:
            return []
        found = self.client.search_model_versions(f"name='{check_model_name(name)}'")
        return sorted((self._version(mv) for mv in found), key=lambda v: v.version)

    def _fetch(self, name: str, version: int) -> ModelVersion:
        from mlflow.artifacts import download_artifacts

        from gnn_drug.train.model_files import load_model_dir

        mv = self.client.get_model_version(name, str(version))
        target = self.cache_dir / name / str(version)
        model_dir = target / "model"
        try:
            load_model_dir(model_dir)
        except Exception:  # not cached yet, or the cached copy is damaged: fetch again
            import shutil

            shutil.rmtree(target, ignore_errors=True)
            target.mkdir(parents=True, exist_ok=True)
            download_artifacts(artifact_uri=mv.source, dst_path=str(target), tracking_uri=self.tracking_uri)
        result = self._version(mv)
        result.path = model_dir
        return result

    def aliases(self, name: str) -> dict[str, int]:
        model = self._registered(name)
        return {k: int(v) for k, v in (model.aliases if model else {}).items()}

    def _set_alias(self, name: str, alias: str, version: int | None) -> None:
        if version is None:
            if alias in self.aliases(name):
                self.client.delete_registered_model_alias(name, alias)
        else:
            self.client.set_registered_model_alias(name, alias, str(version))

    def events(self, name: str) -> list[dict]:
        model = self._registered(name)
        return json.loads(model.tags.get(_EVENTS_TAG, "[]")) if model else []

    def _record(self, name: str, event: dict) -> None:
        events = (self.events(name) + [event])[-_MAX_EVENTS:]
        text = json.dumps(events, separators=(",", ":"))
        while len(text) > 7500 and len(events) > 1:
            events = events[1:]
            text = json.dumps(events, separators=(",", ":"))
        self.client.set_registered_model_tag(name, _EVENTS_TAG, text)
        if event.get("version") is not None:
            self.client.set_model_version_tag(name, str(event["version"]), f"gnn_drug.{event['action']}_at",
                                              event["at"])


def _bounded_json(value: dict, limit: int = 7500) -> str:
    """JSON for an MLflow tag (values are length-limited): '{}' with a note when it would not fit."""
    text = json.dumps(value, separators=(",", ":"))
    return text if len(text) <= limit else json.dumps({"truncated": f"{len(text)} characters"})


def flatten(mapping: dict, prefix: str = "") -> dict:
    """``{"val": {"roc_auc": 0.8}}`` -> ``{"val.roc_auc": 0.8}`` (leaves kept as they are)."""
    flat: dict = {}
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def _flat_metrics(metrics: dict) -> dict[str, float]:
    """Numeric, finite leaves of a nested metrics dict, with dotted names."""
    return {k: float(v) for k, v in flatten(metrics).items()
            if isinstance(v, int | float) and not isinstance(v, bool) and v == v}
