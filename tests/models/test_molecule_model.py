"""MoleculeModel with each encoder: output shape, invariance to molecule and atom order, use of extra features."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from rdkit import Chem

from gnn_drug.chem import MolGraphFeaturizer
from gnn_drug.data.graph_dataset import MolGraphDataset
from gnn_drug.models import ENCODERS, MoleculeModel
from tests.helpers import SMALL_SMILES

NUM_TASKS = 3
EXTRA_DIM = 4


def make_model(encoder: str, extra_dim: int = 0, readout: str = "mean") -> MoleculeModel:
    torch.manual_seed(0)
    model = MoleculeModel(encoder, MolGraphFeaturizer.atom_dim, MolGraphFeaturizer.bond_dim, NUM_TASKS,
                          extra_dim=extra_dim, hidden_dim=32, depth=2, head_hidden_dim=32, readout=readout)
    return model.eval()


def make_dataset(smiles=SMALL_SMILES, extras=None) -> MolGraphDataset:
    featurizer = MolGraphFeaturizer()
    graphs = [featurizer(Chem.MolFromSmiles(s)) for s in smiles]
    return MolGraphDataset(graphs, None, extras)


@pytest.fixture(scope="module")
def extras():
    return np.random.default_rng(0).normal(size=(len(SMALL_SMILES), EXTRA_DIM)).astype(np.float32)


def predict(model, dataset, order):
    with torch.no_grad():
        return model(dataset.collate(order)).numpy()


def test_all_three_encoders_are_registered():
    assert set(ENCODERS) == {"dmpnn", "gine", "attentivefp"}


@pytest.mark.parametrize("encoder", sorted(ENCODERS))
def test_output_shape(encoder):
    model = make_model(encoder)
    dataset = make_dataset()
    out = predict(model, dataset, range(len(dataset)))
    assert out.shape == (len(SMALL_SMILES), NUM_TASKS)
    assert np.isfinite(out).all()


@pytest.mark.parametrize("encoder", sorted(ENCODERS))
def test_permuting_molecules_in_a_batch_permutes_predictions(encoder, extras):
    model = make_model(encoder, EXTRA_DIM)
    dataset = make_dataset(extras=extras)
    order = np.arange(len(dataset))
    base = predict(model, dataset, order)
    perm = np.random.default_rng(1).permutation(len(dataset))
    assert not np.array_equal(perm, order)
    np.testing.assert_allclose(predict(model, dataset, perm), base[perm], rtol=1e-5, atol=1e-6)
    # a molecule's prediction does not depend on which other molecules share its batch
    alone = np.concatenate([predict(model, dataset, [i]) for i in order])
    np.testing.assert_allclose(alone, base, rtol=1e-5, atol=1e-6)
    # and different molecules do get different predictions
    assert not np.allclose(base[0], base[1])


@pytest.mark.parametrize("encoder", sorted(ENCODERS))
def test_renumbering_atoms_does_not_change_the_prediction(encoder):
    model = make_model(encoder)
    written = ["CC(=O)Oc1ccccc1C(=O)O", "OC(=O)c1ccccc1OC(C)=O"]  # aspirin, atoms in a different order
    out = predict(model, make_dataset(written), [0, 1])
    np.testing.assert_allclose(out[0], out[1], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("encoder", sorted(ENCODERS))
def test_extra_features_change_the_output(encoder, extras):
    model = make_model(encoder, EXTRA_DIM)
    base = predict(model, make_dataset(extras=extras), range(len(SMALL_SMILES)))
    changed = extras.copy()
    changed[:, 0] += 5.0
    moved = predict(model, make_dataset(extras=changed), range(len(SMALL_SMILES)))
    assert not np.allclose(base, moved, atol=1e-4)
    # extras of one molecule only affect that molecule
    single = extras.copy()
    single[2] += 5.0
    out = predict(model, make_dataset(extras=single), range(len(SMALL_SMILES)))
    assert not np.allclose(out[2], base[2], atol=1e-4)
    np.testing.assert_allclose(np.delete(out, 2, axis=0), np.delete(base, 2, axis=0), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("readout", ["mean", "sum", "max", "mean_max"])
def test_dmpnn_readouts(readout):
    model = make_model("dmpnn", readout=readout)
    out = predict(model, make_dataset(), range(len(SMALL_SMILES)))
    assert out.shape == (len(SMALL_SMILES), NUM_TASKS)


def test_dmpnn_uses_bond_direction_pairing():
    """Breaking the 'reverse of edge i is i ^ 1' layout changes D-MPNN messages (the encoder relies on it)."""
    model = make_model("dmpnn")
    dataset = make_dataset(["CC(=O)Oc1ccccc1C(=O)O"])
    batch = dataset.collate([0])
    with torch.no_grad():
        base = model(batch).numpy()
        shift = torch.roll(torch.arange(batch.edge_index.shape[1]), 1)
        batch.edge_index = batch.edge_index[:, shift]
        batch.edge_attr = batch.edge_attr[shift]
        broken = model(batch).numpy()
    assert not np.allclose(base, broken, atol=1e-5)


def test_unknown_encoder_is_refused():
    with pytest.raises(ValueError, match="unknown encoder 'gat'"):
        MoleculeModel("gat", 10, 5, 1)


def test_gradients_reach_every_parameter():
    model = make_model("dmpnn", EXTRA_DIM).train()
    extras = np.ones((len(SMALL_SMILES), EXTRA_DIM), np.float32)
    loss = model(make_dataset(extras=extras).collate(range(len(SMALL_SMILES)))).pow(2).sum()
    loss.backward()
    missing = [name for name, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert missing == []


def _reference_dmpnn_atoms(encoder, x, edge_index, edge_attr) -> torch.Tensor:
    """D-MPNN written out from its definition, one directed bond at a time (the encoder's fast form must agree)."""
    src, dst = edge_index.tolist()
    h0 = [torch.relu(encoder.W_i(torch.cat([x[s], edge_attr[e]]))) for e, s in enumerate(src)]
    h = h0
    for _ in range(encoder.depth - 1):
        h = [torch.relu(h0[e] + encoder.W_h(sum((h[k] for k in range(len(src)) if dst[k] == src[e] and k != e ^ 1),
                                                 torch.zeros_like(h0[e])))) for e in range(len(src))]
    incoming = [sum((h[k] for k in range(len(src)) if dst[k] == v), torch.zeros_like(h0[0])) for v in range(len(x))]
    return torch.stack([torch.relu(encoder.W_o(torch.cat([x[v], incoming[v]]))) for v in range(len(x))])


def test_dmpnn_encoder_equals_its_per_bond_definition_in_value_and_gradient():
    torch.manual_seed(0)
    encoder = ENCODERS["dmpnn"](MolGraphFeaturizer.atom_dim, MolGraphFeaturizer.bond_dim, hidden_dim=16, depth=3,
                                readout="sum").double()
    batch = make_dataset(["CC(=O)Oc1ccccc1C(=O)O", "C1CC1N"]).collate([0, 1])
    x, edge_attr = batch.x.double().requires_grad_(), batch.edge_attr.double()
    batch.x, batch.edge_attr = x, edge_attr
    fast = encoder(batch)
    atoms = _reference_dmpnn_atoms(encoder, x, batch.edge_index, edge_attr)
    reference = torch.zeros(2, atoms.shape[1], dtype=atoms.dtype).index_add_(0, batch.batch, atoms)
    assert torch.allclose(fast, reference, atol=1e-10)
    fast_grad = torch.autograd.grad(fast.pow(2).sum(), [x, encoder.W_h.weight])
    reference_grad = torch.autograd.grad(reference.pow(2).sum(), [x, encoder.W_h.weight])
    for a, b in zip(fast_grad, reference_grad, strict=True):
        assert torch.allclose(a, b, atol=1e-9)


@pytest.mark.parametrize("encoder", sorted(ENCODERS))
def test_a_padded_batch_gives_the_same_predictions_and_bucketed_shapes(encoder, extras):
    model = make_model(encoder, EXTRA_DIM)
    batch = make_dataset(extras=extras).collate(range(len(SMALL_SMILES)))
    padded = batch.padded(64)
    assert padded.x.shape[0] % 64 == 0 and padded.edge_index.shape[1] % 64 == 0
    assert padded.num_graphs == batch.num_graphs + 1 and padded.x.shape[0] > batch.x.shape[0]
    with torch.no_grad():
        plain, with_filler = model(batch), model(padded)
    assert with_filler.shape == (batch.num_graphs + 1, NUM_TASKS)
    assert torch.allclose(plain, with_filler[: batch.num_graphs], atol=1e-5)
