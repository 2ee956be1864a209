"""``gnn-drug screen``: score a library of any size with bounded memory, rank it, and hand back a report.

Phase 1 streams the library in chunks through worker processes (standardise, featurise for each model, basic
properties) while the parent runs the models; every finished chunk is written atomically to ``OUT/.chunks/`` so an
interrupted screen resumes from the last finished chunk. Phase 2 takes the best ``shortlist`` molecules by the
preliminary score (objectives and filters on the columns known so far) and adds the expensive columns — QED,
PAINS/Brenk alerts, InChIKey, nearest training-set neighbour — then applies the full ranking, de-duplicates by
InChIKey, picks a diverse top N and marks the Pareto front. Outputs: ``scores.parquet`` (every molecule),
``top.csv``, ``rejects.csv``, ``report.html``.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import shutil
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from gnn_drug.data.atomic import atomic_path, atomic_write_text
from gnn_drug.data.featurize import FeaturizedMolecules, MoleculeFeaturizer, Reject
from gnn_drug.data.progress import progress_bar
from gnn_drug.data.registry import sha256_of
from gnn_drug.data.rejects import write_rejects
from gnn_drug.errors import ConfigError, DataError
from gnn_drug.screen.domain import DEFAULT_THRESHOLD, TrainingSetNeighbours
from gnn_drug.screen.library import count_molecules, iter_library
from gnn_drug.screen.properties import BASIC_COLUMNS, DETAILED_COLUMNS
from gnn_drug.screen.ranking import Ranking, diverse_pick, pareto_front
from gnn_drug.screen.workers import Phase1Chunk, init_worker, phase1_chunk, phase2_chunk
from gnn_drug.tasks.molecule_property import MoleculePropertyPredictor
from gnn_drug.train.compiled import COMPILE_MODES, compiler_available

Log = Callable[[str], None]
TRAINING_SET_FILE = "training_set.smi"
COMPILE_FROM = 50_000  # molecules: from here on, compiling the models (once, 5-40 s) costs less than it saves


@dataclass
class ScreenResult:
    molecules: int
    rejects: int
    ranked: int
    top: int
    seconds: float
    outputs: dict[str, str]


# ---- models --------------------------------------------------------------------------------------------------
@dataclass
class ScreenModel:
    name: str
    predictor: MoleculePropertyPredictor
    featurizer_index: int
    neighbours: TrainingSetNeighbours | None


def load_models(specs: dict[str, Path], log: Log) -> tuple[list[ScreenModel], list[MoleculeFeaturizer]]:
    models, featurizers, versions = [], [], []
    for name, path in specs.items():
        predictor = MoleculePropertyPredictor.load(path)
        version = predictor.featurizer.version
        if version not in versions:
            versions.append(version)
            featurizers.append(predictor.featurizer)
        model_dir = path / "model" if (path / "model").is_dir() else path
        training = model_dir / TRAINING_SET_FILE
        neighbours = None
        if training.is_file():
            neighbours = TrainingSetNeighbours(training.read_text().split())
        else:
            log(f"model {name}: no {TRAINING_SET_FILE} in {model_dir} (made by an older gnn-drug); "
                "no applicability-domain check for it")
        models.append(ScreenModel(name, predictor, versions.index(version), neighbours))
    return models, featurizers


def _predict_chunk(models: list[ScreenModel], result: Phase1Chunk, n_featurizers: int,
                   precision: str = "fp32", compile: bool = False) -> pd.DataFrame:
    frame = pd.DataFrame({"row": np.array(result.rows, dtype=np.int64), "smiles": result.canonical})
    basics = np.array(result.basic, dtype=object).reshape(len(result.rows), len(BASIC_COLUMNS))
    for j, column in enumerate(BASIC_COLUMNS):
        frame[column] = basics[:, j].astype(np.float64)
    if not result.rows:  # a chunk of only invalid molecules still has every column, so all chunks share one schema
        for model in models:
            for target in model.predictor.targets:
                frame[f"{model.name}:{target}"] = frame[f"{model.name}:{target}_std"] = np.zeros(0)
            for suffix in ("mean", "max", "std_mean"):
                frame[f"{model.name}:{suffix}"] = np.zeros(0)
        return frame
    for k in range(n_featurizers):
        users = [m for m in models if m.featurizer_index == k]
        if not users:
            continue
        graph_featurizer = users[0].predictor.featurizer.graph
        means: dict[str, list[np.ndarray]] = {m.name: [] for m in users}
        stds: dict[str, list[np.ndarray]] = {m.name: [] for m in users}
        start = 0
        for pack in result.graphs[k]:  # one pack's float features at a time: the parent's memory stays small
            graphs = graph_featurizer.unpack_graphs(pack)
            stop = start + len(graphs)
            featurized = FeaturizedMolecules(np.arange(start, stop), result.canonical[start:stop], graphs,
                                             result.extras[k][start:stop], [])
            for model in users:
                prediction = model.predictor.predict_featurized(featurized, precision=precision, compile=compile)
                means[model.name].append(prediction.mean)
                stds[model.name].append(prediction.std)
            start = stop
        for model in users:
            mean, std = np.concatenate(means[model.name]), np.concatenate(stds[model.name])
            for j, target in enumerate(model.predictor.targets):
                frame[f"{model.name}:{target}"] = mean[:, j]
                frame[f"{model.name}:{target}_std"] = std[:, j]
            frame[f"{model.name}:mean"] = mean.mean(axis=1)
            frame[f"{model.name}:max"] = mean.max(axis=1)
            frame[f"{model.name}:std_mean"] = std.mean(axis=1)
    return frame


# ---- driver --------------------------------------------------------------------------------------------------
def _fingerprint(library: Path, specs: dict[str, Path], chunk_size: int, precision: str = "fp32") -> str:
    """What the finished chunks depend on: library bytes, model cards, chunk size, precision. Not the ranking:
    scores are computed from the stored columns, so rerunning with another ranking re-ranks without re-scoring."""
    digest = hashlib.sha256(sha256_of(library).encode())
    if precision != "fp32":
        digest.update(precision.encode())
    for name, path in sorted(specs.items()):
        model_dir = path / "model" if (path / "model").is_dir() else path
        digest.update(name.encode() + sha256_of(model_dir / "model.json").encode())
    digest.update(str(chunk_size).encode())
    return digest.hexdigest()


def screen(library: str | os.PathLike, models: dict[str, str | os.PathLike], ranking: Ranking,
           out_dir: str | os.PathLike, smiles_column: str = "smiles", id_column: str | None = None,
           chunk_size: int = 10_000, n_workers: int = 2, domain_threshold: float = DEFAULT_THRESHOLD,
           log: Log = print, precision: str = "fp32", compile: str = "auto") -> ScreenResult:
    """``precision="bf16"``: the models' matrix products in bfloat16 (faster on CPUs with AMX / AVX-512 BF16;
    probabilities differ from fp32 by ~1e-4). ``compile``: run the models through ``torch.compile`` — ``on``,
    ``off``, or ``auto`` (on for libraries of at least ``COMPILE_FROM`` molecules when a C++ compiler is there:
    compiling costs 5-40 s once and saves ~40% of the models' time per molecule)."""
    if compile not in COMPILE_MODES:
        raise ConfigError(f"screen: compile {compile!r}: choose from {', '.join(COMPILE_MODES)}")
    started = time.perf_counter()
    library = Path(library)
    out = Path(out_dir)
    specs = {name: Path(path) for name, path in models.items()}
    if not specs:
        raise ConfigError("screen: give at least one model (--model NAME=RUN_DIR)")
    loaded, featurizers = load_models(specs, log)
    import torch

    threads = torch.get_num_threads()
    # the workers keep ``n_workers`` cores busy with RDKit; the models get what is left (at least one thread)
    torch.set_num_threads(max(1, (os.cpu_count() or 1) - n_workers))
    try:
        return _screen(library, specs, loaded, featurizers, ranking, out, smiles_column, id_column, chunk_size,
                       n_workers, domain_threshold, log, started, precision, compile)
    finally:
        torch.set_num_threads(threads)


def _screen(library: Path, specs: dict[str, Path], loaded: list[ScreenModel], featurizers: list[MoleculeFeaturizer],
            ranking: Ranking, out: Path, smiles_column: str, id_column: str | None, chunk_size: int, n_workers: int,
            domain_threshold: float, log: Log, started: float, precision: str = "fp32",
            compile: str = "auto") -> ScreenResult:
    chunk_dir = out / ".chunks"
    fingerprint = _fingerprint(library, specs, chunk_size, precision)
    meta_path = chunk_dir / "meta.json"
    if meta_path.is_file() and json.loads(meta_path.read_text()).get("fingerprint") != fingerprint:
        log(f"{out}: earlier chunks were made from another library, model or chunk size; starting afresh")
        shutil.rmtree(chunk_dir)
    chunk_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(meta_path, json.dumps({"fingerprint": fingerprint, "library": str(library)}))

    # phase 1: stream, featurise, predict; one parquet file per finished chunk
    done = {int(p.stem.split("_")[1]) for p in chunk_dir.glob("chunk_*.parquet")}
    if done:
        log(f"resuming: {len(done)} finished chunk(s) in {chunk_dir}")
    context = multiprocessing.get_context("forkserver")
    processed = 0
    total = count_molecules(library)
    remaining = None if total is None else max(total - len(done) * chunk_size, 0)
    compiled = compile == "on" or (compile == "auto" and (remaining or 0) >= COMPILE_FROM and compiler_available())
    if compiled:
        log("models run through torch.compile (compiling takes a few seconds before the first chunk)")
    t0 = time.perf_counter()
    with ProcessPoolExecutor(n_workers, mp_context=context, initializer=init_worker,
                             initargs=(featurizers,)) as pool, progress_bar("screening", remaining or 0) as advance:
        pending: deque = deque()

        def finish_oldest() -> None:
            nonlocal processed
            index, first_row, chunk_ids, chunk_smiles, future = pending.popleft()
            results = future.result()
            frame = _predict_chunk(loaded, results, len(featurizers), precision, compiled)
            frame.insert(1, "id", [chunk_ids[r - first_row] for r in frame["row"]])
            rejects = pd.DataFrame({"row": [row for row, _ in results.rejects],
                                    "input": [chunk_smiles[row - first_row] for row, _ in results.rejects],
                                    "reason": [reason for _, reason in results.rejects]})
            with atomic_path(chunk_dir / f"rejects_{index:06d}.csv") as tmp:
                rejects.to_csv(tmp, index=False)
            with atomic_path(chunk_dir / f"chunk_{index:06d}.parquet") as tmp:
                frame.to_parquet(tmp, index=False)
            processed += len(results)
            advance(len(results))
            del results, frame, rejects
            _release_freed_memory()
            rate = processed / max(time.perf_counter() - t0, 1e-9)
            eta = "" if remaining is None else f", ETA {max(remaining - processed, 0) / max(rate, 1e-9) / 60:.1f} min"
            log(f"chunk {index + 1}: {processed:,} molecules scored this session, {rate:,.0f} molecules/s{eta}")

        for chunk in iter_library(library, smiles_column, id_column, chunk_size):
            if chunk.index in done:
                continue
            pending.append((chunk.index, chunk.first_row, chunk.ids, chunk.smiles,
                            pool.submit(phase1_chunk, (chunk.first_row, chunk.smiles))))
            while len(pending) > 2 * n_workers:  # bounded: memory stays flat whatever the library size
                finish_oldest()
        while pending:
            finish_oldest()

        # phase 2: detailed properties and applicability domain for the shortlist
        chunk_files = sorted(chunk_dir.glob("chunk_*.parquet"))
        if not chunk_files:
            raise DataError(f"{library}: no molecules to screen")
        prelim = pd.concat([_preliminary(p, ranking) for p in chunk_files], ignore_index=True)
        candidates = prelim.dropna(subset=["preliminary_score"]).sort_values(
            ["preliminary_score", "row"], ascending=[False, True]).head(ranking.shortlist)
        shortlist_rows = set(candidates["row"].tolist())
        parts = []
        for path in chunk_files:
            frame = _with_preliminary(pd.read_parquet(path), ranking)
            parts.append(frame[frame["row"].isin(shortlist_rows)])
        short = pd.concat(parts, ignore_index=True)
        log(f"shortlist: {len(short):,} molecules get QED, PAINS/Brenk alerts, InChIKey and nearest neighbours")
        smiles = short["smiles"].tolist() if len(short) else []
        pieces = [smiles[i:i + 500] for i in range(0, len(smiles), 500)]
        detailed = [row for part in pool.map(phase2_chunk, pieces) for row in part]
    for j, column in enumerate(DETAILED_COLUMNS):
        short[column] = [d[j] for d in detailed]
    _add_domain(short, loaded, domain_threshold)

    # final ranking on the shortlist
    short["score"] = ranking.score(short)
    ranked = short.dropna(subset=["score"]).sort_values(["score", "row"], ascending=[False, True])
    if ranking.dedupe == "inchikey":
        ranked = ranked.drop_duplicates(subset=["inchikey"], keep="first")
    top = _pick_top(ranked, ranking)
    top = top.assign(rank=np.arange(1, len(top) + 1))
    top["pareto_front"] = pareto_front(top, ranking)
    outputs = _write_outputs(out, chunk_files, short, ranked, top, library, specs, ranking, log)
    seconds = time.perf_counter() - started
    total = int(sum(pd.read_parquet(p, columns=["row"]).shape[0] for p in chunk_files))
    reject_count = int(sum(len(pd.read_csv(p)) for p in chunk_dir.glob("rejects_*.csv")))
    summary = {"library": str(library), "models": {k: str(v) for k, v in specs.items()}, "molecules": total,
               "rejects": reject_count, "shortlist": len(short), "ranked": len(ranked), "top": len(top),
               "seconds": round(seconds, 1), "molecules_per_second": round((total + reject_count) / seconds, 1),
               "precision": precision, "compiled": compiled}
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=2))
    from gnn_drug.screen.report import write_report

    write_report(out / "report.html", summary, top, short, ranking, loaded)
    outputs["report"] = str(out / "report.html")
    log(f"screened {total + reject_count:,} molecules in {seconds:.0f} s; top {len(top)} -> {outputs['top']}")
    return ScreenResult(total, reject_count, len(ranked), len(top), seconds, outputs)


