"""Shared fixtures: the dataset mirror (tests skip without it), an isolated per-session cache, and one tiny trained
Tox21 run reused by the task and CLI tests."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from tests.helpers import INVALID_SMILES, MIRROR_SKIP, SUBSET_ROWS, make_config, quiet


def pytest_collection_modifyitems(items):
    """Tests that use the mirror carry the ``data`` marker (``-m 'not data'`` runs only the others)."""
    for item in items:
        if "data_dir" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.data)


@pytest.fixture(scope="session", autouse=True)
def _isolated_environment(tmp_path_factory):
    """No test writes into ~/.cache: GNN_DRUG_CACHE is a session temp folder. Torch runs on one thread (the
    machine has 2 shared cores, and the tiny models here are faster single-threaded)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    mp = pytest.MonkeyPatch()
    mp.setenv("GNN_DRUG_CACHE", str(tmp_path_factory.mktemp("gnn-drug-cache")))
    yield
    mp.undo()
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The public dataset mirror from $GNN_DRUG_DATA; tests that need it are skipped without it."""
    value = os.environ.get("GNN_DRUG_DATA")
    if not value:
        pytest.skip(MIRROR_SKIP)
    path = Path(value)
    if not (path / "moleculenet" / "tox21.csv").is_file():
        pytest.fail(f"GNN_DRUG_DATA={value} does not hold moleculenet/tox21.csv")
    return path


@pytest.fixture(scope="session")
def tox21_path(data_dir) -> Path:
    return data_dir / "moleculenet" / "tox21.csv"


@pytest.fixture(scope="session")
def tox21_frame(tox21_path) -> pd.DataFrame:
    return pd.read_csv(tox21_path, dtype=str, keep_default_na=False)


@pytest.fixture(scope="session")
def clintox_smiles(data_dir) -> list[str]:
    return pd.read_csv(data_dir / "moleculenet" / "clintox.csv")["smiles"].tolist()


@pytest.fixture(scope="session")
def feature_cache(tmp_path_factory) -> Path:
    """One feature cache for the whole session (what ``featurization.cache_dir`` points at)."""
    return tmp_path_factory.mktemp("feature-cache")


@pytest.fixture(scope="session")
def tox21_subset(tox21_frame, tmp_path_factory) -> Path:
    """The first 300 Tox21 rows plus one invalid SMILES as the last row (row 301), written to a temp CSV."""
    frame = tox21_frame.head(SUBSET_ROWS).copy()
    bad = dict.fromkeys(frame.columns, "")
    bad["smiles"] = INVALID_SMILES
    bad["NR-AR"] = "1"
    frame = pd.concat([frame, pd.DataFrame([bad])], ignore_index=True)
    path = tmp_path_factory.mktemp("tox21-subset") / "tox21_subset.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def tiny_config(tox21_subset, feature_cache):
    return make_config(tox21_subset, feature_cache)


@pytest.fixture(scope="session")
def trained_run(tiny_config, tmp_path_factory) -> Path:
    """One finished tiny D-MPNN run on the Tox21 subset; its directory is shared by read-only tests."""
    from gnn_drug.tasks.molecule_property import train_run

    out = tmp_path_factory.mktemp("runs") / "tox21_tiny"
    train_run(tiny_config, out, log=quiet)
    return out
