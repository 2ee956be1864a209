"""Training speed per device: the same config on CPU and on CUDA, side by side in one run.

    python experiments/bench_device.py [--data-dir ../shared/data] [--devices cpu cuda] [--epochs 4]
                                       [--configs toxicity/tox21_random affinity/davis_setting1]

Each config is trained for ``--epochs`` epochs (one seed, no early stop) with ``train.device`` set to each
device, through the same entry points as ``gnn-drug train``; the figure is the median seconds per epoch over the
epochs after the first (the first pays for kernel set-up). A device this machine lacks is recorded as not
available, never silently replaced by another. Writes experiments/results/device.md and .json; rows of earlier
runs (another machine, another device) are kept and replaced only per (config, device, host).
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import socket
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from gnn_drug.data.atomic import atomic_write_text
from gnn_drug.data.registry import default_data_dir
from gnn_drug.tasks.config import load_config
from gnn_drug.tasks.molecule_property import train_run
from gnn_drug.tasks.pairs import PAIR_TASKS, train_pair_run

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "device"


def _quiet(_msg: str) -> None:
    pass


def device_name(device: str) -> str:
    if device == "cuda":
        return torch.cuda.get_device_name(0)
    return f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads"


def time_config(name: str, device: str, epochs: int, data_dir: Path) -> dict:
    """Train ``name`` for ``epochs`` epochs on ``device``; seconds per epoch and the run's validation score."""
    row = {"config": name, "device": device, "host": socket.gethostname(), "epochs": epochs}
    if device == "cuda" and not torch.cuda.is_available():
        return {**row, "available": False, "note": "torch.cuda.is_available() is False on this machine"}
    overrides = [f"train.device={device}", f"train.epochs={epochs}", f"train.patience={epochs}", "train.seeds=[0]"]
    config = load_config(HERE / f"{name}.yaml", overrides)
    seconds: list[float] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        run = train_pair_run if config.task in PAIR_TASKS else train_run
        metrics = run(config, Path(out) / "run", data_dir=data_dir, log=_quiet,
                      on_epoch_end=lambda _epoch, record: seconds.append(record["seconds"]))
    steady = seconds[1:] or seconds
    return {**row, "available": True, "device_name": device_name(device),
            "seconds_per_epoch": float(np.median(steady)), "first_epoch_s": seconds[0] if seconds else None,
            "wall_s": time.perf_counter() - started, "val": metrics.get("val", {})}


def _headline(val: dict) -> str:
    for key in ("roc_auc", "mse", "rmse"):
        if isinstance(val.get(key), float):
            return f"{key} {val[key]:.3f}"
    return ""


def write_results(rows: list[dict], command: str) -> None:
    path = RESULTS.with_suffix(".json")
    previous = json.loads(path.read_text()) if path.exists() else []
    fresh = {(r["config"], r["device"], r["host"]) for r in rows}
    kept = [r for r in previous if (r["config"], r["device"], r["host"]) not in fresh]
    merged = kept + [{**r, "command": command} for r in rows]
    atomic_write_text(path, json.dumps(merged, indent=2))
    lines = ["# Training speed per device", "",
             "Written by `experiments/bench_device.py`: the same config trained for a few epochs on each device "
             "(one seed, no early stop), median seconds per epoch after the first. Speed-up is CPU s/epoch over "
             "CUDA s/epoch on the same host.", "",
             "| config | host | device | hardware | s/epoch | first epoch s | speed-up vs CPU | val after run |",
             "|---|---|---|---|---|---|---|---|"]
    cpu = {(r["config"], r["host"]): r["seconds_per_epoch"] for r in merged
           if r["device"] == "cpu" and r.get("available")}
    for r in merged:
        if not r.get("available"):
            lines.append(f"| {r['config']} | {r['host']} | {r['device']} | not available: {r['note']} | – | – | – "
                         "| – |")
            continue
        base = cpu.get((r["config"], r["host"]))
        speedup = f"{base / r['seconds_per_epoch']:.1f}×" if base and r["device"] != "cpu" else "–"
        lines.append(f"| {r['config']} | {r['host']} | {r['device']} | {r['device_name']} | "
                     f"{r['seconds_per_epoch']:.2f} | {r['first_epoch_s']:.2f} | {speedup} | {_headline(r['val'])} |")
    lines += ["", "Commands:", ""] + sorted({f"- `{r['command']}`" for r in merged})
    atomic_write_text(RESULTS.with_suffix(".md"), "\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    parser.add_argument("--devices", nargs="+", default=["cpu", "cuda"], choices=["cpu", "cuda"])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--configs", nargs="+", default=["toxicity/tox21_random", "affinity/davis_setting1"])
    args = parser.parse_args()
    if args.data_dir is None:
        sys.exit("error: give --data-dir or set GNN_DRUG_DATA to the dataset mirror")
    if args.epochs < 2:
        sys.exit("error: --epochs must be at least 2 (the first epoch is set-up, not speed)")
    rows = []
    for name in args.configs:
        for device in args.devices:
            row = time_config(name, device, args.epochs, args.data_dir)
            rows.append(row)
            print(json.dumps({k: v for k, v in row.items() if k != "val"}), flush=True)
    write_results(rows, "python experiments/bench_device.py " + shlex.join(sys.argv[1:]))
    print(f"wrote {RESULTS.with_suffix('.md')}")


if __name__ == "__main__":
    main()