def _release_freed_memory() -> None:
    """Hand the C heap's free pages back to the system after a chunk. Each chunk allocates and frees a few hundred
    MB of graphs and activations of its own sizes; glibc keeps those pages, and the main process's RSS crept up by
    ~0.3 GB over 10 chunks without this (flat with it). A no-op off glibc."""
    global _MALLOC_TRIM
    if _MALLOC_TRIM is None:
        import ctypes
        import ctypes.util

        try:
            _MALLOC_TRIM = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
        except (OSError, AttributeError):
            _MALLOC_TRIM = False
    if _MALLOC_TRIM:
        _MALLOC_TRIM(0)


_MALLOC_TRIM = None


def _with_preliminary(frame: pd.DataFrame, ranking: Ranking) -> pd.DataFrame:
    """The frame with ``preliminary_score``: the ranking's objectives and filters on the columns phase 1 has."""
    return frame.assign(preliminary_score=ranking.score(frame, set(frame.columns)))


def _preliminary(path: Path, ranking: Ranking) -> pd.DataFrame:
    import pyarrow.parquet as pq

    names = set(pq.read_schema(path).names)
    columns = ["row", *sorted(c for c in ranking.columns() if c in names and c != "row")]
    return _with_preliminary(pd.read_parquet(path, columns=columns), ranking)[["row", "preliminary_score"]]


