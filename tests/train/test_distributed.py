"""Data-parallel training: 2 gloo processes on loopback give the model one process gives with the same batch."""

from __future__ import annotations

import json

import numpy as np
import torch
from safetensors.torch import load_file

from gnn_drug.tasks.molecule_property import train_run, train_run_parallel
from gnn_drug.train.distributed import DistributedContext
from tests.helpers import make_config, quiet


def test_shards_cover_a_batch_once():
    batch = np.arange(11)
    shards = [DistributedContext(rank, 3).shard(batch) for rank in range(3)]
    np.testing.assert_array_equal(np.concatenate(shards), batch)
    assert [len(s) for s in shards] == [4, 4, 3]


def test_two_processes_match_one_process(tox21_subset, feature_cache, tmp_path):
    config = make_config(tox21_subset, feature_cache,
                         train={"epochs": 3, "batch_size": 32, "lr": 0.003, "seeds": [0]},
                         model={"encoder": "dmpnn", "hidden_dim": 32, "head_hidden_dim": 32, "depth": 2})
    single = train_run(config, tmp_path / "single", log=quiet)
    threads = torch.get_num_threads()
    parallel = train_run_parallel(config, tmp_path / "ddp", nproc=2)
    torch.set_num_threads(threads)
    assert abs(parallel["val"]["roc_auc"] - single["val"]["roc_auc"]) < 1e-4
    assert abs(parallel["test"]["roc_auc"] - single["test"]["roc_auc"]) < 1e-4
    a = load_file(str(tmp_path / "single" / "model" / "weights.safetensors"))
    b = load_file(str(tmp_path / "ddp" / "model" / "weights.safetensors"))
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(a[name], b[name], atol=1e-5, rtol=1e-4)
    # rank 0 alone wrote the run: one checkpoint file, one metrics file, the same split
    assert [p.name for p in (tmp_path / "ddp" / "checkpoints").iterdir()] == ["seed_0.pt"]
    assert json.loads((tmp_path / "ddp" / "splits.json").read_text()) == json.loads(
        (tmp_path / "single" / "splits.json").read_text())
