"""Knowledge-graph benchmark: build time and memory of the Hetionet graph, then link prediction runs (the GNN, a
DistMult embedding model without message passing, PyKEEN's TransE and RotatE trained on every relation of the
message graph, and the degree prior, all on the same split), written to experiments/results/kg.md and kg.json.

    python experiments/bench_kg.py [--runs ctd_random ctd_cold cbg_random cbg_cold luo_dti_cv] [--epochs N]
                                   [--variants gnn kge transe rotate] [--kge-epochs N] [--pykeen-epochs N]
                                   [--folds N] [--set section.key=value]

Runs as published used one torch thread (``OMP_NUM_THREADS=1``), next to another benchmark. Each run's record
holds the config, the command, filtered MRR / Hits@k / AUROC / AUPR on the test edges, seconds
per full-graph epoch and peak memory (resource.getrusage max RSS of this process).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import time
from pathlib import Path

from gnn_drug.data.atomic import atomic_write_text
from gnn_drug.kg.build import build_kg
from gnn_drug.kg.spec import load_kg_spec
from gnn_drug.kg.splits import split_edges
from gnn_drug.tasks.config import apply_override
from gnn_drug.tasks.kge_baseline import KGE_MODELS, KGEBaselineConfig, evaluate_kge_baseline
from gnn_drug.tasks.link_prediction import load_graph, load_link_config, train_link_run

HERE = Path(__file__).parent
RESULTS = HERE / "results"
RUNS = {
    "ctd_random": ("kg/hetionet_ctd.yaml", {"split": {"method": "random"}}),
    "ctd_cold": ("kg/hetionet_ctd.yaml", {"split": {"method": "cold_source"}}),
    "cbg_random": ("kg/hetionet_cbg.yaml", {"split": {"method": "random"}}),
    "cbg_cold": ("kg/hetionet_cbg.yaml", {"split": {"method": "cold_source"}}),
    "luo_dti_cv": ("kg/luo_dti.yaml", {"split": {"method": "kfold"}}),
}
# DistMult on learned embeddings only (no message passing, no structure features)
KGE = {"model": {"kind": "gnn", "layers": 0, "compound_features": "none", "protein_features": "none",
                 "embed_featured": False}}
KINDS = {"gnn": "gnn", "kge": "gnn", "metapath": "metapath"}


def _peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024


def _merge(raw: dict, change: dict) -> dict:
    out = dict(raw)
    for key, value in change.items():
        out[key] = {**out.get(key, {}), **value} if isinstance(value, dict) else value
    return out


def bench_run(name: str, variant: str, epochs: int | None, work: Path, data_dir, kge_epochs: int = 1000,
              sets: list[str] | None = None, pykeen_epochs: int = 20, max_folds: int | None = None) -> dict:
    config_file, change = RUNS[name]
    config = load_link_config(HERE / config_file)
    raw = _merge(config.model_dump(mode="json"), change)
    if variant in KINDS:
        raw = _merge(raw, {"model": {"kind": KINDS[variant]}})
    if epochs:
        raw = _merge(raw, {"train": {"epochs": epochs}})
    if variant == "kge":  # DistMult embeddings alone need many more (cheap) full-batch steps than the GNN
        raw = _merge(_merge(raw, KGE), {"train": {"epochs": kge_epochs, "patience": max(100, kge_epochs // 5)}})
    for assignment in sets or []:  # section.key=value, e.g. train.lr=0.001 or model.metapath.max_length=2
        apply_override(raw, assignment)
    config = load_link_config(raw=raw)
    out = work / f"{name}_{variant}"
    if out.exists():
        shutil.rmtree(out)
    graph = load_graph(config, HERE / config_file, data_dir) if variant in KGE_MODELS else None

    def run_one(cfg, run_out: Path, label: str) -> dict:
        if graph is None:
            return train_link_run(cfg, run_out, config_path=HERE / config_file, data_dir=data_dir,
                                  log=_logger(label))
        split = split_edges(graph, tuple(cfg.edge_type), cfg.split.sizes, cfg.split.seed, cfg.split.method,
                            cfg.split.folds, cfg.split.fold)
        return evaluate_kge_baseline(graph, split, KGEBaselineConfig(model=variant, epochs=pykeen_epochs,
                                                                     seed=cfg.train.seed), log=_logger(label))

    if config.split.method == "kfold":  # cross-validation: every fold is a test set once; report the mean
        per_fold = []
        for fold in range(min(config.split.folds, max_folds or config.split.folds)):
            fold_config = config.model_copy(update={"split": config.split.model_copy(update={"fold": fold})})
            per_fold.append(run_one(fold_config, out / f"fold{fold}", f"{name}/{variant}/fold{fold}"))
        metrics = _fold_mean(per_fold)
    else:
        metrics = run_one(config, out, f"{name}/{variant}")
    return {"run": name, "variant": variant, "config": config_file, "resolved": raw,
            "metrics": metrics, "peak_rss_gb": round(_peak_rss_gb(), 2),
            "command": f"python experiments/bench_kg.py --runs {name} --variants {variant}"
                       + (f" --epochs {epochs}" if epochs and variant == "gnn" else "")
                       + (f" --kge-epochs {kge_epochs}" if variant == "kge" else "")
                       + (f" --pykeen-epochs {pykeen_epochs}" if variant in KGE_MODELS else "")
                       + (f" --folds {max_folds}" if max_folds and config.split.method == "kfold" else "")
                       + "".join(f" --set {a}" for a in sets or [])}


def _logger(prefix: str):
    return lambda message: print(f"[{prefix}] {message}", file=sys.stderr, flush=True)


def _fold_mean(per_fold: list[dict]) -> dict:
    """Mean over folds of every test / degree-prior figure (and their standard deviation), total test edges."""
    import numpy as np

    out = {"folds": per_fold, "split": {**per_fold[0]["split"], "test": sum(m["split"]["test"] for m in per_fold)}}
    for part in ("val", "test", "degree_prior_test"):
        if part not in per_fold[0]:
            continue
        keys = [k for k, v in per_fold[0][part].items() if isinstance(v, float)]
        out[part] = {k: float(np.mean([m[part][k] for m in per_fold])) for k in keys}
        out[part].update({f"{k}_sd": float(np.std([m[part][k] for m in per_fold])) for k in keys})
    per_epoch = [m["seconds_per_epoch"] for m in per_fold if m.get("seconds_per_epoch") is not None]
    out["seconds_per_epoch"] = float(np.mean(per_epoch)) if per_epoch else None
    out["seconds"] = float(np.sum([m.get("seconds", 0.0) for m in per_fold]))
    out["epochs_run"] = round(float(np.mean([m["epochs_run"] for m in per_fold])))
    out["best_epoch"] = round(float(np.mean([m["best_epoch"] for m in per_fold])))
    return out


def write_tables(build: dict, records: list[dict]) -> None:
    lines = ["# Knowledge graph", "", "Written by `experiments/bench_kg.py` (2 CPU cores).", "",
             f"Hetionet build (`experiments/kg/hetionet.yaml`): {build['nodes']:,} nodes, {build['edges']:,} edges, "
             f"{build['seconds']:.1f} s, peak RSS {build['peak_rss_gb']:.2f} GB.", "",
             "Filtered ranking of every node of the target kind; AUROC / AUPR of the test edges against 10 non-edges "
             "each, drawn for the same source (per source) or uniformly over all pairs (uniform, the DTINet / "
             "NeoDTI protocol). Cross-validation rows are means over the folds.", "",
             "| run | model | test edges | MRR | Hits@1 | Hits@10 | Hits@100 | AUROC | AUPR | AUROC uniform | "
             "AUPR uniform | s/epoch | epochs (best) | peak RSS GB |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    order = {v: i for i, v in enumerate(("metapath", "gnn", "kge", "transe", "rotate"))}
    for r in sorted(records, key=lambda r: (r["run"], order.get(r["variant"], 9))):
        m = r["metrics"]
        for label, part in ((r["variant"], m["test"]), ("degree prior", m.get("degree_prior_test"))):
            if label == "degree prior" and (r["variant"] != "metapath" or part is None):
                continue
            per_epoch = m.get("seconds_per_epoch")
            timing = (f"{per_epoch:.1f} | {m['epochs_run']} ({m['best_epoch']}) | {r['peak_rss_gb']:.1f}"
                      if per_epoch is not None else f"{m.get('seconds', float('nan')):.0f} s in all | — | "
                      f"{r['peak_rss_gb']:.1f}")
            if label == "degree prior":
                timing = "— | — | —"
            name = {"metapath": "metapath model (DWPC + logistic)", "gnn": "GNN",
                    "kge": "DistMult (no message passing)", "transe": "PyKEEN TransE",
                    "rotate": "PyKEEN RotatE"}.get(label, label)
            figures = " | ".join(f"{part.get(k, float('nan')):.3f}" for k in (
                "mrr", "hits@1", "hits@10", "hits@100", "auroc", "aupr", "auroc_uniform", "aupr_uniform"))
            folds = m.get("folds")
            if folds and len(folds) < r["resolved"]["split"]["folds"]:
                name += f" (folds 0-{len(folds) - 1} of {r['resolved']['split']['folds']})"
            lines.append(f"| {r['run']} | {name} | {m['split']['test']} | {figures} | {timing} |")
    lines += ["", "Commands:", ""] + sorted({f"- `{r['command']}`" for r in records})
    atomic_write_text(RESULTS / "kg.md", "\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", nargs="+", default=["ctd_random"], choices=sorted(RUNS))
    parser.add_argument("--variants", nargs="+", default=["metapath", "gnn", "kge"],
                        choices=["metapath", "gnn", "kge", *KGE_MODELS],
                        help="metapath = logistic regression on metapath (DWPC) features; gnn; kge = DistMult "
                             "embeddings on the target relation; transe / rotate = PyKEEN on every relation of the "
                             "message graph")
    parser.add_argument("--epochs", type=int, default=None, help="GNN epochs (default: the config's)")
    parser.add_argument("--kge-epochs", type=int, default=1000,
                        help="full-batch steps of the DistMult embedding baseline (kge)")
    parser.add_argument("--pykeen-epochs", type=int, default=20,
                        help="passes over every triple of the PyKEEN baselines (transe, rotate)")
    parser.add_argument("--folds", type=int, default=None,
                        help="cross-validation runs: evaluate only the first N folds (default: all)")
    parser.add_argument("--set", dest="sets", action="append", default=[], help="override, e.g. train.lr=0.001")
    parser.add_argument("--work", type=Path, default=HERE / "work" / "bench_kg")
    parser.add_argument("--data-dir", type=Path, default=os.environ.get("GNN_DRUG_DATA"))
    args = parser.parse_args()
    start = time.perf_counter()
    graph = build_kg(load_kg_spec(HERE / "kg" / "hetionet.yaml"), HERE / "kg" / "hetionet.yaml", args.data_dir)
    build = {"nodes": sum(graph.node_counts().values()), "edges": sum(graph.edge_counts().values()),
             "seconds": time.perf_counter() - start, "peak_rss_gb": _peak_rss_gb()}
    del graph
    path = RESULTS / "kg.json"
    for name in args.runs:
        for variant in args.variants:
            record = bench_run(name, variant, args.epochs, args.work, args.data_dir, args.kge_epochs, args.sets,
                               pykeen_epochs=args.pykeen_epochs, max_folds=args.folds)
            # merge with what a concurrent run of this script may have written meanwhile
            current = json.loads(path.read_text()) if path.exists() else {"records": []}
            records = [r for r in current["records"] if (r["run"], r["variant"]) != (name, variant)] + [record]
            atomic_write_text(path, json.dumps({"build": build, "records": records}, indent=2))
            write_tables(build, records)


if __name__ == "__main__":
    main()
