"""Masked multi-task loss: NaN labels contribute nothing."""

from __future__ import annotations

import math

import pytest
import torch
from torch.nn import functional as F

from gnn_drug.train.losses import MaskedMultiTaskLoss, positive_class_weights

NAN = float("nan")


def test_loss_value_on_a_hand_example():
    loss_fn = MaskedMultiTaskLoss(["classification", "regression"])
    output = torch.tensor([[0.0, 1.0], [2.0, 3.0]])
    target = torch.tensor([[1.0, 2.0], [0.0, 1.0]])
    bce0 = math.log(2.0)  # sigmoid(0) vs 1
    bce1 = math.log(1 + math.exp(2.0))  # logit 2 vs 0
    expected = (bce0 + bce1 + 1.0 + 4.0) / 4
    assert loss_fn(output, target).item() == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("task_types", [["classification", "classification"], ["classification", "regression"]])
def test_masked_positions_do_not_affect_the_loss(task_types):
    loss_fn = MaskedMultiTaskLoss(task_types)
    target = torch.tensor([[1.0, NAN], [NAN, 0.0], [0.0, 1.0]])
    output = torch.tensor([[0.3, -0.2], [1.5, 0.7], [-1.0, 2.0]], requires_grad=True)
    base = loss_fn(output, target)
    for masked_value in (-1e6, 0.0, 7.0, 1e6):
        moved = output.detach().clone()
        moved[0, 1] = masked_value
        moved[1, 0] = masked_value
        assert loss_fn(moved, target).item() == pytest.approx(base.item(), rel=1e-6)
    base.backward()
    assert output.grad[0, 1] == 0 and output.grad[1, 0] == 0
    assert output.grad[0, 0] != 0 and torch.isfinite(output.grad).all()


def test_loss_equals_the_unmasked_loss_over_labelled_entries():
    loss_fn = MaskedMultiTaskLoss(["classification"] * 2)
    target = torch.tensor([[1.0, NAN], [NAN, 0.0], [0.0, 1.0]])
    output = torch.tensor([[0.3, -0.2], [1.5, 0.7], [-1.0, 2.0]])
    mask = ~torch.isnan(target)
    expected = F.binary_cross_entropy_with_logits(output[mask], target[mask])
    assert loss_fn(output, target).item() == pytest.approx(expected.item(), rel=1e-6)


def test_all_missing_batch_gives_zero_not_nan():
    loss_fn = MaskedMultiTaskLoss(["classification"])
    loss = loss_fn(torch.tensor([[0.5], [0.1]]), torch.tensor([[NAN], [NAN]]))
    assert loss.item() == 0.0


def test_positive_class_weights():
    labels = torch.tensor([[1.0, 2.0, 1.0], [0.0, 3.0, 1.0], [0.0, NAN, NAN], [0.0, 1.0, 1.0]])
    weights = positive_class_weights(labels, ["classification", "regression", "classification"])
    assert weights.tolist() == [3.0, 1.0, 1.0]  # 3 neg / 1 pos; regression; no negatives
