"""Affinity (Davis, KIBA) and drug-response (GDSC) benchmarks: train, score, and write the results tables.

    python experiments/bench_pairs.py --runs davis_setting1 kiba_setting1 gdsc_v6_mixed ... [--set key=value ...]

Each run trains gnn-drug from a config in experiments/affinity/ or experiments/response/ (with the run's own
overrides) and, on exactly the same split, an additive two-way baseline (value = mean + compound effect + entity
effect, fitted by ridge-regularised alternating least squares on the training pairs) as a reference computed in
the same run. Published numbers (GraphDTA, MGraphDTA, GraphDRP, TGSA) are quoted from the papers; they selected
models on the test set, which we never do. Records accumulate in experiments/results/pairs.json (one per run
name, replaced when re-run); experiments/results/affinity.md and response.md are rebuilt from all of them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from gnn_drug.data.atomic import atomic_write_text
from gnn_drug.data.splits import load_split
from gnn_drug.tasks.config import load_config
from gnn_drug.tasks.pairs import train_pair_run
from gnn_drug.train.checkpoint import load_checkpoint
from gnn_drug.train.metrics import pair_regression_metrics

HERE = Path(__file__).parent
RESULTS = HERE / "results"

#: cold splits test on unseen items: no per-item memory (it would only learn the training items) and no neighbour
#: evidence (a held-out item has no measurements of its own), fewer epochs, three members (a few held-out drugs or
#: proteins make single models noisy). The matrix factorisation stays: for a held-out drug it knows the protein's
#: level, and validation pairs (held-out items too) decide its share
COLD = ["model.embed_known=false", "model.neighbour_evidence=false", "train.epochs=60", "train.seeds=[0,1,2]"]

#: name -> (family, config file, overrides, what the split is)
RUNS: dict[str, tuple[str, str, list[str], str]] = {
    "davis_setting1": ("affinity", "affinity/davis_setting1.yaml", [], "Davis, setting 1 (published folds)"),
    "kiba_setting1": ("affinity", "affinity/kiba_setting1.yaml", [], "KIBA, setting 1 (published folds)"),
    "davis_cold_drug": ("affinity", "affinity/davis_setting1.yaml",
                        ["split.method=cold_compound", "split.sizes=[0.8,0.1,0.1]", *COLD],
                        "Davis, cold drug"),
    "davis_cold_target": ("affinity", "affinity/davis_setting1.yaml",
                          ["split.method=cold_entity", "split.sizes=[0.8,0.1,0.1]", *COLD],
                          "Davis, cold target"),
    "davis_cold_both": ("affinity", "affinity/davis_setting1.yaml",
                        ["split.method=cold_both", "split.sizes=[0.7,0.15,0.15]", *COLD],
                        "Davis, both cold"),
    "gdsc_v6_mixed": ("response", "response/gdsc_v6_mixed.yaml", [], "GDSC v6, mixed (random pairs)"),
    "gdsc_v6_blind_cell": ("response", "response/gdsc_v6_blind_cell.yaml", [], "GDSC v6, blind cell line"),
    "gdsc_v6_blind_drug": ("response", "response/gdsc_v6_blind_drug.yaml", [], "GDSC v6, blind drug"),
    "gdsc2_tgsa": ("response", "response/gdsc2_tgsa.yaml", [], "GDSC2 (TGSA), random 8:1:1"),
}

PUBLISHED_AFFINITY = [
    ("GraphDTA (GIN), Davis setting 1", "MSE 0.229, CI 0.893"),
    ("MGraphDTA, Davis setting 1", "MSE 0.207, CI 0.900"),
    ("GraphDTA (GIN), KIBA setting 1", "MSE 0.139, CI 0.891"),
    ("MGraphDTA, KIBA setting 1", "MSE 0.128, CI 0.902"),
    ("Target (this project)", "Davis MSE <= 0.20 and CI >= 0.905; KIBA MSE <= 0.125 and CI >= 0.905"),
]
PUBLISHED_RESPONSE = [
    ("GraphDRP, GDSC v6 mixed", "RMSE 0.0244 (normalised IC50), Pearson 0.931"),
    ("GraphDRP, GDSC v6 blind cell line", "Pearson 0.846"),
    ("GraphDRP, GDSC v6 blind drug", "Pearson 0.324"),
    ("TGSA, GDSC2 random 8:1:1", "RMSE 0.877 ln IC50"),
    ("Target (this project)", "mixed RMSE <= 0.0235 and Pearson >= 0.935; TGSA set RMSE <= 0.87"),
]


def additive_baseline(train: pd.DataFrame, test: pd.DataFrame, value: str, iterations: int = 20,
                      ridge: float = 5.0) -> np.ndarray:
    """value ~ mu + a[compound] + b[entity]; unseen compounds or entities contribute 0."""
    mu = float(train[value].mean())
    a = pd.Series(0.0, index=train["smiles"].unique())
    b = pd.Series(0.0, index=train["entity"].unique())
    for _ in range(iterations):
        resid = train[value] - mu - b.reindex(train["entity"]).to_numpy()
        grouped = resid.groupby(train["smiles"].to_numpy())
        a = grouped.sum() / (grouped.count() + ridge)
        resid = train[value] - mu - a.reindex(train["smiles"]).to_numpy()
        grouped = resid.groupby(train["entity"].to_numpy())
        b = grouped.sum() / (grouped.count() + ridge)
    return (mu + a.reindex(test["smiles"]).fillna(0.0).to_numpy()
            + b.reindex(test["entity"]).fillna(0.0).to_numpy())


def pair_frame(run_dir: Path, config, data_dir) -> tuple[pd.DataFrame, str]:
    """Every usable pair of the run (input row, canonical SMILES, entity, value) from the run's own files."""
    from gnn_drug.tasks.pairs import featurize_pair_compounds, load_pair_source

    table, rejects, _ = load_pair_source(config, data_dir)
    data = featurize_pair_compounds(config, table, rejects, lambda m: None)
    frame = pd.DataFrame({"row": data.rows, "smiles": [data.featurized.smiles[i] for i in data.compound_index],
                          "entity": [table.entity_ids[i] for i in data.entity_index], table.value_name: data.values})
    return frame.set_index("row"), table.value_name


