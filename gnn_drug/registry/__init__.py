"""Model versions with champion/challenger aliases, in a local directory or MLflow; ``registry:NAME`` references.

A registry is named by a URI: a folder path (or ``file://…``) for :class:`LocalRegistry`, ``mlflow`` for MLflow
with its default SQLite store, ``mlflow:<tracking-uri>`` for any MLflow tracking server or database.
"""

from __future__ import annotations

import os
from pathlib import Path

from gnn_drug.registry.base import CHALLENGER, CHAMPION, ModelRegistry, ModelVersion, parse_model_ref
from gnn_drug.registry.local import LocalRegistry

REGISTRY_ENV = "GNN_DRUG_REGISTRY"

__all__ = ["CHALLENGER", "CHAMPION", "LocalRegistry", "ModelRegistry", "ModelVersion", "default_registry_uri",
           "open_registry", "parse_model_ref", "resolve_model_dir"]


def default_registry_uri() -> str:
    """$GNN_DRUG_REGISTRY, else ~/.local/share/gnn-drug/registry."""
    return os.environ.get(REGISTRY_ENV) or str(Path.home() / ".local" / "share" / "gnn-drug" / "registry")


def open_registry(uri: str | os.PathLike | None = None) -> ModelRegistry:
    uri = str(uri) if uri else default_registry_uri()
    if uri == "mlflow" or uri.startswith("mlflow:"):
        from gnn_drug.registry.mlflow_registry import MlflowRegistry

        return MlflowRegistry(uri[len("mlflow:"):] or None)
    if uri.startswith("file://"):
        uri = uri[len("file://"):]
    return LocalRegistry(uri)


def resolve_model_dir(value: str | os.PathLike, registry_uri: str | os.PathLike | None = None) -> Path:
    """A run/model directory as given, or ``registry:NAME[@alias|@version]`` fetched from the registry."""
    ref = parse_model_ref(str(value))
    if ref is None:
        return Path(value)
    name, alias = ref
    return open_registry(registry_uri).get(name, alias).path
