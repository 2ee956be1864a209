"""Featurisation throughput: plain RDKit parsing vs gnn-drug featurisation, 1 and 2 processes, in one run.

    python experiments/bench_featurize.py [--data-dir ../shared/data] [--library-size 100000]

Writes experiments/results/featurize.md (and .json). Variants, all from SMILES strings:
  rdkit_parse       Chem.MolFromSmiles only (the reference)
  graph             parse + gnn-drug atom/bond graph (no standardisation)
  std_graph         parse + MolStandardize (cleanup, largest fragment, uncharge) + graph — the training default
  std_graph_cached  the same through the on-disk cache, second pass (what a re-run over the same file costs)
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from rdkit import Chem, RDLogger

from gnn_drug.chem import Standardizer
from gnn_drug.data.atomic import atomic_write_text
from gnn_drug.data.featurize import MoleculeFeaturizer, featurize_smiles
from gnn_drug.data.registry import default_data_dir

RDLogger.DisableLog("rdApp.*")
CHUNK = 1000


def _parse_chunk(chunk: list[str]) -> int:
    return sum(Chem.MolFromSmiles(s) is not None for s in chunk)


def rdkit_parse(smiles: list[str], processes: int) -> int:
    chunks = [smiles[i : i + CHUNK] for i in range(0, len(smiles), CHUNK)]
    if processes == 1:
        return sum(_parse_chunk(c) for c in chunks)
    with multiprocessing.get_context("forkserver").Pool(processes) as pool:
        return sum(pool.map(_parse_chunk, chunks))


def gnn_drug_featurize(smiles: list[str], processes: int, standardize: bool, cache_dir: str | None = None) -> int:
    std = Standardizer() if standardize else Standardizer(False, False, False, False)
    featurizer = MoleculeFeaturizer(std)
    result = featurize_smiles(smiles, featurizer, n_workers=processes, chunk_size=CHUNK, cache_dir=cache_dir)
    return len(result)


def timed(fn, *args) -> tuple[float, int]:
    start = time.perf_counter()
    n = fn(*args)
    return time.perf_counter() - start, n


def bench(name: str, smiles: list[str]) -> list[dict]:
    rows = []
    for processes in (1, 2):
        seconds, valid = timed(rdkit_parse, smiles, processes)
        rows.append({"dataset": name, "variant": "rdkit_parse", "processes": processes, "molecules": len(smiles),
                     "valid": valid, "seconds": seconds})
        for variant, standardize in (("graph", False), ("std_graph", True)):
            seconds, valid = timed(gnn_drug_featurize, smiles, processes, standardize)
            rows.append({"dataset": name, "variant": variant, "processes": processes, "molecules": len(smiles),
                         "valid": valid, "seconds": seconds})
        with tempfile.TemporaryDirectory() as cache:
            gnn_drug_featurize(smiles, processes, True, cache)
            seconds, valid = timed(gnn_drug_featurize, smiles, processes, True, cache)
        rows.append({"dataset": name, "variant": "std_graph_cached", "processes": processes,
                     "molecules": len(smiles), "valid": valid, "seconds": seconds})
    base = next(len(smiles) / r["seconds"] for r in rows if r["variant"] == "rdkit_parse" and r["processes"] == 1)
    for row in rows:
        row["mol_per_s"] = row["molecules"] / row["seconds"]
        row["x_rdkit_1proc"] = row["mol_per_s"] / base
        print(f"{row['dataset']:<14} {row['variant']:<17} {row['processes']}p  {row['mol_per_s']:>9,.0f} mol/s  "
              f"{row['x_rdkit_1proc']:.2f}x of 1-process RDKit parsing", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    parser.add_argument("--library-size", type=int, default=100_000)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "featurize.md")
    args = parser.parse_args()
    if args.data_dir is None:
        sys.exit("error: give --data-dir or set GNN_DRUG_DATA to the dataset mirror")
    tox21 = pd.read_csv(args.data_dir / "moleculenet" / "tox21.csv")["smiles"].tolist()
    library = pd.read_csv(args.data_dir / "library" / "moses_train.csv.gz", nrows=args.library_size)["SMILES"]
    rows = bench("tox21", tox21) + bench(f"moses_{args.library_size // 1000}k", library.tolist())

    command = "python experiments/bench_featurize.py " + " ".join(sys.argv[1:])
    lines = [
        "# Featurisation throughput",
        "",
        f"Command: `{command.strip()}`  ",
        f"Machine: {os.cpu_count()} cores, {platform.processor() or platform.machine()}, Python "
        f"{platform.python_version()}; one run, wall-clock seconds.",
        "",
        "Speed is relative to plain `Chem.MolFromSmiles` in one process on the same molecules in the same run.",
        "",
        "| dataset | variant | processes | molecules | valid | seconds | mol/s | × RDKit parse (1 proc) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['dataset']} | {r['variant']} | {r['processes']} | {r['molecules']:,} | {r['valid']:,} | "
                     f"{r['seconds']:.2f} | {r['mol_per_s']:,.0f} | {r['x_rdkit_1proc']:.2f} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out, "\n".join(lines) + "\n")
    atomic_write_text(args.out.with_suffix(".json"), json.dumps(rows, indent=2))
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
