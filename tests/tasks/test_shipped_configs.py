"""The task configs shipped under experiments/ validate, and every pair benchmark run's overrides apply: a typo there
would otherwise only surface an hour into a benchmark."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from gnn_drug.tasks.config import load_config

EXPERIMENTS = Path(__file__).parents[2] / "experiments"
TASK_CONFIGS = sorted(p for task in ("toxicity", "affinity", "response") for p in (EXPERIMENTS / task).glob("*.yaml"))


def _bench_pairs():
    spec = importlib.util.spec_from_file_location("bench_pairs", EXPERIMENTS / "bench_pairs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("path", TASK_CONFIGS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_shipped_task_config_loads(path):
    config = load_config(path)
    assert config.task == path.parent.name


def test_pair_benchmark_runs_validate_and_only_seen_item_splits_remember_items_or_read_evidence():
    runs = _bench_pairs().RUNS
    assert {"davis_setting1", "kiba_setting1", "davis_cold_drug", "davis_cold_target", "davis_cold_both",
            "gdsc_v6_mixed", "gdsc_v6_blind_cell", "gdsc_v6_blind_drug", "gdsc2_tgsa"} <= set(runs)
    for name, (family, config_file, overrides, _) in runs.items():
        config = load_config(EXPERIMENTS / config_file, overrides)
        assert config.task == family, name
        # a per-item memory only helps where test items were seen in training (random or predefined pairs)
        seen = config.split.method in ("random", "predefined")
        assert config.model.embed_known == seen, name
        # neighbour evidence of a training pair includes its compound's and entity's other measurements, which a
        # held-out compound or entity never has: cold and blind splits must not train on it
        assert not config.model.neighbour_evidence or seen, name
        # every run blends in the matrix factorisation: validation pairs as unfamiliar as the test pairs choose its
        # share (zero where it does not help)
        assert config.model.factorization, name
