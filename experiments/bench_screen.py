"""Screening throughput and memory: gnn-drug screen on MOSES slices next to plain RDKit parsing, in one run.

    python experiments/bench_screen.py [--sizes 10000 100000 1584663] [--workers 2] [--precisions fp32 bf16]
                                       [--models tox21 clintox] [--compile auto]

Trains the benchmark's models once (experiments/screen/<name>_screen_model.yaml: Tox21, and ClinTox as the optional
second model, with the same featuriser) if they are not there, then for each slice size: (1) parses the slice with
plain ``Chem.MolFromSmiles`` in ``--workers`` processes (the reference), (2) runs ``gnn-drug screen`` on it with
the ranking experiments/screen/nontoxic_druglike.yaml and the ``--models`` given. Peak RSS is the
largest sum of resident memory over the screen's process tree, sampled every 0.2 s (also the largest
main process and the largest worker, and a trace per run in the work folder). Writes
experiments/results/screening.md and screening.json, merged with the rows of earlier runs (one row per size, workers,
precision, models and compile setting; each row keeps the command that made it).
"""

from __future__ import annotations

import argparse
import gzip
import json
import multiprocessing
import os
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

from gnn_drug.data.atomic import atomic_write_text

HERE = Path(__file__).resolve().parent
FULL = 1_584_663


def _parse(chunk: list[str]) -> int:
    from rdkit import Chem, RDLogger

    RDLogger.DisableLog("rdApp.*")
    return sum(Chem.MolFromSmiles(s) is not None for s in chunk)


def rdkit_parse(path: Path, processes: int) -> tuple[int, float]:
    with gzip.open(path, "rt") as handle:
        next(handle)
        smiles = [line.strip() for line in handle]
    started = time.perf_counter()
    chunks = [smiles[i:i + 5000] for i in range(0, len(smiles), 5000)]
    with multiprocessing.get_context("forkserver").Pool(processes) as pool:
        valid = sum(pool.map(_parse, chunks))
    return valid, time.perf_counter() - started


def _role(process: psutil.Process, root: psutil.Process) -> str:
    """main (the screen itself), worker (a pool process, forked from the forkserver) or helper (forkserver,
    resource tracker)."""
    if process.pid == root.pid:
        return "main"
    return "helper" if process.ppid() == root.pid else "worker"


