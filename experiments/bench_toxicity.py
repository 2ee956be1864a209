"""gnn-drug vs Chemprop v2 on the toxicity configs, same split files, same molecules, in one run.

    python experiments/bench_toxicity.py [--configs tox21_random clintox_scaffold ...] [--seeds 0 1 2]

For each config and seed: gnn-drug trains with ``split.seed = train seed = seed`` and writes its split
(input-file rows of the molecules RDKit accepts); Chemprop (installed from PyPI into its own virtualenv,
``experiments/.chemprop_venv``, torch 2.13.0 first) is trained with its defaults on the same rows through
``--splits-file``. Both tools' test predictions are scored by the same function. Results accumulate in
experiments/results/toxicity.json (one record per config/seed, replaced when re-run) and the table
experiments/results/toxicity.md is rebuilt from all of them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from chemprop_runner import ensure_chemprop_venv, run_chemprop  # noqa: E402

from gnn_drug.data.atomic import atomic_write_text  # noqa: E402
from gnn_drug.data.splits import load_split  # noqa: E402
from gnn_drug.tasks.config import load_config  # noqa: E402
from gnn_drug.tasks.molecule_property import load_task_table, train_run  # noqa: E402
from gnn_drug.train.metrics import evaluate_predictions  # noqa: E402

HERE = Path(__file__).parent
CONFIGS = ("tox21_random", "tox21_scaffold", "clintox_scaffold", "sider_scaffold")


def bench_one(name: str, seed: int, work: Path, chemprop_exe: Path, data_dir: Path | None,
              chemprop_epochs: int | None) -> dict:
    config = load_config(HERE / "toxicity" / f"{name}.yaml",
                         [f"split.seed={seed}", f"train.seeds=[{seed}]", "featurization.cache=false"])
    run_dir = work / name / f"seed{seed}" / "gnn_drug"
    if run_dir.exists() and not (run_dir / "metrics.json").exists():
        resume = True
    else:
        resume = False
        if run_dir.exists():
            import shutil

            shutil.rmtree(run_dir)
    start = time.perf_counter()
    metrics = train_run(config, run_dir, data_dir=data_dir, resume=resume, log=lambda m: None)
    gnn_seconds = time.perf_counter() - start

    table, _ = load_task_table(config, data_dir)
    split_rows = load_split(run_dir / "splits.json", len(table))
    rejected = pd.read_csv(run_dir / "rejects.csv")["row"].to_numpy() - 1
    valid_rows = np.setdiff1d(np.arange(len(table)), rejected)
    position = {int(r): i for i, r in enumerate(valid_rows)}
    chemprop_dir = work / name / f"seed{seed}" / "chemprop"
    chemprop_dir.mkdir(parents=True, exist_ok=True)
    csv = chemprop_dir / "data.csv"
    frame = pd.DataFrame({"smiles": [table.smiles[r] for r in valid_rows]})
    for j, target in enumerate(table.targets):
        frame[target] = table.labels[valid_rows, j]
    frame.to_csv(csv, index=False)
    split = {k: [position[int(r)] for r in getattr(split_rows, k)] for k in ("train", "val", "test")}
    result = run_chemprop(chemprop_exe, csv, "smiles", table.targets, split, seed, chemprop_dir,
                          epochs=chemprop_epochs)
    test_labels = table.labels[valid_rows[split["test"]]]
    chemprop_metrics = evaluate_predictions(test_labels, result.test_predictions, table.task_types, table.targets)
    return {
        "config": name, "seed": seed, "dataset": config.data.source, "split": config.split.method,
        "molecules": int(len(valid_rows)), "test_molecules": len(split["test"]),
        "gnn_drug_roc_auc": metrics["test"]["roc_auc"], "gnn_drug_pr_auc": metrics["test"]["pr_auc"],
        "gnn_drug_val_roc_auc": metrics["val"]["roc_auc"], "gnn_drug_seconds": gnn_seconds,
        "chemprop_roc_auc": chemprop_metrics["roc_auc"], "chemprop_pr_auc": chemprop_metrics["pr_auc"],
        "chemprop_seconds": result.train_wall_s + result.predict_wall_s,
        "chemprop_version": result.chemprop_version, "chemprop_epochs": chemprop_epochs or "default",
        "gnn_drug_model": f"{config.model.encoder} h{config.model.hidden_dim} d{config.model.depth} "
                          f"+{','.join(config.featurization.extra_features) or 'none'}",
    }


def write_report(records: list[dict], out: Path, command: str) -> None:
    records = sorted(records, key=lambda r: (CONFIGS.index(r["config"]) if r["config"] in CONFIGS else 99,
                                             r["seed"]))
    lines = [
        "# Toxicity: gnn-drug vs Chemprop v2 (same split files, same molecules)",
        "",
        "Commands that produced these rows (each row records its own):",
        "",
        *[f"    {c}" for c in sorted({r.get("command", command) for r in records})],
        "",
        f"Machine: {os.cpu_count()} CPU cores, no GPU, Python {platform.python_version()}. "
        "Test ROC-AUC is the macro average over tasks, computed by the same function for both tools.",
        "",
        "| dataset | split | seed | test mols | gnn-drug ROC-AUC | Chemprop ROC-AUC | gnn-drug PR-AUC | "
        "Chemprop PR-AUC | gnn-drug s | Chemprop s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in records:
        lines.append(
            f"| {r['dataset']} | {r['split']} | {r['seed']} | {r['test_molecules']} | {r['gnn_drug_roc_auc']:.4f} | "
            f"{r['chemprop_roc_auc']:.4f} | {r['gnn_drug_pr_auc']:.4f} | {r['chemprop_pr_auc']:.4f} | "
            f"{r['gnn_drug_seconds']:.0f} | {r['chemprop_seconds']:.0f} |"
        )
    lines += ["", "## Mean over seeds", "",
              "| config | seeds | gnn-drug ROC-AUC (mean ± sd) | Chemprop ROC-AUC (mean ± sd) | gnn-drug wall s | "
              "Chemprop wall s | gnn-drug model |", "|---|---|---|---|---|---|---|"]
    frame = pd.DataFrame(records)
    for name, group in frame.groupby("config", sort=False):
        g, c = group["gnn_drug_roc_auc"], group["chemprop_roc_auc"]
        lines.append(
            f"| {name} | {len(group)} | {g.mean():.4f} ± {g.std(ddof=0):.4f} | {c.mean():.4f} ± {c.std(ddof=0):.4f} | "
            f"{group['gnn_drug_seconds'].sum():.0f} | {group['chemprop_seconds'].sum():.0f} | "
            f"{group['gnn_drug_model'].iloc[0]} |"
        )
    lines += ["", "Seconds are wall-clock on the 2-core machine (training + evaluation; gnn-drug's include "
              "featurisation with its cache off, Chemprop's include its own start-up and prediction). Rows were run "
              "one at a time, but other work sometimes shared the machine, so single timings can be inflated."]
    versions = sorted({str(r["chemprop_version"]) for r in records})
    lines += ["", f"Chemprop version(s): {', '.join(versions)}; epochs: "
              f"{', '.join(sorted({str(r['chemprop_epochs']) for r in records}))}."]
    atomic_write_text(out, "\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--data-dir", type=Path, default=os.environ.get("GNN_DRUG_DATA"))
    parser.add_argument("--work", type=Path, default=HERE / "work" / "toxicity")
    parser.add_argument("--chemprop-venv", type=Path, default=HERE / ".chemprop_venv")
    parser.add_argument("--chemprop-epochs", type=int, default=None, help="default: Chemprop's own default")
    parser.add_argument("--results", type=Path, default=HERE / "results" / "toxicity.json")
    args = parser.parse_args()
    chemprop_exe = ensure_chemprop_venv(args.chemprop_venv)
    records = json.loads(args.results.read_text()) if args.results.exists() else []
    command = "python experiments/bench_toxicity.py " + " ".join(sys.argv[1:])
    for name in args.configs:
        for seed in args.seeds:
            print(f"== {name} seed {seed}", flush=True)
            record = bench_one(name, seed, args.work, chemprop_exe, args.data_dir, args.chemprop_epochs)
            record["command"] = command.strip()
            print(json.dumps(record), flush=True)
            records = [r for r in records if not (r["config"] == name and r["seed"] == seed)] + [record]
            atomic_write_text(args.results, json.dumps(records, indent=2))
            write_report(records, args.results.with_suffix(".md"), command.strip())
    print(f"written {args.results.with_suffix('.md')}")


if __name__ == "__main__":
    main()
