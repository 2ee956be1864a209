"""Collation of molecular graphs into PyG-layout batches; extra-feature scaling; atomic writes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from rdkit import Chem

from gnn_drug.chem import MolGraphFeaturizer
from gnn_drug.data.atomic import atomic_path, atomic_write_text
from gnn_drug.data.graph_dataset import MolGraphDataset
from gnn_drug.data.scaling import FeatureScaler

SMILES = ["CCO", "c1ccccc1", "C", "CC(=O)O"]


@pytest.fixture
def dataset():
    featurizer = MolGraphFeaturizer()
    graphs = [featurizer(Chem.MolFromSmiles(s)) for s in SMILES]
    labels = np.array([[1, np.nan], [0, 2.5], [1, 0.0], [np.nan, 1.0]], dtype=np.float32)
    extras = np.arange(8, dtype=np.float32).reshape(4, 2)
    return MolGraphDataset(graphs, labels, extras)


def test_collate_offsets_edges_and_assigns_atoms_to_graphs(dataset):
    batch = dataset.collate([1, 3])
    assert batch.num_graphs == 2
    assert batch.x.shape == (6 + 4, MolGraphFeaturizer.atom_dim)
    assert batch.batch.tolist() == [0] * 6 + [1] * 4
    assert batch.edge_index.shape == (2, 12 + 6)
    # the second molecule's edges point at its own atoms (offset by benzene's 6)
    assert batch.edge_index[:, :12].max() == 5
    assert batch.edge_index[:, 12:].min() == 6 and batch.edge_index[:, 12:].max() == 9
    # reverse pairing survives collation
    assert torch.equal(batch.edge_index[:, 0::2], batch.edge_index.flip(0)[:, 1::2])
    assert torch.equal(batch.extra, torch.tensor([[2.0, 3.0], [6.0, 7.0]]))
    np.testing.assert_array_equal(batch.y.numpy(), dataset.labels[[1, 3]])


def test_collate_handles_edgeless_molecules(dataset):
    batch = dataset.collate([2, 2])
    assert batch.x.shape[0] == 2 and batch.edge_index.shape == (2, 0)


def test_batches_cover_every_index_and_shuffle_by_seed(dataset):
    def order(seed, shuffle=True):
        return [row for b in dataset.batches(3, shuffle=shuffle, seed=seed) for row in b.extra[:, 0].tolist()]

    assert sorted(order(0)) == [0.0, 2.0, 4.0, 6.0]
    assert order(0, shuffle=False) == [0.0, 2.0, 4.0, 6.0]
    assert order(5) == order(5)
    assert len({tuple(order(s)) for s in range(10)}) > 1


def test_subset_keeps_labels_and_extras_aligned(dataset):
    sub = dataset.subset(np.array([3, 0]))
    assert len(sub) == 2
    np.testing.assert_array_equal(sub.extras, [[6, 7], [0, 1]])
    np.testing.assert_array_equal(sub.labels, dataset.labels[[3, 0]])


def test_feature_scaler_fits_train_statistics_and_imputes():
    train = np.array([[1.0, 10.0, 5.0], [3.0, np.nan, 5.0]])
    scaler = FeatureScaler(clip=3.0).fit(train)
    out = scaler.transform(np.array([[2.0, np.nan, 5.0], [100.0, 10.0, 7.0]]))
    np.testing.assert_allclose(out[0], [0.0, 0.0, 0.0])  # mean -> 0, NaN -> 0, constant column -> 0
    assert out[1, 0] == 3.0  # clipped
    clone = FeatureScaler.from_state(**scaler.state(), clip=3.0)
    np.testing.assert_array_equal(clone.transform(train), scaler.transform(train))
    with pytest.raises(RuntimeError):
        FeatureScaler().transform(train)


def test_atomic_write_leaves_previous_version_on_error(tmp_path):
    target = tmp_path / "file.txt"
    atomic_write_text(target, "old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half-written")
        raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["file.txt"]
