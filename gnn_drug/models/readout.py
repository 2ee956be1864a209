"""Graph readout: pool atom vectors into one molecule vector."""

from __future__ import annotations

import torch
from torch_geometric.nn import global_add_pool, global_max_pool, global_mean_pool

READOUTS = ("mean", "sum", "max", "mean_max")


def readout(h: torch.Tensor, batch: torch.Tensor, num_graphs: int, kind: str) -> torch.Tensor:
    """``mean``/``sum``/``max`` pooling, or ``mean_max`` (both concatenated, doubling the width)."""
    if kind == "mean":
        return global_mean_pool(h, batch, num_graphs)
    if kind == "sum":
        return global_add_pool(h, batch, num_graphs)
    if kind == "max":
        return global_max_pool(h, batch, num_graphs)
    if kind == "mean_max":
        return torch.cat([global_mean_pool(h, batch, num_graphs), global_max_pool(h, batch, num_graphs)], dim=1)
    raise ValueError(f"unknown readout {kind!r}; choose from {READOUTS}")


def readout_width(hidden_dim: int, kind: str) -> int:
    return 2 * hidden_dim if kind == "mean_max" else hidden_dim
