"""End-to-end retraining on real Tox21 rows: promote on better data, refuse shuffled labels, do nothing on
unchanged data, refuse invalid data, keep the registry intact when a run is killed, and lock out a second run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from gnn_drug.registry import open_registry
from gnn_drug.retrain.job import load_job
from gnn_drug.retrain.lock import JobLock
from gnn_drug.retrain.runner import (
    EXIT_INVALID_DATA,
    EXIT_LOCKED,
    EXIT_NOT_PROMOTED,
    EXIT_OK,
    NOT_PROMOTED,
    NOTHING_TO_DO,
    PROMOTED,
    run_job,
)
from tests.helpers import quiet


def _run(folder):
    return run_job(load_job(folder.job_path), quiet)


def test_promote_better_refuse_shuffled_and_skip_unchanged(job_folder):
    registry = open_registry(job_folder.root / "registry")
    job_folder.add_batch("batch_001.csv", 0, 200)
    first = _run(job_folder)
    assert first.decision == PROMOTED and first.exit_code == EXIT_OK
    assert "no champion yet" in first.reason
    assert registry.aliases("tox21") == {"champion": 1}
    assert not list(job_folder.root.rglob("*.tmp"))  # temporaries of the killed run are gone

    unchanged = _run(job_folder)
    assert unchanged.decision == NOTHING_TO_DO and unchanged.exit_code == EXIT_OK
    assert [v.version for v in registry.versions("tox21")] == [1]

    job_folder.add_batch("batch_002.csv", 200, 900)  # more real data: the model gets better
    better = _run(job_folder)
    assert better.decision == PROMOTED, better.reason
    primary = better.record["checks"][0]
    assert primary["challenger"] > primary["champion"]
    assert registry.aliases("tox21") == {"champion": 2}

    job_folder.write_job(promotion={"metric": "roc_auc", "min_improvement": 0.01, "secondary": {"pr_auc": 0.1}})
    job_folder.add_batch("batch_003.csv", 900, 3000, shuffle_labels=True)  # a broken export: labels misaligned
    worse = _run(job_folder)
    assert worse.decision == NOT_PROMOTED and worse.exit_code == EXIT_NOT_PROMOTED, worse.reason
    assert registry.aliases("tox21") == {"champion": 2, "challenger": 3}
    failed = [c for c in worse.record["checks"] if not c["passed"]]
    assert failed, worse.record["checks"]

    again = _run(job_folder)  # same data, same champion: not trained twice
    assert again.decision == NOTHING_TO_DO and "already evaluated" in again.reason
    assert [v.version for v in registry.versions("tox21")] == [1, 2, 3]

    audits = sorted((job_folder.root / "audit").glob("tox21-nightly-*.json"))
    assert len(audits) == 5
    record = json.loads(worse.audit_path.read_text())
    assert record["decision"] == NOT_PROMOTED and record["data"]["fingerprint"]
    assert record["champion"]["holdout"]["roc_auc"] > 0.5 and "roc_auc" in record["challenger"]["holdout"]
    assert record["drift"]["available"] and "mol_wt" in record["drift"]["properties"]
    summary = worse.audit_path.with_suffix(".txt").read_text()
    assert "NOT PROMOTED" in summary and "roc_auc" in summary

    history = (job_folder.root / "audit" / "tox21-nightly.jsonl").read_text().splitlines()
    assert [json.loads(line)["decision"] for line in history] == [PROMOTED, NOTHING_TO_DO, PROMOTED, NOT_PROMOTED,
                                                                 NOTHING_TO_DO]


def test_invalid_data_is_refused_with_file_row_and_reason(job_folder):
    path = job_folder.add_batch("batch_001.csv", 0, 60)
    text = path.read_text().splitlines()
    cells = text[5].split(",")
    cells[1] = "active"  # a label that is not a number, on data row 5
    text[5] = ",".join(cells)
    path.write_text("\n".join(text) + "\n")
    outcome = _run(job_folder)
    assert outcome.decision == "invalid_data" and outcome.exit_code == EXIT_INVALID_DATA
    assert "batch_001.csv" in outcome.reason and "row 5" in outcome.reason and "'active'" in outcome.reason
    assert not (job_folder.root / "registry").exists()

    job_folder.add_batch("batch_001.csv", 0, 60)
    broken = job_folder.root / "incoming" / "batch_002.csv"
    broken.write_text("smiles,NR-AhR,SR-ARE,SR-MMP,SR-p53\n" + "C1CC,1,0,0,0\n" * 20)
    outcome = _run(job_folder)
    assert outcome.exit_code == EXIT_INVALID_DATA
    assert "cannot be parsed" in outcome.reason and "batch_002.csv row 1" in outcome.reason
    assert outcome.record["validation"]["invalid_molecules"] == 20


def test_unexpected_failure_is_audited_and_leaves_the_champion(job_folder, monkeypatch):
    import gnn_drug.retrain.runner as runner

    job_folder.add_batch("batch_001.csv", 0, 60)

    def broken_training(*args, **kwargs):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(runner, "train_run", broken_training)
    outcome = _run(job_folder)
    assert outcome.decision == "failed" and outcome.exit_code == 1 and "RuntimeError: out of memory" in outcome.reason
    record = json.loads(outcome.audit_path.read_text())
    assert "broken_training" in record["traceback"]
    assert not (job_folder.root / "registry").exists()


def _cli(folder, *extra, wait=True):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "gnn_drug.cli", "retrain", str(folder.job_path), *extra]
    if not wait:
        return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)


def test_second_run_is_locked_out(job_folder):
    job_folder.add_batch("batch_001.csv", 0, 60)
    job = load_job(job_folder.job_path)
    with JobLock(job.path(job.work_dir) / "job.lock", job.name):
        result = _cli(job_folder, "--log-json")
    assert result.returncode == EXIT_LOCKED
    line = json.loads(result.stderr.strip().splitlines()[-1])
    assert line["level"] == "error" and "already running" in line["message"] and f"pid {os.getpid()}" in \
        line["message"]
    assert not (job_folder.root / "registry").exists()


def test_kill_during_training_leaves_no_model_and_rerun_resumes(job_folder):
    import yaml

    task = yaml.safe_load((job_folder.root / "task.yaml").read_text())
    task["train"]["epochs"] = 400
    (job_folder.root / "task.yaml").write_text(yaml.safe_dump(task))
    job_folder.add_batch("batch_001.csv", 0, 120)
    process = _cli(job_folder, wait=False)
    deadline = time.time() + 300
    checkpoints = []
    while time.time() < deadline and not checkpoints:
        checkpoints = list((job_folder.root / "work").glob("runs/*/run/checkpoints/seed_0.pt"))
        time.sleep(0.2)
    assert checkpoints, process.communicate()
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    registry = open_registry(job_folder.root / "registry")
    assert registry.models() == []  # nothing half-registered
    assert not list((job_folder.root / "work").glob("runs/*/run/model"))  # no model directory either

    task["train"]["epochs"] = 400
    result = _cli(job_folder)
    assert result.returncode == EXIT_OK, result.stderr[-2000:]
    assert "resuming the interrupted challenger training" in result.stderr
    assert "resumed from" in result.stderr
    assert registry.aliases("tox21") == {"champion": 1}
    assert not list(job_folder.root.rglob("*.tmp"))  # temporaries of the killed run are gone


@pytest.mark.parametrize("backend", ["mlflow"])
def test_retrain_with_mlflow_registry_and_tracking(job_folder, tmp_path, backend):
    pytest.importorskip("mlflow")
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    job_folder.write_job(registry={"uri": f"mlflow:{uri}", "model": "tox21"}, mlflow=uri)
    job_folder.add_batch("batch_001.csv", 0, 120)
    outcome = _run(job_folder)
    assert outcome.decision == PROMOTED
    registry = open_registry(f"mlflow:{uri}")
    assert registry.aliases("tox21") == {"champion": 1}
    assert not list(job_folder.root.rglob("*.tmp"))  # temporaries of the killed run are gone
    assert registry.get("tox21").meta["data_profile"]["rows"] == 120
    client = MlflowClient(tracking_uri=uri)
    run = client.get_run(outcome.record["mlflow_run_id"])
    assert run.data.tags["gnn_drug.decision"] == PROMOTED
    assert run.data.metrics["challenger.roc_auc"] == pytest.approx(outcome.record["challenger"]["holdout"]["roc_auc"])
    assert run.data.params["task.model.encoder"] == "dmpnn"
