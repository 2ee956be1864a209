"""Masked multi-task loss: BCE-with-logits for classification columns, MSE for (scaled) regression columns;
missing labels (NaN) contribute nothing; the loss is the mean over all labelled (molecule, task) entries."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.nn import functional as F

from gnn_drug.data.tables import CLASSIFICATION


class MaskedMultiTaskLoss:
    def __init__(self, task_types: Sequence[str], pos_weight: torch.Tensor | None = None) -> None:
        self.is_class = torch.tensor([t == CLASSIFICATION for t in task_types])
        self.pos_weight = pos_weight

    def __call__(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        total, count = self.sum_and_count(output, target)
        return total / count.clamp(min=1)

    def sum_and_count(self, output: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Summed loss and number of labelled entries (distributed training divides by the global count)."""
        mask = ~torch.isnan(target)
        filled = torch.where(mask, target, torch.zeros_like(target))
        is_class = self.is_class.to(output.device).expand_as(output)
        bce = F.binary_cross_entropy_with_logits(
            output, filled, reduction="none",
            pos_weight=None if self.pos_weight is None else self.pos_weight.to(output.device),
        )
        mse = (output - filled) ** 2
        per_entry = torch.where(is_class, bce, mse) * mask
        return per_entry.sum(), mask.sum().to(per_entry.dtype)


def positive_class_weights(labels: torch.Tensor, task_types: Sequence[str]) -> torch.Tensor:
    """n_negative / n_positive per classification task (1 for regression or label-less tasks)."""
    weights = []
    for j, kind in enumerate(task_types):
        column = labels[:, j]
        column = column[~torch.isnan(column)]
        pos = float((column == 1).sum())
        neg = float((column == 0).sum())
        weights.append(neg / pos if kind == CLASSIFICATION and pos > 0 and neg > 0 else 1.0)
    return torch.tensor(weights, dtype=torch.float32)
