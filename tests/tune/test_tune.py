"""Optuna tuning on a Tox21 subset: search space from the config, outputs, resume, killed workers, and two
workers sharing one study on a real PostgreSQL server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

from gnn_drug.errors import ConfigError
from gnn_drug.tasks.config import load_config
from gnn_drug.tune.space import parse_search_space
from gnn_drug.tune.study import run_study
from tests.helpers import quiet, tiny_raw_config

SEARCH = {
    "model.depth": {"low": 1, "high": 3},
    "model.hidden_dim": {"low": 16, "high": 48, "step": 16},
    "train.lr": {"low": 1.0e-4, "high": 1.0e-2, "log": True},
    "featurization.extra_features": {"choices": [[], ["morgan"]]},
}


@pytest.fixture
def tune_config(tmp_path, tox21_subset, feature_cache):
    raw = tiny_raw_config(tox21_subset, feature_cache,
                          train={"epochs": 4, "batch_size": 32, "lr": 0.003, "seeds": [0]},
                          model={"encoder": "dmpnn", "hidden_dim": 32, "head_hidden_dim": 32, "depth": 2})
    raw["search"] = SEARCH
    path = tmp_path / "tune.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_search_space_errors_name_the_key():
    with pytest.raises(ConfigError, match="no 'search:' block"):
        parse_search_space(None)
    with pytest.raises(ConfigError, match=r"search.model.depth: low and high"):
        parse_search_space({"model.depth": {"low": 5, "high": 2}})
    with pytest.raises(ConfigError, match=r"search.train.lr: a log scale needs low > 0"):
        parse_search_space({"train.lr": {"low": 0, "high": 1, "log": True}})
    with pytest.raises(ConfigError, match=r"unknown field\(s\) \['hgih'\]"):
        parse_search_space({"model.depth": {"low": 1, "hgih": 2}})


def test_unknown_config_key_in_search_space_is_refused(tmp_path, tune_config):
    raw = yaml.safe_load(tune_config.read_text())
    raw["search"] = {"model.widht": {"low": 1, "high": 3}}
    tune_config.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match="search.model.widht does not give a valid config"):
        run_study(tune_config, tmp_path / "out", trials=1, study_name="s", log=quiet)


def test_study_writes_best_config_trials_and_plots_and_resumes(tmp_path, tune_config):
    out = tmp_path / "tune"
    result = run_study(tune_config, out, trials=3, study_name="tox", seed=0, log=quiet)
    assert result.finished_trials == 3 and result.best_value is not None
    best = load_config(out / "best.yaml")  # ready to train, validated like any config
    assert best.search is None
    assert best.model.depth == result.best_params["model.depth"]
    assert best.train.lr == pytest.approx(result.best_params["train.lr"])
    assert best.featurization.extra_features == json.loads(result.best_params["featurization.extra_features"])
    import pandas as pd

    trials = pd.read_csv(out / "trials.csv")
    assert len(trials) == 3 and set(trials["state"]) == {"COMPLETE"}
    assert trials["value"].max() == pytest.approx(result.best_value)
    assert "user_attrs_test_metrics" in trials.columns  # recorded, never used for selection
    for name in ("history", "importances", "parallel_coordinates"):
        assert (out / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    import optuna

    study = optuna.load_study(study_name="tox", storage=f"sqlite:///{out / 'study.db'}")
    assert all(len(t.intermediate_values) == 4 for t in study.trials)  # one report per epoch, for the pruner
    # the first trial is the base config itself, so tuning can only improve on it (on the tuning split)
    first = study.trials[0]
    assert first.user_attrs.get("base_config") is True
    assert first.params == {"model.depth": 2, "model.hidden_dim": 32, "train.lr": pytest.approx(0.003),
                            "featurization.extra_features": "[]"}
    assert result.best_value >= first.value

    again = run_study(tune_config, out, trials=4, study_name="tox", seed=0, log=quiet)  # resume: one more
    assert again.finished_trials == 4
    assert len(optuna.load_study(study_name="tox", storage=f"sqlite:///{out / 'study.db'}").trials) == 4


def _tune_cli(config, out, *extra, wait=True):
    command = [sys.executable, "-m", "gnn_drug.cli", "tune", str(config), "--out", str(out), *extra]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    if not wait:
        return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)


def test_killed_worker_trial_is_failed_and_rerun_completes_the_study(tmp_path, tune_config):
    import optuna

    raw = yaml.safe_load(tune_config.read_text())
    raw["train"]["epochs"] = 300  # long enough to be killed mid-trial
    tune_config.write_text(yaml.safe_dump(raw))
    out = tmp_path / "tune"
    worker = _tune_cli(tune_config, out, "--trials", "2", "--study", "k", "--heartbeat", "1", wait=False)
    storage = f"sqlite:///{out / 'study.db'}"
    deadline = time.time() + 120
    while time.time() < deadline and not list(out.glob("trials/k/0000/checkpoints/*.pt")):
        time.sleep(0.2)
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait()
    time.sleep(4)  # past the grace period (3 heartbeats)
    raw["train"]["epochs"] = 3
    tune_config.write_text(yaml.safe_dump(raw))
    result = _tune_cli(tune_config, out, "--trials", "2", "--study", "k", "--heartbeat", "1")
    assert result.returncode == 0, result.stderr[-2000:]
    states = [t.state for t in optuna.load_study(study_name="k", storage=storage).trials]
    assert states[0] == optuna.trial.TrialState.FAIL
    assert states.count(optuna.trial.TrialState.COMPLETE) == 2


def test_two_workers_share_one_postgresql_study(tmp_path, tune_config):
    url = os.environ.get("GNN_DRUG_TEST_POSTGRES")
    if not url:
        pytest.skip("no PostgreSQL server: set GNN_DRUG_TEST_POSTGRES (.ci/run starts one)")
    import optuna

    study_name = f"shared-{os.getpid()}-{time.time_ns()}"
    workers = [_tune_cli(tune_config, tmp_path / f"worker{k}", "--trials", "6", "--study", study_name,
                         "--storage", url, "--seed", str(k), wait=False) for k in (1, 2)]
    outputs = [w.communicate(timeout=600) for w in workers]
    for worker, (_, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err[-2000:]
    study = optuna.load_study(study_name=study_name, storage=url)
    trials = study.trials
    finished = [t for t in trials if t.state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)]
    assert len(finished) >= 6 and len(trials) == len(finished)  # none lost, none left running or failed
    assert sorted(t.number for t in trials) == list(range(len(trials)))
    assert len({t.user_attrs["worker"] for t in trials}) == 2  # both workers contributed to one study
    for trial in finished:
        assert (tmp_path / trial.user_attrs["run_dir"]).exists() or os.path.exists(trial.user_attrs["run_dir"])


def test_hyperband_pruner_and_unknown_pruner(tmp_path, tune_config):
    result = run_study(tune_config, tmp_path / "hb", trials=2, study_name="hb", pruner="hyperband", log=quiet)
    assert result.finished_trials == 2
    with pytest.raises(ConfigError, match="unknown pruner 'sometimes'"):
        run_study(tune_config, tmp_path / "x", trials=1, study_name="x", pruner="sometimes", log=quiet)