def _add_domain(short: pd.DataFrame, models: list[ScreenModel], threshold: float) -> None:
    from rdkit import Chem

    mols = [Chem.MolFromSmiles(s) for s in short["smiles"]] if len(short) else []
    in_domain = np.ones(len(short), dtype=bool)
    for model in models:
        if model.neighbours is None:
            continue
        nearest = [model.neighbours.nearest(m) if m is not None else (float("nan"), "") for m in mols]
        sims = np.array([n[0] for n in nearest], dtype=np.float64)
        short[f"{model.name}:nearest_similarity"] = sims
        short[f"{model.name}:nearest_training_smiles"] = [n[1] for n in nearest]
        in_domain &= sims >= threshold
    short["in_domain"] = in_domain


def _pick_top(ranked: pd.DataFrame, ranking: Ranking) -> pd.DataFrame:
    if ranking.diversity is None or ranked.empty:
        return ranked.head(ranking.top).copy()
    from rdkit import Chem

    from gnn_drug.screen.domain import morgan_fingerprint

    pool = ranked.head(max(ranking.top * 20, 1000))
    fps = [morgan_fingerprint(Chem.MolFromSmiles(s)) for s in pool["smiles"]]
    picked = diverse_pick(fps, np.arange(len(pool)), ranking.top, ranking.diversity)
    return pool.iloc[picked].copy()


