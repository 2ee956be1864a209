"""Molecular property prediction (toxicity, ADMET, any per-molecule assay), as a recipe of shared parts:

table -> standardised, featurised molecules (+ rejects) -> split -> k seeded models -> validation-selected
ensemble -> metrics, predictions and a model directory. :class:`MoleculePropertyPredictor` loads a run back.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from gnn_drug.chem import InvalidMoleculeError, MolGraphFeaturizer, Standardizer, murcko_scaffold, parse_smiles
from gnn_drug.data.atomic import atomic_path, atomic_write_text
from gnn_drug.data.featurize import FeaturizedMolecules, MoleculeFeaturizer, featurize_smiles
from gnn_drug.data.graph_dataset import MolGraphDataset
from gnn_drug.data.progress import progress_bar
from gnn_drug.data.registry import DATASETS, default_cache_dir, resolve_dataset, sha256_of
from gnn_drug.data.rejects import write_rejects
from gnn_drug.data.scaling import FeatureScaler
from gnn_drug.data.splits import Split, load_split_for_rows, random_split, save_split, scaffold_split, stratified_split
from gnn_drug.data.tables import MoleculeTable, load_molecule_table, write_table
from gnn_drug.errors import DataError
from gnn_drug.models import MoleculeModel
from gnn_drug.tasks.config import TaskConfig
from gnn_drug.tasks.run_steps import (
    Log,
    load_members,
    model_dir_of,
    open_run_dir,
    print_log,
    silent,
    summarise_members,
    train_members,
    training_record,
)
from gnn_drug.train.distributed import DistributedContext
from gnn_drug.train.metrics import evaluate_predictions
from gnn_drug.train.model_files import load_model_dir, save_model_dir
from gnn_drug.train.trainer import TargetScaler, predict_outputs, resolve_device


# ---- data ----------------------------------------------------------------------------------------------------
@dataclass
class DataSourceInfo:
    path: Path
    name: str
    licence: str | None


def resolve_source(source: str, data_dir: str | os.PathLike | None = None) -> DataSourceInfo:
    """A registry name resolves through the mirror/cache/download chain; anything else is a file path."""
    if source.lower() in DATASETS and not Path(source).exists():
        entry = DATASETS[source.lower()]
        return DataSourceInfo(resolve_dataset(entry.name, data_dir), entry.name, entry.licence)
    path = Path(source).expanduser()
    if not path.is_file():
        raise DataError(f"{source}: neither a known dataset ({', '.join(sorted(DATASETS))}) nor an existing file")
    return DataSourceInfo(path, path.name, None)


def load_task_table(config: TaskConfig, data_dir: str | os.PathLike | None = None) -> tuple[MoleculeTable,
                                                                                             DataSourceInfo]:
    info = resolve_source(config.data.source, data_dir)
    entry = DATASETS.get(info.name)
    smiles_column = config.data.smiles_column or (entry.smiles_column if entry else "smiles")
    targets = config.data.targets or (list(entry.target_columns) if entry and entry.target_columns else None)
    task_types = config.data.task_types or (entry.task_type if entry else None)
    table = load_molecule_table(info.path, smiles_column, targets, task_types, config.data.id_column)
    return table, info


def build_featurizer(config: TaskConfig) -> MoleculeFeaturizer:
    std = config.featurization.standardize
    return MoleculeFeaturizer(
        Standardizer(std.cleanup, std.largest_fragment, std.uncharge, std.canonical_tautomer),
        tuple(config.featurization.extra_features),
    )


def feature_cache_dir(config: TaskConfig) -> Path | None:
    if not config.featurization.cache:
        return None
    return Path(config.featurization.cache_dir) if config.featurization.cache_dir else default_cache_dir() / "features"


def parent_scaffold(smiles: str, fallback: str, standardizer: Standardizer) -> str:
    """Bemis–Murcko scaffold of the standardised parent (salt stripped, neutralised), so that salt and charge
    forms of one compound always fall on the same side of a scaffold split, whatever the featurisation uses."""
    try:
        mol = standardizer(smiles).mol
    except InvalidMoleculeError:
        mol = parse_smiles(fallback)
    return murcko_scaffold(mol)


def make_split(config: TaskConfig, featurized: FeaturizedMolecules, labels: np.ndarray,
               input_smiles: list[str]) -> Split:
    """Split the valid molecules (positions in ``featurized`` order); ``input_smiles`` are their input strings."""
    cfg = config.split
    n = len(featurized)
    if cfg.method == "random":
        return random_split(n, cfg.sizes, cfg.seed)
    if cfg.method == "stratified":
        return stratified_split(labels, cfg.sizes, cfg.seed)
    parent = Standardizer()
    scaffolds = [parent_scaffold(raw, canonical, parent) for raw, canonical in zip(input_smiles, featurized.smiles,
                                                                                    strict=True)]
    return scaffold_split(scaffolds, cfg.sizes, cfg.seed)


def split_from_file(path: str | os.PathLike, featurized: FeaturizedMolecules, n_rows: int, log: Log) -> Split:
    """A split file holds input-file rows; rows whose molecule was rejected are dropped (and reported)."""
    split, dropped = load_split_for_rows(path, featurized.rows, n_rows)
    if dropped:
        log(f"{path}: {dropped} split rows refer to rejected molecules and were dropped")
    return split


# ---- training ------------------------------------------------------------------------------------------------
def _build_model(config: TaskConfig, num_tasks: int, extra_dim: int) -> MoleculeModel:
    m = config.model
    return MoleculeModel(m.encoder, MolGraphFeaturizer.atom_dim, MolGraphFeaturizer.bond_dim, num_tasks,
                         extra_dim=extra_dim, hidden_dim=m.hidden_dim, depth=m.depth, dropout=m.dropout,
                         readout=m.readout, head_hidden_dim=m.head_hidden_dim, head_layers=m.head_layers)


def _write_predictions(path: Path, rows: np.ndarray, smiles: list[str], inputs: list[str], targets: list[str],
                       mean: np.ndarray, std: np.ndarray | None, labels: np.ndarray | None = None) -> None:
    frame = pd.DataFrame({"row": rows + 1, "input_smiles": inputs, "smiles": smiles})
    for j, name in enumerate(targets):
        if labels is not None:
            frame[f"{name}_true"] = labels[:, j]
        frame[name] = mean[:, j]
        if std is not None:
            frame[f"{name}_std"] = std[:, j]
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)


def train_run(config: TaskConfig, out_dir: str | os.PathLike, data_dir: str | os.PathLike | None = None,
              resume: bool = False, log: Log = print_log,
              on_epoch_end: Callable[[int, dict], None] | None = None,
              distributed: DistributedContext | None = None) -> dict:
    """Train (or resume) a run into ``out_dir``; returns the metrics written to ``metrics.json``.

    With ``distributed`` (one call per process), every rank trains its share of each batch and rank 0 alone
    writes files; other ranks return an empty dict."""
    out = Path(out_dir)
    main = distributed is None or distributed.is_main
    if not main:
        log = silent
    config = open_run_dir(config, out, resume, log, main)
    started = time.perf_counter()

    table, info = load_task_table(config, data_dir)
    if info.licence:
        log(f"dataset {info.name}: {info.licence}")
    log(f"{info.path}: {len(table)} rows, {table.num_tasks} task(s): "
        + ", ".join(f"{t} [{k}]" for t, k in zip(table.targets, table.task_types, strict=True)))
    featurizer = build_featurizer(config)
    if not main:
        distributed.barrier()  # rank 0 featurises first and fills the cache; the others then read it
    with progress_bar("featurising", len(table) if main else 0) as advance:
        featurized = featurize_smiles(table.smiles, featurizer, n_workers=config.featurization.n_workers,
                                      cache_dir=feature_cache_dir(config), progress=advance)
    if distributed is not None and main:
        distributed.barrier()
    if main:
        write_rejects(out / "rejects.csv", featurized.rejects, str(info.path))
    if featurized.rejects:
        log(f"{len(featurized.rejects)} molecule(s) rejected, see {out / 'rejects.csv'} "
            f"(first: row {featurized.rejects[0].row + 1}: {featurized.rejects[0].reason})")
    if len(featurized) < 3:
        raise DataError(f"{info.path}: only {len(featurized)} valid molecules; need at least 3 to split")
    labels = table.labels[featurized.rows]

    split_path = out / "splits.json"
    if config.split.split_file:
        split = split_from_file(config.split.split_file, featurized, len(table), log)
    elif resume and split_path.exists():
        split = split_from_file(split_path, featurized, len(table), log)
    else:
        split = make_split(config, featurized, labels, [table.smiles[r] for r in featurized.rows])
    if main:
        save_split(split.map(featurized.rows), split_path)
    for name, part in (("train", split.train), ("val", split.val), ("test", split.test)):
        if len(part) == 0 and name != "test":
            raise DataError(f"{info.path}: the {name} set is empty; check split sizes")

    extra_scaler = FeatureScaler().fit(featurized.extras[split.train])
    extras = extra_scaler.transform(featurized.extras) if featurizer.extra_dim else featurized.extras
    full = MolGraphDataset(featurized.graphs, labels, extras)
    train_ds, val_ds, test_ds = full.subset(split.train), full.subset(split.val), full.subset(split.test)
    target_scaler = TargetScaler.fit(train_ds.labels, table.task_types)

    members = train_members(config, lambda _k: _build_model(config, table.num_tasks, featurizer.extra_dim),
                            train_ds, val_ds, test_ds, table.task_types, table.targets, target_scaler, out, log,
                            resume=resume, on_epoch_end=on_epoch_end, distributed=distributed,
                            label=f", {config.model.encoder}")
    if not main:
        distributed.barrier()
        return {}
    metrics = {"val": summarise_members(members.val_preds, val_ds.labels, table.task_types, table.targets)}
    if len(split.test):
        test_preds = members.test_preds
        metrics["test"] = summarise_members(test_preds, test_ds.labels, table.task_types, table.targets)
        test_mean, test_std = np.mean(test_preds, axis=0), np.std(test_preds, axis=0)
        test_rows = featurized.rows[split.test]
        _write_predictions(out / "test_predictions.csv", test_rows, [featurized.smiles[i] for i in split.test],
                           [table.smiles[r] for r in test_rows], table.targets, test_mean,
                           test_std if len(test_preds) > 1 else None, test_ds.labels)
    metrics["training"] = training_record(config.train.seeds, members.fits)

    tensors = members.tensors
    tensors["extra_scaler.mean"] = torch.from_numpy(extra_scaler.mean_)
    tensors["extra_scaler.scale"] = torch.from_numpy(extra_scaler.scale_)
    tensors["target_scaler.mean"] = torch.from_numpy(target_scaler.mean)
    tensors["target_scaler.std"] = torch.from_numpy(target_scaler.std)
    card = {
        "task": config.task,
        "config": config.model_dump(mode="json"),
        "featurizer_version": featurizer.version,
        "targets": table.targets,
        "task_types": table.task_types,
        "units": {t: config.data.units.get(t, "probability" if k == "classification" else None)
                  for t, k in zip(table.targets, table.task_types, strict=True)},
        "members": len(config.train.seeds),
        "extra_dim": featurizer.extra_dim,
        "training_data": {"source": str(info.path), "name": info.name, "sha256": sha256_of(info.path),
                          "licence": info.licence, "rows": len(table), "valid": len(featurized),
                          "rejects": len(featurized.rejects)},
        "split": {"method": config.split.method, "seed": config.split.seed, "train": len(split.train),
                  "val": len(split.val), "test": len(split.test)},
        "metrics": {k: {m: v for m, v in metrics[k].items() if m not in ("per_task", "members")}
                    for k in ("val", "test") if k in metrics},
    }
    training_set = "".join(f"{featurized.smiles[i]}\n" for i in split.train)  # for applicability-domain checks
    save_model_dir(out / "model", tensors, card, {"training_set.smi": training_set})
    summary = {
        "source": str(info.path), "rows": len(table), "valid": len(featurized), "rejects": len(featurized.rejects),
        "targets": dict(zip(table.targets, table.task_types, strict=True)),
        "split": card["split"], "seconds": round(time.perf_counter() - started, 1),
    }
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=2))
    atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=2))
    if distributed is not None:
        distributed.barrier()
    return metrics


def _train_rank(context: DistributedContext, config: TaskConfig, out_dir: Path, data_dir, resume: bool) -> None:
    train_run(config, out_dir, data_dir=data_dir, resume=resume, distributed=context)


def train_run_parallel(config: TaskConfig, out_dir: str | os.PathLike, nproc: int,
                       data_dir: str | os.PathLike | None = None, resume: bool = False) -> dict:
    """:func:`train_run` in ``nproc`` local processes (DistributedDataParallel; gloo on CPU, nccl on GPU)."""
    from gnn_drug.train.distributed import launch

    backend = "nccl" if resolve_device(config.train.device).type == "cuda" else "gloo"
    launch(_train_rank, nproc, (config, Path(out_dir), data_dir, resume), backend=backend)
    return json.loads((Path(out_dir) / "metrics.json").read_text())


# ---- prediction ----------------------------------------------------------------------------------------------
@dataclass
class Predictions:
    featurized: FeaturizedMolecules
    mean: np.ndarray
    std: np.ndarray


class MoleculePropertyPredictor:
    """A trained run loaded from its model directory (checksums verified, tensors only)."""

    def __init__(self, card: dict, tensors: dict[str, torch.Tensor]) -> None:
        self.card = card
        self.config = TaskConfig.model_validate(card["config"])
        self.targets: list[str] = card["targets"]
        self.task_types: list[str] = card["task_types"]
        self.featurizer = build_featurizer(self.config)
        if self.featurizer.version != card["featurizer_version"]:
            raise DataError(
                f"model was trained with featuriser {card['featurizer_version']}, this gnn-drug provides "
                f"{self.featurizer.version}; retrain the model"
            )
        self.extra_scaler = FeatureScaler.from_state(tensors["extra_scaler.mean"].numpy(),
                                                     tensors["extra_scaler.scale"].numpy())
        self.target_scaler = TargetScaler(tensors["target_scaler.mean"].numpy(), tensors["target_scaler.std"].numpy())
        self.models = load_members(tensors, card["members"],
                                   lambda _k: _build_model(self.config, len(self.targets), card["extra_dim"]))

    @classmethod
    def load(cls, run_dir: str | os.PathLike) -> MoleculePropertyPredictor:
        tensors, card = load_model_dir(model_dir_of(run_dir))
        if card.get("task") not in ("toxicity", "property"):
            raise DataError(f"{run_dir}: a {card.get('task')} model scores (compound, protein / cell line) pairs, "
                            "not molecules alone; use gnn-drug predict with it")
        return cls(card, tensors)

    def predict_featurized(self, featurized: FeaturizedMolecules, device: str = "cpu",
                           batch_size: int = 256, precision: str = "fp32", compile: bool = False) -> Predictions:
        extras = self.extra_scaler.transform(featurized.extras) if self.featurizer.extra_dim else featurized.extras
        dataset = MolGraphDataset(featurized.graphs, None, extras)
        dev = resolve_device(device)
        preds = []
        for model in self.models:
            model.to(dev)
            preds.append(predict_outputs(model, dataset, self.task_types, self.target_scaler, batch_size, dev,
                                         precision, compile))
        stacked = np.stack(preds) if preds else np.zeros((1, 0, len(self.targets)), np.float32)
        return Predictions(featurized, stacked.mean(axis=0), stacked.std(axis=0))

    def predict_smiles(self, smiles: list[str], n_workers: int = 1, cache_dir: str | os.PathLike | None = None,
                       device: str = "cpu") -> Predictions:
        with progress_bar("featurising", len(smiles)) as advance:
            featurized = featurize_smiles(smiles, self.featurizer, n_workers=n_workers, cache_dir=cache_dir,
                                          progress=advance)
        return self.predict_featurized(featurized, device)


def predict_file(run_dir: str | os.PathLike, input_path: str | os.PathLike, out_path: str | os.PathLike,
                 smiles_column: str = "smiles", id_column: str | None = None, n_workers: int = 1,
                 rejects_path: str | os.PathLike | None = None, log: Log = print_log) -> Predictions:
    """Predict every molecule of a file; output (CSV or Parquet by extension) and rejects written atomically."""
    predictor = MoleculePropertyPredictor.load(run_dir)
    table = load_molecule_table(input_path, smiles_column, targets=[], id_column=id_column, require_targets=False)
    result = predictor.predict_smiles(table.smiles, n_workers=n_workers)
    fz = result.featurized
    frame = pd.DataFrame({"row": fz.rows + 1, "input_smiles": [table.smiles[r] for r in fz.rows],
                          "smiles": fz.smiles})
    if table.ids is not None:
        frame.insert(1, id_column, [table.ids[r] for r in fz.rows])
    for j, name in enumerate(predictor.targets):
        frame[name] = result.mean[:, j]
        if len(predictor.models) > 1:
            frame[f"{name}_std"] = result.std[:, j]
    out_path = Path(out_path)
    write_table(frame, out_path)
    rejects_path = Path(rejects_path) if rejects_path else out_path.with_name(out_path.stem + ".rejects.csv")
    write_rejects(rejects_path, fz.rejects, str(input_path))
    log(f"{len(fz)} molecules predicted -> {out_path}; {len(fz.rejects)} rejected -> {rejects_path}")
    return result


def evaluate_file(run_dir: str | os.PathLike, input_path: str | os.PathLike, smiles_column: str = "smiles",
                  n_workers: int = 1) -> dict:
    """Metrics of a trained run on a new labelled file (label columns named as in training)."""
    predictor = MoleculePropertyPredictor.load(run_dir)
    table = load_molecule_table(input_path, smiles_column, targets=predictor.targets,
                                task_types=dict(zip(predictor.targets, predictor.task_types, strict=True)))
    result = predictor.predict_smiles(table.smiles, n_workers=n_workers)
    metrics = evaluate_predictions(table.labels[result.featurized.rows], result.mean, predictor.task_types,
                                   predictor.targets)
    metrics["molecules"] = len(result.featurized)
    metrics["rejects"] = len(result.featurized.rejects)
    return metrics
