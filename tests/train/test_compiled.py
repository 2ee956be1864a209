"""Compiled inference: the same predictions as the eager model, one compiled graph for batches of every size, and a
clear fall-back when compiling fails."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gnn_drug.chem import MolGraphFeaturizer
from gnn_drug.data.featurize import MoleculeFeaturizer, featurize_smiles
from gnn_drug.data.graph_dataset import MolGraphDataset
from gnn_drug.models import MoleculeModel
from gnn_drug.train import compiled as compiled_module
from gnn_drug.train.trainer import TargetScaler, predict_outputs

TASKS = ["classification", "regression"]


@pytest.fixture(scope="module")
def dataset(tox21_frame) -> MolGraphDataset:
    featurized = featurize_smiles(tox21_frame["smiles"].tolist()[:300], MoleculeFeaturizer())
    return MolGraphDataset(featurized.graphs)


def new_model(encoder: str = "dmpnn") -> MoleculeModel:
    torch.manual_seed(0)
    return MoleculeModel(encoder, MolGraphFeaturizer.atom_dim, MolGraphFeaturizer.bond_dim, 2, hidden_dim=64,
                         depth=3, head_hidden_dim=32).eval()


@pytest.mark.skipif(not compiled_module.compiler_available(), reason="no C++ compiler for torch.compile")
def test_compiled_predictions_equal_eager_ones_for_batches_of_every_size(dataset):
    from torch._dynamo.utils import counters

    model = new_model()
    scaler = TargetScaler.fit(np.zeros((2, 2), np.float32), TASKS)
    eager = predict_outputs(model, dataset, TASKS, scaler, batch_size=64)
    counters.clear()
    # 300 molecules in batches of 64: the last batch has 44, a shape the first compiled graph did not see
    compiled = predict_outputs(model, dataset, TASKS, scaler, batch_size=64, compile=True)
    assert counters["stats"]["unique_graphs"] == 1  # dynamic shapes: one graph, no recompilation per batch size
    assert model not in compiled_module._FAILED and model in compiled_module._COMPILED
    np.testing.assert_allclose(compiled, eager, rtol=1e-4, atol=1e-5)
    bf16 = predict_outputs(model, dataset, TASKS, scaler, batch_size=64, precision="bf16", compile=True)
    assert np.abs(bf16 - eager)[:, 0].max() < 0.02  # probabilities, bfloat16 matrix products


def test_a_model_that_cannot_be_compiled_runs_eagerly_with_a_warning(dataset, monkeypatch):
    def broken_compile(model, **kwargs):
        def forward(batch):
            raise RuntimeError("InductorError: CppCompileError: C++ compile error\nmore detail")
        return forward

    monkeypatch.setattr(torch, "compile", broken_compile)
    model = new_model("gine")
    scaler = TargetScaler.fit(np.zeros((2, 2), np.float32), TASKS)
    with pytest.warns(RuntimeWarning, match="torch.compile failed .*CppCompileError.*running the model without"):
        outputs = predict_outputs(model, dataset, TASKS, scaler, compile=True)
    np.testing.assert_array_equal(outputs, predict_outputs(model, dataset, TASKS, scaler))
    assert model in compiled_module._FAILED  # later batches do not try again
