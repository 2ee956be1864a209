"""Checkpoints that survive interruption: written atomically, loaded with ``weights_only=True`` (no pickle of
arbitrary objects — only tensors and plain containers)."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from gnn_drug.data.atomic import atomic_path, remove_stale_temporaries
from gnn_drug.errors import ModelFileError


def save_checkpoint(state: dict, path: str | os.PathLike) -> None:
    remove_stale_temporaries(path)  # left by a run killed while writing its checkpoint
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: str | os.PathLike) -> dict:
    path = Path(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ModelFileError(f"{path}: checkpoint not found") from None
    except Exception as exc:  # corrupted file or forbidden (non-tensor) content
        raise ModelFileError(f"{path}: cannot load checkpoint safely: {exc}") from None
