"""Does tuning pay? Default config vs the Optuna-tuned config, on the same scaffold split, in one run.

    python experiments/bench_tuning.py [--configs clintox_scaffold tox21_scaffold] [--budget-s 900 1800]
                                       [--trials 40] [--eval-seeds 0 1 2]

For each config: train the default config (split seed 0); tune with ``gnn-drug tune``'s library entry point
(search space from ``experiments/tuning/<config>.yaml``, median pruning, selection on validation ROC-AUC only,
stopped by the trial cap or the wall-clock budget); then train the best config. Both are then trained on every
``--eval-seeds`` split seed, so the comparison is not one split's luck. Writes experiments/results/tuning.md/.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

from gnn_drug.data.atomic import atomic_write_text
from gnn_drug.tasks.config import load_config
from gnn_drug.tasks.molecule_property import train_run
from gnn_drug.tune.study import run_study

HERE = Path(__file__).resolve().parent


def _quiet(_msg: str) -> None:
    pass


def _train(config_path: Path, seed: int, out: Path) -> dict:
    config = load_config(config_path, [f"split.seed={seed}"])
    started = time.perf_counter()
    metrics = train_run(config, out, log=_quiet)
    return {"seed": seed, "val_roc_auc": metrics["val"]["roc_auc"], "test_roc_auc": metrics["test"]["roc_auc"],
            "seconds": round(time.perf_counter() - started, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", nargs="+", default=["clintox_scaffold", "tox21_scaffold"])
    parser.add_argument("--budget-s", nargs="+", type=float, default=[900, 1800],
                        help="tuning wall-clock budget per config, seconds (one value per config)")
    parser.add_argument("--trials", type=int, default=40, help="trial cap per config")
    parser.add_argument("--eval-seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--work", type=Path, default=HERE / "work" / "tuning")
    parser.add_argument("--results", type=Path, default=HERE / "results" / "tuning")
    args = parser.parse_args()
    if os.environ.get("GNN_DRUG_DATA") is None:
        raise SystemExit("set GNN_DRUG_DATA to the dataset mirror")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    records = []
    for name, budget in zip(args.configs, args.budget_s, strict=False):
        config_path = HERE / "tuning" / f"{name}.yaml"
        work = args.work / f"{name}-{stamp}"
        default = [_train(config_path, seed, work / f"default_seed{seed}") for seed in args.eval_seeds]
        print(json.dumps({"config": name, "default": default}), flush=True)
        started = time.perf_counter()
        result = run_study(config_path, work / "tune", trials=args.trials, study_name=name, timeout_s=budget,
                           pruner="median", seed=0, log=print)
        tuning_s = time.perf_counter() - started
        best_path = work / "tune" / "best.yaml"
        tuned = [_train(best_path, seed, work / f"tuned_seed{seed}") for seed in args.eval_seeds]
        import optuna

        study = optuna.load_study(study_name=name, storage=f"sqlite:///{(work / 'tune' / 'study.db').resolve()}")
        states = [t.state.name for t in study.trials]
        record = {
            "config": name, "budget_s": budget, "tuning_wall_s": round(tuning_s, 1), "trials": len(states),
            "torch_threads": torch.get_num_threads(),
            "complete": states.count("COMPLETE"), "pruned": states.count("PRUNED"), "failed": states.count("FAIL"),
            "best_params": result.best_params, "best_trial_val": result.best_value,
            "default": default, "tuned": tuned, "command": "python experiments/bench_tuning.py "
            f"--configs {name} --budget-s {budget:g} --trials {args.trials} --eval-seeds "
            + " ".join(map(str, args.eval_seeds)),
        }
        records.append(record)
        print(json.dumps(record), flush=True)

    args.results.parent.mkdir(parents=True, exist_ok=True)
    previous = json.loads(args.results.with_suffix(".json").read_text()) if args.results.with_suffix(
        ".json").exists() else []
    kept = [r for r in previous if r["config"] not in {r2["config"] for r2 in records}] + records
    atomic_write_text(args.results.with_suffix(".json"), json.dumps(kept, indent=2))

    def mean(rows, key):
        return float(np.mean([r[key] for r in rows]))

    lines = ["# Hyperparameter tuning: default vs tuned config", "",
             f"Machine: {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}. Tuning "
             "selects on validation ROC-AUC only (TPE sampler, median pruner); the best config is then retrained "
             "on each split seed, as is the default config; test ROC-AUC is never seen by the tuner.", ""]
    for r in kept:
        lines += [f"## {r['config']}", "", f"Command: `{r['command']}`  ",
                  f"Budget: {r['budget_s']:.0f} s wall-clock, {r.get('torch_threads', 2)} torch thread(s) on a "
                  f"{os.cpu_count()}-core machine (used {r['tuning_wall_s']:.0f} s), "
                  f"{r['trials']} trials ({r['complete']} complete, {r['pruned']} pruned, {r['failed']} failed). "
                  f"Best parameters: `{json.dumps(r['best_params'])}`", "",
                  "| split seed | default val | tuned val | default test | tuned test |", "|---|---|---|---|---|"]
        for d, t in zip(r["default"], r["tuned"], strict=True):
            lines.append(f"| {d['seed']} | {d['val_roc_auc']:.4f} | {t['val_roc_auc']:.4f} | "
                         f"{d['test_roc_auc']:.4f} | {t['test_roc_auc']:.4f} |")
        lines.append(f"| **mean** | {mean(r['default'], 'val_roc_auc'):.4f} | {mean(r['tuned'], 'val_roc_auc'):.4f}"
                     f" | {mean(r['default'], 'test_roc_auc'):.4f} | {mean(r['tuned'], 'test_roc_auc'):.4f} |")
        lines.append("")
    atomic_write_text(args.results.with_suffix(".md"), "\n".join(lines))
    print(f"wrote {args.results.with_suffix('.md')}")


if __name__ == "__main__":
    main()
