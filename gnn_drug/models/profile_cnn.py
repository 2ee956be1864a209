"""1D CNN over a numeric profile read as a one-channel signal (GraphDRP's cell-line encoder): three blocks of
conv1d(kernel k) + ReLU + max-pool(3), flattened, then a linear layer to ``out_dim``."""

from __future__ import annotations

import torch
from torch import nn


class ProfileCNN(nn.Module):
    def __init__(self, in_dim: int, channels: tuple[int, ...] = (32, 64, 128), kernel_size: int = 8,
                 out_dim: int = 128, dropout: float = 0.0) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = 1
        for c in channels:
            layers += [nn.Conv1d(width, c, kernel_size), nn.ReLU(), nn.MaxPool1d(3)]
            width = c
        self.convs = nn.Sequential(*layers)
        with torch.no_grad():
            flat = self.convs(torch.zeros(1, 1, in_dim)).numel()
        self.out = nn.Sequential(nn.Dropout(dropout), nn.Linear(flat, out_dim), nn.ReLU())
        self.out_dim = out_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.convs(x.unsqueeze(1)).flatten(1))