def epoch_seconds(run_dir: Path) -> float:
    """Wall time of every training epoch of every member, from the run's checkpoints (also what a resumed run
    trained before it was resumed)."""
    return sum(h["seconds"] for path in sorted((run_dir / "checkpoints").glob("*.pt"))
               for h in load_checkpoint(path)["history"])


def bench_one(name: str, extra: list[str], work: Path, data_dir) -> dict:
    family, config_file, overrides, description = RUNS[name]
    config = load_config(HERE / config_file, overrides + extra)
    run_dir = work / name
    resume = run_dir.exists() and not (run_dir / "metrics.json").exists()
    if run_dir.exists() and not resume:
        shutil.rmtree(run_dir)
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    metrics = train_pair_run(config, run_dir, data_dir=data_dir, resume=resume,
                             log=lambda m: print(f"[{name}] {m}", file=sys.stderr, flush=True))
    wall = time.perf_counter() - start
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)

    frame, value = pair_frame(run_dir, config, data_dir)
    split = load_split(run_dir / "splits.json")
    train, test = frame.loc[split.train], frame.loc[split.test]
    baseline = pair_regression_metrics(test[value].to_numpy(), additive_baseline(train, test, value))
    return {
        "name": name, "family": family, "description": description, "config": config_file,
        "overrides": overrides + extra, "value": value,
        "split": {"train": len(split.train), "val": len(split.val), "test": len(split.test)},
        "gnn_drug": {k: metrics[k] for k in ("val", "test") if k in metrics},
        "baseline_additive": baseline,
        "factorization": metrics.get("factorization"),
        "training": metrics["training"], "seconds_per_epoch": metrics.get("seconds_per_epoch"),
        "wall_seconds": round(wall, 1), "cpu_seconds": round(cpu, 1), "resumed": resume,
        "epoch_seconds": round(epoch_seconds(run_dir), 1),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, torch threads {torch.get_num_threads()}",
        "command": "python experiments/bench_pairs.py --runs " + name + "".join(f" --set {s}" for s in extra),
    }


def _fmt(x) -> str:
    return "—" if x is None or (isinstance(x, float) and not np.isfinite(x)) else f"{x:.3f}"