def peak_rss_of(command: list[str], env: dict, trace: Path | None = None) -> tuple[int, float, dict, str]:
    """Run ``command``; return (exit code, wall seconds, peak RSS in MB, stderr tail). Peak RSS: the process tree's
    total and, per role, the largest single process's (main, worker, helper), so a growth can be placed. ``trace``:
    a CSV of the samples (seconds, main, workers' sum, helpers' sum, total; MB)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    peak = {"total": 0, "main": 0, "worker": 0, "helper": 0}
    samples: list[str] = []
    done = threading.Event()

    def sample() -> None:
        root = psutil.Process(process.pid)
        while not done.is_set():
            try:
                sums = {"main": 0, "worker": 0, "helper": 0}
                for p in [root, *root.children(recursive=True)]:
                    rss, role = p.memory_info().rss, _role(p, root)
                    sums[role] += rss
                    peak[role] = max(peak[role], rss)
                peak["total"] = max(peak["total"], sum(sums.values()))
                samples.append(f"{time.perf_counter() - started:.1f},{sums['main'] / 2**20:.0f},"
                               f"{sums['worker'] / 2**20:.0f},{sums['helper'] / 2**20:.0f},"
                               f"{sum(sums.values()) / 2**20:.0f}")
            except psutil.Error:
                pass
            time.sleep(0.2)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    _, err = process.communicate()
    done.set()
    thread.join()
    if trace is not None:
        trace.write_text("seconds,main_mb,workers_mb,helpers_mb,total_mb\n" + "\n".join(samples[::5]) + "\n")
    return process.returncode, time.perf_counter() - started, {k: v / 2**20 for k, v in peak.items()}, err[-3000:]


def _screen_slice(args, env: dict, models: dict[str, Path], path: Path, size: int, precision: str, valid: int,
                  parse_s: float, test_auc: dict[str, float]) -> dict:
    tag = f"{size}_{precision}_{'+'.join(models)}_{args.compile}"
    out = args.work / f"out_{tag}"
    subprocess.run(["rm", "-rf", str(out)], check=True)
    command = [sys.executable, "-m", "gnn_drug.cli", "screen", "--library", str(path), "--smiles-column", "SMILES",
               "--rank", str(HERE / "screen" / "nontoxic_druglike.yaml"), "--out", str(out), "--workers",
               str(args.workers), "--precision", precision, "--compile", args.compile]
    for name, model in models.items():
        command += ["--model", f"{name}={model}"]
    code, wall, peak, err = peak_rss_of(command, env, args.work / f"rss_{tag}.csv")
    if code != 0:
        raise SystemExit(f"screen failed on {size} ({precision}): {err}")
    summary = json.loads((out / "summary.json").read_text())
    return {"size": size, "workers": args.workers, "precision": precision, "models": list(models),
            "compile": args.compile, "compiled": summary["compiled"],
            "rdkit_parse_s": round(parse_s, 2),
            "rdkit_parse_mol_s": round(size / parse_s), "rdkit_valid": valid,
            "screen_wall_s": round(wall, 1), "screen_mol_s": round(size / wall), "peak_rss_mb": round(peak["total"]),
            "peak_rss_main_mb": round(peak["main"]), "peak_rss_worker_mb": round(peak["worker"]),
            "scored": summary["molecules"], "rejects": summary["rejects"], "top": summary["top"],
            "model_test_roc_auc": {name: round(auc, 4) for name, auc in test_auc.items()},
            "command": f"python experiments/bench_screen.py --sizes {size} --workers {args.workers} "
                       f"--precisions {precision} --models {' '.join(models)} --compile {args.compile}"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", type=int, default=[10_000, 100_000, FULL])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--precisions", nargs="+", default=["fp32"], choices=["fp32", "bf16"],
                        help="model precision(s) of the screen, each run on every slice")
    parser.add_argument("--models", nargs="+", default=["tox21"], choices=["tox21", "clintox"],
                        help="models screened together (experiments/screen/<name>_screen_model.yaml)")
    parser.add_argument("--compile", default="auto", choices=["auto", "on", "off"],
                        help="gnn-drug screen --compile (auto: on from 50,000 molecules)")
    parser.add_argument("--data-dir", type=Path, default=os.environ.get("GNN_DRUG_DATA"))
    parser.add_argument("--work", type=Path, default=HERE / "work" / "screen")
    parser.add_argument("--results", type=Path, default=HERE / "results" / "screening")
    args = parser.parse_args()
    if args.data_dir is None:
        raise SystemExit("set --data-dir or GNN_DRUG_DATA")
    env = {**os.environ, "GNN_DRUG_DATA": str(args.data_dir)}
    models = {name: args.work / f"{name}_model" for name in args.models}
    for name, model in models.items():
        if not (model / "metrics.json").is_file():
            subprocess.run([sys.executable, "-m", "gnn_drug.cli", "train",
                            str(HERE / "screen" / f"{name}_screen_model.yaml"), "--out", str(model), "--resume"],
                           check=True, env=env)
    test_auc = {name: json.loads((model / "metrics.json").read_text())["test"]["roc_auc"]
                for name, model in models.items()}
    source = args.data_dir / "library" / "moses_train.csv.gz"
    records = []
    for size in args.sizes:
        path = args.work / f"moses_{size}.csv.gz"
        if not path.exists():
            with gzip.open(source, "rt") as src, gzip.open(path, "wt") as dst:
                for number, line in enumerate(src):
                    if number > size:
                        break
                    dst.write(line)
        valid, parse_s = rdkit_parse(path, args.workers)
        for precision in args.precisions:
            records.append(_screen_slice(args, env, models, path, size, precision, valid, parse_s, test_auc))
            print(json.dumps(records[-1]), flush=True)
    args.results.parent.mkdir(parents=True, exist_ok=True)
    previous = (json.loads(args.results.with_suffix(".json").read_text())
                if args.results.with_suffix(".json").exists() else [])

    def key(r: dict) -> tuple:
        return r["size"], r["workers"], r["precision"], tuple(r["models"]), r["compile"]

    fresh = {key(r) for r in records}
    # rows from before --models/--compile existed measured older code: they stay in git history, not in the table
    kept = sorted([r for r in previous if "compile" in r and key(r) not in fresh] + records, key=key)
    atomic_write_text(args.results.with_suffix(".json"), json.dumps(kept, indent=2))
    lines = ["# Screening throughput and memory", "",
             f"Machine: {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}. Models: "
             "D-MPNNs, experiments/screen/tox21_screen_model.yaml and clintox_screen_model.yaml (random-split test "
             "ROC-AUC in the table); ranking experiments/screen/nontoxic_druglike.yaml (shortlist 5,000 get QED, "
             "PAINS/Brenk, InChIKey and nearest-neighbour similarity). Wall time includes start-up, featurisation, "
             "compiling the models where they are compiled, the models, both phases and "
             "all outputs (scores.parquet, top.csv, rejects.csv, report.html). RDKit parse: plain "
             "`Chem.MolFromSmiles` of the same slice in as many processes, in the same run.", "",
             "| molecules | workers | models (test ROC-AUC) | precision | compiled | RDKit parse s | RDKit parse mol/s "
             "| screen s | screen mol/s | peak RSS MB | main / worker MB | rejects | command |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in kept:
        names = ", ".join(f"{n} ({auc:.3f})" for n, auc in r["model_test_roc_auc"].items())
        lines.append(f"| {r['size']:,} | {r['workers']} | {names} | {r['precision']} | "
                     f"{'yes' if r['compiled'] else 'no'} ({r['compile']}) | {r['rdkit_parse_s']} | "
                     f"{r['rdkit_parse_mol_s']:,} | {r['screen_wall_s']} | {r['screen_mol_s']:,} | "
                     f"{r['peak_rss_mb']:,} | {r['peak_rss_main_mb']:,} / {r['peak_rss_worker_mb']:,} | "
                     f"{r['rejects']} | `{r['command']}` |")
    notes = HERE / "results" / "screening_notes.md"  # measured by hand; kept below the generated table
    atomic_write_text(args.results.with_suffix(".md"), "\n".join(lines) + "\n"
                      + ("\n" + notes.read_text() if notes.exists() else ""))
    print(f"wrote {args.results.with_suffix('.md')}")


if __name__ == "__main__":
    main()