def _write_outputs(out: Path, chunk_files: list[Path], short: pd.DataFrame, ranked: pd.DataFrame,
                   top: pd.DataFrame, library: Path, specs: dict, ranking: Ranking, log: Log) -> dict[str, str]:
    """scores.parquet streamed chunk by chunk (shortlist columns merged in), top.csv, rejects.csv."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    phase1 = set(pd.read_parquet(chunk_files[0]).columns) | {"preliminary_score"}
    extra_columns = [c for c in short.columns if c not in phase1] + ["score"]
    extra = short.set_index("row")[[c for c in dict.fromkeys(extra_columns) if c in short.columns]]
    extra = extra.assign(score=short.set_index("row")["score"])
    # non-shortlisted rows get these columns missing, and every chunk must still get one schema: booleans and
    # strings become nullable dtypes (an all-missing object column would otherwise be pyarrow's null type)
    kinds = {c: pd.api.types.infer_dtype(extra[c], skipna=True) for c in extra.columns}
    extra = extra.astype({c: "boolean" if kind == "boolean" else "string" for c, kind in kinds.items()
                          if kind in ("boolean", "string")})
    rank_of = pd.Series(np.arange(1, len(top) + 1), index=top["row"].to_numpy())
    writer = None
    schema = None
    with atomic_path(out / "scores.parquet") as tmp:
        for path in chunk_files:
            frame = _with_preliminary(pd.read_parquet(path), ranking)
            merged = frame.join(extra, on="row")
            merged["top_rank"] = merged["row"].map(rank_of)
            table = pa.Table.from_pandas(merged, preserve_index=False)
            if writer is None:
                schema = table.schema
                writer = pq.ParquetWriter(tmp, schema)
            writer.write_table(table.cast(schema))
        if writer is not None:
            writer.close()
    columns = ["rank", "row", "id", "smiles", "score"] + [c for c in top.columns if c not in (
        "rank", "row", "id", "smiles", "score", "preliminary_score")]
    with atomic_path(out / "top.csv") as tmp:
        top[columns].to_csv(tmp, index=False)
    rejects = [Reject(int(r.row) - 1, str(r.input), str(r.reason)) for p in sorted(out.glob(".chunks/rejects_*.csv"))
               for r in pd.read_csv(p, keep_default_na=False, dtype={"input": str}).itertuples()]
    write_rejects(out / "rejects.csv", rejects, str(library))
    return {"scores": str(out / "scores.parquet"), "top": str(out / "top.csv"), "rejects": str(out / "rejects.csv")}
