"""Read a YAML file into a pydantic model with one-line errors that name the file, the key and the problem."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from gnn_drug.errors import ConfigError

Model = TypeVar("Model", bound=BaseModel)


def read_yaml_mapping(path: str | os.PathLike, what: str = "file") -> dict:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise ConfigError(f"{path}: {what} not found") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1} column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}{where}: not valid YAML: {problem}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping")
    return raw


def validation_message(error: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors())


def load_yaml_model(path: str | os.PathLike, model: type[Model], what: str) -> Model:
    """``model`` validated from the YAML mapping in ``path``; ``what`` names the file kind in messages."""
    raw = read_yaml_mapping(path, what)
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{path}: invalid {what} — {validation_message(exc)}") from None
