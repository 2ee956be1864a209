"""1D convolutional sequence encoder (the DeepDTA / GraphDTA protein encoder).

tokens -> embedding [L, e] -> conv1d(kernel k, 'same' length) + ReLU, once per entry of ``channels`` -> max over
the positions that are not padding -> linear to ``out_dim``. Padding positions are zeroed after every layer, so
a protein's vector does not depend on how much padding its batch needed.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class SequenceCNN(nn.Module):
    def __init__(self, vocabulary_size: int, embed_dim: int = 128, channels: tuple[int, ...] = (32, 64, 96),
                 kernel_size: int = 8, out_dim: int = 128, dropout: float = 0.0) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocabulary_size, embed_dim, padding_idx=0)
        self.convs = nn.ModuleList()
        width = embed_dim
        for c in channels:
            self.convs.append(nn.Conv1d(width, c, kernel_size))
            width = c
        self.pad = ((kernel_size - 1) // 2, kernel_size // 2)  # 'same' length, also for even kernels
        self.out = nn.Sequential(nn.Dropout(dropout), nn.Linear(width, out_dim), nn.ReLU())
        self.out_dim = out_dim

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        pad = (tokens == 0).unsqueeze(1)  # [n, 1, L]
        h = self.embed(tokens).transpose(1, 2)  # [n, e, L]
        for conv in self.convs:
            h = torch.relu(conv(F.pad(h, self.pad))).masked_fill(pad, 0.0)
        return self.out(h.masked_fill(pad, float("-inf")).max(dim=2).values)
