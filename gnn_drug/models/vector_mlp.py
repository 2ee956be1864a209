"""MLP encoder of a fixed-length feature vector: a protein's k-mer composition, a cell line's genomic profile."""

from __future__ import annotations

import torch
from torch import nn


class VectorMLP(nn.Module):
    """x -> [Linear -> ReLU -> Dropout] x layers; ``out_dim`` is the last width."""

    def __init__(self, in_dim: int, hidden_dim: int = 256, out_dim: int = 128, layers: int = 2,
                 dropout: float = 0.0) -> None:
        super().__init__()
        blocks: list[nn.Module] = []
        width = in_dim
        for i in range(layers):
            nxt = out_dim if i == layers - 1 else hidden_dim
            blocks += [nn.Linear(width, nxt), nn.ReLU(), nn.Dropout(dropout)]
            width = nxt
        self.net = nn.Sequential(*blocks)
        self.out_dim = out_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