def _fmt4(x) -> str:
    return "—" if x is None or (isinstance(x, float) and not np.isfinite(x)) else f"{x:.4f}"


def _time(record: dict) -> str:
    if record["resumed"]:  # the process's CPU time misses the epochs trained before the resume
        return f"{record['epoch_seconds'] / 60:.0f} min of epochs (resumed run)"
    return f"{record['cpu_seconds'] / 60:.0f} min"


def _factorization(record: dict) -> str:
    blend = record.get("factorization")
    if not blend:
        return "—"
    shares = ", ".join(f"{k.replace('_', ' ')} {w:.2f}" for k, w in blend["weights"].items() if w > 0)
    return f"{_fmt4(record['gnn_drug']['test']['factorization']['mse'])} ({shares or 'no share'})"


def write_tables(records: dict[str, dict]) -> None:
    for family, published, title in (("affinity", PUBLISHED_AFFINITY, "Drug–target affinity (Davis, KIBA)"),
                                     ("response", PUBLISHED_RESPONSE, "Cancer drug response (GDSC)")):
        rows = [r for r in records.values() if r["family"] == family]
        lines = [f"# {title}", "", "Written by `experiments/bench_pairs.py`; each row's command is listed below. "
                 "Model selection on validation pairs only (published numbers below selected on the test set).", "",
                 "| run | test pairs | gnn-drug MSE | RMSE | CI | Pearson | r²m | each member's MSE | matrix "
                 "factorisation MSE (share in the blend) | additive baseline MSE / CI / Pearson | s/epoch | "
                 "epochs (best) | CPU time |",
                 "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in sorted(rows, key=lambda r: r["name"]):
            t, b = r["gnn_drug"].get("test", {}), r["baseline_additive"]
            fits = r["training"]
            lines.append(
                f"| {r['description']} | {r['split']['test']:,} | {_fmt4(t.get('mse'))} | {_fmt4(t.get('rmse'))} | "
                f"{_fmt(t.get('ci'))} | {_fmt(t.get('pearson'))} | {_fmt(t.get('rm2'))} | "
                + ", ".join(_fmt4(m.get("mse")) for m in t.get("members", [])) + f" | {_factorization(r)} | "
                f"{_fmt4(b['mse'])} / "
                f"{_fmt(b['ci'])} / {_fmt(b['pearson'])} | {_fmt(r['seconds_per_epoch'])} | "
                + ", ".join(f"{f['epochs_run']} ({f['best_epoch']})" for f in fits)
                + f" | {_time(r)} |")
        lines += ["", "Published (setting as stated):", ""] + [f"- {k}: {v}" for k, v in published]
        lines += ["", "Commands:", ""] + [f"- `{r['command']}` ({r['machine']})" for r in
                                          sorted(rows, key=lambda r: r["name"])]
        atomic_write_text(RESULTS / f"{family}.md", "\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", nargs="+", default=["davis_setting1"], choices=sorted(RUNS))
    parser.add_argument("--set", dest="extra", action="append", default=[], help="config override for every run")
    parser.add_argument("--work", type=Path, default=HERE / "work" / "bench_pairs")
    parser.add_argument("--data-dir", type=Path, default=os.environ.get("GNN_DRUG_DATA"))
    args = parser.parse_args()
    path = RESULTS / "pairs.json"
    records = {r["name"]: r for r in json.loads(path.read_text())} if path.exists() else {}
    for name in args.runs:
        record = bench_one(name, args.extra, args.work, args.data_dir)
        if path.exists():  # another bench process may have added records meanwhile: keep them
            records = {r["name"]: r for r in json.loads(path.read_text())}
        records[name] = record
        atomic_write_text(path, json.dumps(list(records.values()), indent=2))
        write_tables(records)
        t = record["gnn_drug"].get("test", {})
        print(f"{name}: test MSE {t.get('mse'):.4f} CI {t.get('ci'):.3f} Pearson {t.get('pearson'):.3f}; additive "
              f"baseline MSE {record['baseline_additive']['mse']:.4f}; {record['seconds_per_epoch']:.1f} s/epoch",
              flush=True)


if __name__ == "__main__":
    main()
