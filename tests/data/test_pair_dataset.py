import numpy as np
import torch

from gnn_drug.chem import MolGraphFeaturizer
from gnn_drug.data.featurize import MoleculeFeaturizer, featurize_smiles
from gnn_drug.data.graph_dataset import MolGraphDataset
from gnn_drug.data.pair_dataset import PairDataset
from gnn_drug.data.sequences import kmer_composition, tokenize_sequences
from gnn_drug.models.pair_model import PairModel
from gnn_drug.models.sequence_cnn import SequenceCNN
from gnn_drug.models.vector_mlp import VectorMLP
from tests.helpers import SMALL_SMILES

SEQUENCES = ["MKVLAAGIVG", "MSTNPKPQRKTKRNTNRRPQDVKFPGGGQIVGGVYLLPRRGPRLGVRATRK", "ACDEFGHIKL"]


def _dataset(inputs):
    featurized = featurize_smiles(SMALL_SMILES, MoleculeFeaturizer())
    compounds = MolGraphDataset(featurized.graphs)
    rng = np.random.default_rng(0)
    comp = rng.integers(0, len(SMALL_SMILES), 40)
    ent = rng.integers(0, len(SEQUENCES), 40)
    return PairDataset(compounds, inputs, comp, ent, rng.normal(size=40))


def test_a_batch_holds_each_distinct_compound_and_entity_once():
    ds = _dataset(tokenize_sequences(SEQUENCES, 64))
    idx = np.arange(40)
    batch = ds.collate(idx)
    assert batch.compounds.num_graphs == len(np.unique(ds.compound_index))
    assert batch.entities.shape[0] == len(np.unique(ds.entity_index))
    assert batch.entities.shape[1] == max(len(s) for s in SEQUENCES)  # padding beyond the longest is trimmed
    assert batch.num_graphs == 40
    # the positions point back at the right compound / entity
    comp_ids = np.unique(ds.compound_index)[batch.compound_pos.numpy()]
    assert np.array_equal(comp_ids, ds.compound_index)


def test_pair_model_gives_each_pair_the_same_output_alone_or_in_a_batch():
    torch.manual_seed(0)
    for inputs, encoder in ((tokenize_sequences(SEQUENCES, 64), SequenceCNN(27, 16, (8, 8), 3, 16)),
                            (kmer_composition(SEQUENCES), VectorMLP(420, 32, 16))):
        ds = _dataset(inputs)
        model = PairModel("dmpnn", MolGraphFeaturizer.atom_dim, MolGraphFeaturizer.bond_dim, encoder,
                          hidden_dim=32, head_hidden_dim=32).eval()
        with torch.no_grad():
            together = model(ds.collate(np.arange(40)))[:, 0]
            alone = torch.cat([model(ds.collate(np.array([i])))[:, 0] for i in range(40)])
        torch.testing.assert_close(together, alone, rtol=1e-4, atol=1e-5)


def test_subset_and_with_labels_keep_shared_inputs():
    ds = _dataset(kmer_composition(SEQUENCES))
    sub = ds.subset(np.array([3, 5]))
    assert len(sub) == 2 and sub.labels[1, 0] == ds.labels[5, 0]
    relabelled = sub.with_labels(np.zeros(2))
    assert relabelled.labels.tolist() == [[0.0], [0.0]] and relabelled.entity_inputs is ds.entity_inputs
