"""Constants and helpers shared by the tests (fixtures live in conftest.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

MIRROR_SKIP = "GNN_DRUG_DATA not set: the public dataset mirror is needed for this test"

# Small, chemically varied molecules with hand-checkable structure.
SMALL_SMILES = [
    "CCO",
    "c1ccccc1",
    "CC(=O)Oc1ccccc1C(=O)O",  # aspirin
    "O=[N+]([O-])c1ccccc1",  # nitrobenzene
    "C[C@H](N)O",
    "F/C=C/F",
    "CN1CCC[C@H]1c1cccnc1",  # nicotine
    "C",  # methane: a graph without edges
]

# A tiny D-MPNN that learns something on 300 Tox21 molecules in a couple of seconds on one core.
TINY_MODEL = {"encoder": "dmpnn", "hidden_dim": 64, "head_hidden_dim": 64, "depth": 3}
TINY_TRAIN = {"epochs": 40, "batch_size": 16, "lr": 0.003, "patience": 100, "seeds": [0]}
TINY_SPLIT = {"method": "random", "sizes": [0.6, 0.2, 0.2], "seed": 0}
SUBSET_ROWS = 300
# Appended to the Tox21 subset as its last row: RDKit cannot parse it (unclosed ring), so it must be rejected.
INVALID_SMILES = "C1CCN"


def tiny_raw_config(source: Path | str, feature_cache: Path, **sections) -> dict:
    """The raw (unvalidated) config of a tiny run; keyword arguments replace whole sections."""
    raw = {
        "task": "toxicity",
        "data": {"source": str(source)},
        "split": dict(TINY_SPLIT),
        "featurization": {"n_workers": 1, "cache_dir": str(feature_cache)},
        "model": dict(TINY_MODEL),
        "train": dict(TINY_TRAIN),
    }
    raw.update(sections)
    return raw


def make_config(source: Path | str, feature_cache: Path, **sections):
    """A validated TaskConfig for a tiny run; keyword arguments replace whole sections (model=..., train=...)."""
    from gnn_drug.tasks.config import load_config

    return load_config(raw=tiny_raw_config(source, feature_cache, **sections))


def quiet(_message: str) -> None:
    """A log callback that drops training progress lines."""


def assert_graphs_equal(a, b) -> None:
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.edge_index, b.edge_index)
    np.testing.assert_array_equal(a.edge_attr, b.edge_attr)
