"""The shared trainer on a small synthetic task: it learns, and an interrupted fit resumes exactly."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gnn_drug.chem import MolGraphFeaturizer
from gnn_drug.data.featurize import MoleculeFeaturizer, featurize_smiles
from gnn_drug.data.graph_dataset import MolGraphDataset
from gnn_drug.models import MoleculeModel
from gnn_drug.train.metrics import evaluate_predictions
from gnn_drug.train.trainer import TargetScaler, Trainer, TrainSettings, predict_outputs
from tests.helpers import quiet

TASKS = ["classification", "regression"]
NAMES = ["has_oxygen", "carbons"]


def molecules() -> list[str]:
    out = []
    for n in range(1, 9):
        chain = "C" * n
        out += [chain, chain + "O", chain + "N", "c1ccccc1" + chain, chain + "C(=O)O", "N" + chain + "Cl"]
    return out


@pytest.fixture(scope="module")
def datasets():
    smiles = molecules()
    featurized = featurize_smiles(smiles, MoleculeFeaturizer())
    assert len(featurized) == len(smiles)
    labels = np.array([[float("O" in s), float(s.count("C") + s.count("c"))] for s in smiles], np.float32)
    labels[::7, 0] = np.nan  # some missing labels
    full = MolGraphDataset(featurized.graphs, labels)
    idx = np.random.default_rng(0).permutation(len(smiles))
    return full.subset(idx[:36]), full.subset(idx[36:])


def new_model(dropout=0.1):
    torch.manual_seed(0)
    return MoleculeModel("dmpnn", MolGraphFeaturizer.atom_dim, MolGraphFeaturizer.bond_dim, 2, hidden_dim=32,
                         depth=3, dropout=dropout, head_hidden_dim=32)


SETTINGS = TrainSettings(epochs=6, batch_size=8, lr=3e-3, patience=100)


def test_target_scaler_standardises_regression_columns_only():
    labels = np.array([[1, 2.0], [0, 4.0], [np.nan, 6.0]], np.float32)
    scaler = TargetScaler.fit(labels, TASKS)
    scaled = scaler.transform(labels)
    np.testing.assert_array_equal(scaled[:2, 0], [1, 0])
    assert np.nanmean(scaled[:, 1]) == pytest.approx(0.0, abs=1e-6)
    assert np.nanstd(scaled[:, 1]) == pytest.approx(1.0, abs=1e-6)
    np.testing.assert_allclose(scaler.inverse(scaled)[:, 1], labels[:, 1], rtol=1e-6)


def test_trainer_learns_a_simple_task(datasets):
    train, val = datasets
    scaler = TargetScaler.fit(train.labels, TASKS)
    model = new_model(dropout=0.0)
    settings = TrainSettings(epochs=25, batch_size=8, lr=1e-2, patience=100)
    result = Trainer(settings, TASKS, NAMES, log=quiet).fit(model, train, val, scaler)
    assert result.epochs_run == 25 and len(result.history) == 25
    assert result.history[-1]["train_loss"] < 0.5 * result.history[0]["train_loss"]
    pred = predict_outputs(model, train, TASKS, scaler)
    assert ((pred[:, 0] >= 0) & (pred[:, 0] <= 1)).all()  # probabilities
    metrics = evaluate_predictions(train.labels, pred, TASKS, NAMES)
    assert metrics["roc_auc"] > 0.85  # reaches ~0.97
    assert metrics["r2"] > 0.75  # reaches ~0.9; regression predictions come back in label units


def test_resume_after_interruption_equals_an_uninterrupted_fit(datasets, tmp_path):
    train, val = datasets
    scaler = TargetScaler.fit(train.labels, TASKS)

    whole = new_model()
    full = Trainer(SETTINGS, TASKS, NAMES, tmp_path / "a.pt", log=quiet).fit(whole, train, val, scaler, seed=3)

    def interrupt(epoch, record):
        if epoch == 1:  # after the second epoch's checkpoint
            raise KeyboardInterrupt

    first = new_model()
    with pytest.raises(KeyboardInterrupt):
        Trainer(SETTINGS, TASKS, NAMES, tmp_path / "b.pt", log=quiet, on_epoch_end=interrupt).fit(
            first, train, val, scaler, seed=3)
    torch.manual_seed(12345)  # the process's RNG moved on meanwhile; resume must not depend on it
    resumed_model = new_model()
    messages = []
    resumed = Trainer(SETTINGS, TASKS, NAMES, tmp_path / "b.pt", log=messages.append).fit(
        resumed_model, train, val, scaler, seed=3, resume=True)
    assert any("resumed" in m and "after epoch 2" in m for m in messages)
    assert [r["train_loss"] for r in resumed.history] == [r["train_loss"] for r in full.history]
    assert [r["val_score"] for r in resumed.history] == [r["val_score"] for r in full.history]
    assert resumed.best_epoch == full.best_epoch and resumed.best_score == full.best_score
    for name, value in whole.state_dict().items():
        assert torch.equal(resumed_model.state_dict()[name], value), name


def test_same_seed_same_fit_different_seed_different_fit(datasets):
    train, val = datasets
    scaler = TargetScaler.fit(train.labels, TASKS)

    def losses(seed):
        result = Trainer(SETTINGS, TASKS, NAMES, log=quiet).fit(new_model(), train, val, scaler, seed=seed)
        return [r["train_loss"] for r in result.history]

    assert losses(1) == losses(1)
    assert losses(1) != losses(2)


def test_early_stopping_restores_the_best_model(datasets):
    train, val = datasets
    scaler = TargetScaler.fit(train.labels, TASKS)
    model = new_model(dropout=0.0)
    settings = TrainSettings(epochs=30, batch_size=8, lr=3e-3, patience=2)
    result = Trainer(settings, TASKS, NAMES, log=quiet).fit(model, train, val, scaler)
    assert result.epochs_run <= 30
    scores = [r["val_score"] for r in result.history]
    assert result.best_score == pytest.approx(max(scores))
    assert result.best_epoch == int(np.argmax(scores)) + 1
    assert result.epochs_run - result.best_epoch <= 2 or result.epochs_run == 30
    # the returned model is the best-scoring one, not the last
    from gnn_drug.train.metrics import selection_score

    val_metrics = evaluate_predictions(val.labels, predict_outputs(model, val, TASKS, scaler), TASKS, NAMES)
    assert selection_score(val_metrics, TASKS) == pytest.approx(result.best_score, abs=1e-6)


def test_loss_selection_keeps_the_epoch_with_the_lowest_validation_loss(datasets):
    from gnn_drug.train.losses import MaskedMultiTaskLoss
    from gnn_drug.train.trainer import masked_loss_on

    train, val = datasets
    scaler = TargetScaler.fit(train.labels, TASKS)
    model = new_model(dropout=0.0)
    settings = TrainSettings(epochs=8, batch_size=8, lr=3e-3, patience=100, selection="loss")
    result = Trainer(settings, TASKS, NAMES, log=quiet).fit(model, train, val, scaler)
    scores = [r["val_score"] for r in result.history]
    assert all(s < 0 for s in scores)  # the score is minus a loss
    assert result.best_epoch == int(np.argmax(scores)) + 1
    # the returned model's validation loss is the best one recorded
    loss = masked_loss_on(MaskedMultiTaskLoss(TASKS), predict_outputs(model, val, TASKS, scaler), val.labels,
                          TASKS, scaler)
    assert -loss == pytest.approx(max(scores), rel=1e-4)
