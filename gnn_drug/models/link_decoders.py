"""Link decoders: score a (source, target) node pair of one relation from their encoder vectors.

DistMult: s(h, t) = g * sum_k h^_k r_k t^_k on unit-length h^, t^ (a learned diagonal relation r and scale g; the
normalisation keeps scores bounded however large the encoder's vectors grow). MLP: s(h, t) = MLP([h || t || h * t]).
``score_all`` scores each source against every target (for ranking).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from gnn_drug.models.molecule_model import mlp


class DistMultDecoder(nn.Module):
    def __init__(self, dim: int, scale: float = 5.0) -> None:
        """``scale``: the initial (learned) score scale; a softmax over thousands of targets needs a wide score
        range from the first step (ln 20,000 ~ 10), pairwise losses do not."""
        super().__init__()
        self.relation = nn.Parameter(torch.ones(dim))
        self.scale = nn.Parameter(torch.tensor(float(scale)))

    def forward(self, source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.scale * (F.normalize(source, dim=1) * self.relation * F.normalize(target, dim=1)).sum(dim=1)

    def score_all(self, source: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return self.scale * (F.normalize(source, dim=1) * self.relation) @ F.normalize(targets, dim=1).T


class MLPDecoder(nn.Module):
    def __init__(self, dim: int, hidden_dim: int = 128, layers: int = 2, dropout: float = 0.0) -> None:
        super().__init__()
        self.net = mlp(3 * dim, hidden_dim, 1, layers, dropout)

    def forward(self, source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([source, target, source * target], dim=1))[:, 0]

    def score_all(self, source: torch.Tensor, targets: torch.Tensor, chunk: int = 4096) -> torch.Tensor:
        rows = []
        for s in source:
            parts = []
            for start in range(0, targets.shape[0], chunk):
                t = targets[start : start + chunk]
                parts.append(self.forward(s.expand(t.shape[0], -1), t))
            rows.append(torch.cat(parts))
        return torch.stack(rows)


DECODERS = {"distmult": DistMultDecoder, "mlp": MLPDecoder}
