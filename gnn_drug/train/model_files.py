"""The on-disk model format: a directory with ``weights.safetensors`` (tensors only — nothing is unpickled),
``model.json`` (a card: schema version, task, config, featuriser version, labels and units, training-data
fingerprint, split, metrics, package versions, created-at) and ``checksums.sha256`` (the sha256 of every other
file, in ``sha256sum -c`` format). Loading verifies the schema version and every checksum before use, so one
changed byte in the weights or the card is refused."""

from __future__ import annotations

import hashlib
import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from gnn_drug import __version__
from gnn_drug.data.atomic import atomic_path, atomic_write_text
from gnn_drug.errors import ModelFileError

SCHEMA_VERSION = 2
WEIGHTS_FILE = "weights.safetensors"
CARD_FILE = "model.json"
CHECKSUMS_FILE = "checksums.sha256"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def package_versions() -> dict[str, str]:
    import rdkit
    import torch_geometric

    return {"gnn_drug": __version__, "torch": torch.__version__, "torch_geometric": torch_geometric.__version__,
            "rdkit": rdkit.__version__, "numpy": np.__version__, "python": platform.python_version()}


def save_model_dir(path: str | os.PathLike, tensors: dict[str, torch.Tensor], card: dict,
                   text_files: dict[str, str] | None = None) -> Path:
    """Write weights, card and optional text files (e.g. the training set's SMILES); the card gains schema
    version, versions, timestamp and file checksums, and ``checksums.sha256`` covers every file."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    for name, text in (text_files or {}).items():
        atomic_write_text(path / name, text)
    weights = path / WEIGHTS_FILE
    with atomic_path(weights) as tmp:
        save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(tmp))
    full = {
        "schema_version": SCHEMA_VERSION,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "package_versions": package_versions(),
        **card,
        "files": {WEIGHTS_FILE: _sha256(weights)},
    }
    atomic_write_text(path / CARD_FILE, json.dumps(full, indent=2, default=json_default))
    sums = {name: _sha256(path / name) for name in (CARD_FILE, WEIGHTS_FILE, *(text_files or {}))}
    atomic_write_text(path / CHECKSUMS_FILE, "".join(f"{digest}  {name}\n" for name, digest in sums.items()))
    return path


def read_checksums(path: Path) -> dict[str, str]:
    """Parse ``checksums.sha256`` (``<hex>  <file name>`` per line)."""
    sums = {}
    for number, line in enumerate((path / CHECKSUMS_FILE).read_text().splitlines(), start=1):
        parts = line.strip().split(None, 1)
        if not parts:
            continue
        if len(parts) != 2 or len(parts[0]) != 64:
            raise ModelFileError(f"{path / CHECKSUMS_FILE}, line {number}: not '<sha256>  <file>'")
        sums[parts[1].lstrip("*")] = parts[0]
    return sums


def json_default(value: object) -> object:
    """``json.dumps`` fallback for NumPy scalars/arrays and paths."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")


def load_model_dir(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict]:
    """Return (tensors, card) after checking schema version and every file's checksum."""
    path = Path(path)
    card_path = path / CARD_FILE
    if not card_path.is_file():
        raise ModelFileError(f"{path}: not a gnn-drug model directory (no {CARD_FILE})")
    try:
        card = json.loads(card_path.read_text())
    except json.JSONDecodeError as exc:
        raise ModelFileError(f"{card_path}: model card is not valid JSON ({exc})") from None
    version = card.get("schema_version")
    if version != SCHEMA_VERSION:
        made_by = card.get("package_versions", {}).get("gnn_drug", "an unknown version")
        raise ModelFileError(
            f"{path}: model schema version {version} (made by gnn-drug {made_by}) is not supported by gnn-drug "
            f"{__version__}, which reads schema version {SCHEMA_VERSION}"
        )
    if not (path / CHECKSUMS_FILE).is_file():
        raise ModelFileError(f"{path}: {CHECKSUMS_FILE} is missing; refusing to load an unverifiable model")
    sums = read_checksums(path)
    for required in (CARD_FILE, WEIGHTS_FILE):
        if required not in sums:
            raise ModelFileError(f"{path / CHECKSUMS_FILE}: has no checksum for {required}; refusing to load")
    if card.get("files", {}).get(WEIGHTS_FILE) != sums[WEIGHTS_FILE]:
        raise ModelFileError(f"{path}: the card and {CHECKSUMS_FILE} disagree on {WEIGHTS_FILE}; refusing to load")
    for name, expected in sums.items():
        file = path / name
        if not file.is_file():
            raise ModelFileError(f"{file}: listed in the model card but missing")
        actual = _sha256(file)
        if actual != expected:
            raise ModelFileError(f"{file}: checksum mismatch (file changed since it was saved); refusing to load")
    return load_file(str(path / WEIGHTS_FILE)), card


def model_task(path: str | os.PathLike) -> str | None:
    """The task named in a model directory's card (or a run directory's ``model/``), for routing only: loading
    the model verifies every checksum."""
    path = Path(path)
    card = path / "model" / CARD_FILE if (path / "model" / CARD_FILE).is_file() else path / CARD_FILE
    if not card.is_file():
        raise ModelFileError(f"{path}: not a gnn-drug run or model directory (no {CARD_FILE})")
    try:
        return json.loads(card.read_text()).get("task")
    except json.JSONDecodeError as exc:
        raise ModelFileError(f"{card}: model card is not valid JSON ({exc})") from None
