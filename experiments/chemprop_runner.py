"""Chemprop v2 as the reference baseline, run on exactly the split gnn-drug used.

Chemprop lives in its own virtualenv (``ensure_chemprop_venv``: torch 2.13.0 is installed first so pip never
pulls a CUDA build) and is driven through its command line, so it never shares a process with gnn-drug.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

CHEMPROP_VERSION = "2.3.1"


def ensure_chemprop_venv(venv_dir: Path) -> Path:
    """Create ``venv_dir`` with chemprop (pinned) if it is not there yet; return the ``chemprop`` executable."""
    exe = venv_dir / "bin" / "chemprop"
    if exe.exists():
        return exe
    print(f"installing chemprop {CHEMPROP_VERSION} into {venv_dir}", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv_dir)], check=True)
    pip = [str(venv_dir / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    subprocess.run(pip + ["--upgrade", "pip"], check=True)
    subprocess.run(pip + ["torch==2.13.0"], check=True)
    subprocess.run(pip + [f"chemprop=={CHEMPROP_VERSION}"], check=True)
    return exe


@dataclass
class ChempropResult:
    test_predictions: np.ndarray  # [n_test, n_tasks] probabilities, rows in split["test"] order
    train_wall_s: float
    predict_wall_s: float
    chemprop_version: str
    command: list[str]


def _run(command: list[str], log: Path) -> float:
    start = time.perf_counter()
    with open(log, "a") as handle:
        handle.write("$ " + " ".join(command) + "\n")
        handle.flush()
        done = subprocess.run(command, stdout=handle, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        tail = "".join(log.read_text().splitlines(keepends=True)[-30:])
        raise RuntimeError(f"chemprop failed ({done.returncode}); end of {log}:\n{tail}")
    return time.perf_counter() - start


def run_chemprop(chemprop_exe: Path, data_csv: Path, smiles_column: str, target_columns: list[str],
                 split: dict[str, list[int]], seed: int, work_dir: Path, epochs: int | None = None,
                 task_type: str = "classification") -> ChempropResult:
    """Train Chemprop with its defaults on ``split`` (0-based rows of ``data_csv``) and predict the test rows."""
    work_dir.mkdir(parents=True, exist_ok=True)
    splits_text = json.dumps([{k: [int(i) for i in split[k]] for k in ("train", "val", "test")}])
    key = run_key(data_csv, splits_text, seed, epochs, task_type)
    cached = load_result(work_dir, key, target_columns)
    if cached is not None:
        return cached
    splits_file = work_dir / "splits.json"
    splits_file.write_text(splits_text)
    save_dir = work_dir / "train"
    log = work_dir / "chemprop.log"
    log.write_text("")
    train_cmd = [str(chemprop_exe), "train", "--data-path", str(data_csv), "--task-type", task_type,
                 "--smiles-columns", smiles_column, "--target-columns", *target_columns,
                 "--splits-file", str(splits_file), "--data-seed", str(seed), "--pytorch-seed", str(seed),
                 "--save-dir", str(save_dir), "--num-workers", "0"]
    if epochs is not None:
        train_cmd += ["--epochs", str(epochs)]
    train_s = _run(train_cmd, log)

    models = sorted(save_dir.rglob("best*.pt"))
    if not models:
        raise RuntimeError(f"chemprop wrote no best*.pt under {save_dir}")
    frame = pd.read_csv(data_csv)
    test_csv = work_dir / "test.csv"
    frame.iloc[split["test"]][[smiles_column]].to_csv(test_csv, index=False)
    preds_csv = work_dir / "test_preds.csv"
    predict_cmd = [str(chemprop_exe), "predict", "--test-path", str(test_csv), "--smiles-columns", smiles_column,
                   "--model-paths", str(models[0]), "--preds-path", str(preds_csv), "--num-workers", "0"]
    predict_s = _run(predict_cmd, log)
    preds = pd.read_csv(preds_csv)
    missing = [t for t in target_columns if t not in preds.columns]
    if missing:
        raise RuntimeError(f"{preds_csv}: no prediction columns {missing}; columns are {list(preds.columns)}")
    if len(preds) != len(split["test"]):
        raise RuntimeError(f"{preds_csv}: {len(preds)} rows for {len(split['test'])} test molecules")
    version = subprocess.run([str(chemprop_exe.parent / "python"), "-c",
                              "import chemprop; print(chemprop.__version__)"],
                             capture_output=True, text=True).stdout.strip()
    result = ChempropResult(preds[target_columns].to_numpy(dtype=np.float64), train_s, predict_s, version,
                            train_cmd)
    save_result(work_dir, key, result)
    return result


def run_key(data_csv: Path, splits_text: str, seed: int, epochs: int | None, task_type: str) -> str:
    """Identity of a Chemprop run: same data, split, seed and settings give the same key (reuse its result)."""
    digest = hashlib.sha256(Path(data_csv).read_bytes())
    digest.update(f"{splits_text}|{seed}|{epochs}|{task_type}|{CHEMPROP_VERSION}".encode())
    return digest.hexdigest()


def save_result(work_dir: Path, key: str, result: ChempropResult) -> None:
    (work_dir / "result.json").write_text(json.dumps(
        {"key": key, "train_wall_s": result.train_wall_s, "predict_wall_s": result.predict_wall_s,
         "chemprop_version": result.chemprop_version, "command": result.command}))


def load_result(work_dir: Path, key: str, target_columns: list[str]) -> ChempropResult | None:
    """The earlier result of the identical run in ``work_dir``, if there is one."""
    meta_path, preds_path = work_dir / "result.json", work_dir / "test_preds.csv"
    if not (meta_path.exists() and preds_path.exists()):
        return None
    meta = json.loads(meta_path.read_text())
    if meta.get("key") != key:
        return None
    preds = pd.read_csv(preds_path)[target_columns].to_numpy(dtype=np.float64)
    return ChempropResult(preds, meta["train_wall_s"], meta["predict_wall_s"], meta["chemprop_version"],
                          meta["command"])
