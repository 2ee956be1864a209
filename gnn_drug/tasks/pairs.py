"""Pairwise prediction (compound x protein affinity, compound x cell-line response), as a recipe of shared parts:

pair table -> distinct compounds featurised once (+ rejects) and entity inputs (sequence tokens, k-mer
composition or scaled profiles) -> split of the pairs (random, cold, published folds) -> k seeded pair models
-> metrics (MSE, CI, Pearson, Spearman, r²m), test predictions and a model directory that also stores the
entities, so a trained model can rank new compounds against every protein or cell line it knows.
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

from gnn_drug.chem import MolGraphFeaturizer, Standardizer
from gnn_drug.data.atomic import atomic_path, atomic_write_text
from gnn_drug.data.featurize import FeaturizedMolecules, Reject, featurize_smiles
from gnn_drug.data.graph_dataset import MolGraphDataset
from gnn_drug.data.neighbour_evidence import NeighbourEvidence, compound_fingerprints
from gnn_drug.data.pair_dataset import PairDataset
from gnn_drug.data.pairs import CompoundSource, EntitySource, PairTable, load_deepdta, load_pair_file
from gnn_drug.data.progress import progress_bar
from gnn_drug.data.registry import DATASETS, resolve_data_path, resolve_dataset_files, sha256_of
from gnn_drug.data.rejects import write_rejects
from gnn_drug.data.scaling import FeatureScaler
from gnn_drug.data.sequences import VOCABULARY_SIZE, clean_sequence, kmer_composition, tokenize_sequences
from gnn_drug.data.splits import (
    Split,
    cold_both_split,
    cold_split,
    load_split_for_rows,
    predefined_split,
    random_split,
    save_split,
)
from gnn_drug.data.tables import CLASSIFICATION, REGRESSION, infer_task_type, read_table, write_table
from gnn_drug.errors import ConfigError, DataError
from gnn_drug.models.matrix_factorization import (
    FAMILIARITY,
    MatrixFactorization,
    blend,
    blend_weights,
    familiarity,
    fit_on_validation,
)
from gnn_drug.models.pair_model import PairModel
from gnn_drug.models.profile_cnn import ProfileCNN
from gnn_drug.models.sequence_cnn import SequenceCNN
from gnn_drug.models.vector_mlp import VectorMLP
from gnn_drug.tasks.config import EntityEncoderConfig, TaskConfig
from gnn_drug.tasks.molecule_property import build_featurizer, feature_cache_dir, parent_scaffold
from gnn_drug.tasks.run_steps import (
    Log,
    load_members,
    model_dir_of,
    open_run_dir,
    print_log,
    summarise_members,
    train_members,
    training_record,
)
from gnn_drug.train.metrics import evaluate_predictions, pair_regression_metrics
from gnn_drug.train.model_files import load_model_dir, save_model_dir
from gnn_drug.train.trainer import TargetScaler, predict_outputs, resolve_device

PAIR_TASKS = ("affinity", "response")
#: ranking direction of each pair task's value: tighter binding (pKd) vs. lower IC50 (more sensitive)
HIGHER_IS_BETTER = {"affinity": True, "response": False}


# ---- data ----------------------------------------------------------------------------------------------------
def resolve_data_file(text: str, data_dir: str | os.PathLike | None = None) -> Path:
    """A path, or ``data:REL`` relative to the data directory (``--data-dir`` / ``GNN_DRUG_DATA``)."""
    return resolve_data_path(text, data_dir)


@dataclass
class PairSourceInfo:
    path: Path
    name: str
    licence: str | None
    sha256: str


def load_pair_source(config: TaskConfig, data_dir: str | os.PathLike | None = None) -> tuple[
        PairTable, list[Reject], PairSourceInfo]:
    """A registry pair dataset (Davis, KIBA) or a long table laid out as ``data.pairs`` says."""
    source = config.data.source
    spec = config.data.pairs
    entry = DATASETS.get(source.lower())
    if entry is not None and entry.kind == "pairs" and not Path(source).exists():
        files = resolve_dataset_files(entry.name, data_dir)
        transform = (spec.transform if spec and spec.transform else None) or entry.extra.get("transform", "none")
        table = load_deepdta(files, entry.name, entry.extra.get("value_name", "value"), transform)
        digest = sha256_of(files["matrix"])
        return table, [], PairSourceInfo(files["matrix"].parent, entry.name, entry.licence, digest)
    if spec is None:
        raise ConfigError(f"{source}: a pair table needs a 'data.pairs' section (compound_column, entity_column, "
                          "value_column and where SMILES and sequences/profiles come from)")
    path = resolve_data_file(source, data_dir)
    compounds = None
    if spec.compounds is not None:
        compounds = CompoundSource(str(resolve_data_file(spec.compounds.file, data_dir)), spec.compounds.id_column,
                                   spec.compounds.smiles_column)
    entities = [EntitySource(str(resolve_data_file(e.file, data_dir)), e.id_column, e.sequence_column, e.columns,
                             e.prefix) for e in spec.entities]
    table, rejects = load_pair_file(path, spec.compound_column, spec.entity_column, spec.value_column,
                                    smiles_column=spec.smiles_column, sequence_column=spec.sequence_column,
                                    compounds=compounds, entities=entities, transform=spec.transform or "none",
                                    value_name=spec.value_name or ("pKd" if spec.transform == "pkd_from_nm" else None))
    return table, rejects, PairSourceInfo(path, path.name, None, sha256_of(path))


@dataclass
class PreparedPairs:
    """Pairs whose compound featurised, with compound indices into ``featurized`` (distinct compounds)."""

    table: PairTable
    featurized: FeaturizedMolecules
    compound_index: np.ndarray
    entity_index: np.ndarray
    values: np.ndarray
    rows: np.ndarray
    rejects: list[Reject]


def featurize_pair_compounds(config: TaskConfig, table: PairTable, rejects: list[Reject], log: Log) -> PreparedPairs:
    """Featurise each distinct compound once; pairs of a compound RDKit cannot use become rejects."""
    featurizer = build_featurizer(config)
    with progress_bar("featurising compounds", table.num_compounds) as advance:
        featurized = featurize_smiles(table.compound_smiles, featurizer, n_workers=config.featurization.n_workers,
                                      cache_dir=feature_cache_dir(config), progress=advance)
    position = np.full(table.num_compounds, -1, dtype=np.int64)
    position[featurized.rows] = np.arange(len(featurized))
    reasons = {r.row: r.reason for r in featurized.rejects}
    mapped = position[table.compound_index]
    dropped = np.flatnonzero(mapped < 0)
    all_rejects = list(rejects)
    for i in dropped:
        c = int(table.compound_index[i])
        all_rejects.append(Reject(row=int(table.rows[i]),
                                  smiles=f"{table.compound_ids[c]} | {table.entity_ids[table.entity_index[i]]}",
                                  reason=f"compound SMILES {table.compound_smiles[c]!r}: {reasons[c]}"))
    all_rejects.sort(key=lambda r: r.row)
    if featurized.rejects:
        log(f"{len(featurized.rejects)} compound(s) rejected by RDKit; {len(dropped)} pair(s) dropped")
    keep = mapped >= 0
    return PreparedPairs(table, featurized, mapped[keep], table.entity_index[keep], table.values[keep],
                         table.rows[keep], all_rejects)


def entity_encoder_kind(cfg: EntityEncoderConfig, entity_kind: str) -> str:
    kind = cfg.kind or ("kmer" if entity_kind == "protein" else "mlp")
    allowed = ("cnn", "kmer") if entity_kind == "protein" else ("mlp", "profile_cnn")
    if kind not in allowed:
        raise ConfigError(f"model.entity.kind={kind!r} does not fit {entity_kind} entities; choose from {allowed}")
    return kind


def raw_entity_inputs(kind: str, cfg: EntityEncoderConfig, sequences: list[str] | None,
                      profiles: np.ndarray | None) -> np.ndarray:
    """Unscaled encoder inputs per entity: int64 tokens (cnn) or float32 vectors (kmer, mlp, profile_cnn)."""
    if kind == "cnn":
        return tokenize_sequences(sequences, cfg.max_length)
    if kind == "kmer":
        return kmer_composition(sequences)
    return np.asarray(profiles, dtype=np.float32)


def build_entity_encoder(kind: str, cfg: EntityEncoderConfig, in_dim: int) -> torch.nn.Module:
    if kind == "cnn":
        return SequenceCNN(VOCABULARY_SIZE, cfg.embed_dim, tuple(cfg.channels), cfg.kernel_size, cfg.out_dim,
                           cfg.dropout)
    if kind == "profile_cnn":
        return ProfileCNN(in_dim, tuple(cfg.channels), cfg.kernel_size, cfg.out_dim, cfg.dropout)
    return VectorMLP(in_dim, cfg.hidden_dim, cfg.out_dim, cfg.layers, cfg.dropout)


def build_pair_model(config: TaskConfig, kind: str, entity_dim: int, compound_extra_dim: int,
                     num_outputs: int = 1, known_compounds: int = 0, known_entities: int = 0,
                     pair_feature_dim: int = 0) -> PairModel:
    m = config.model
    return PairModel(m.encoder, MolGraphFeaturizer.atom_dim, MolGraphFeaturizer.bond_dim,
                     build_entity_encoder(kind, m.entity, entity_dim), num_outputs=num_outputs,
                     hidden_dim=m.hidden_dim, depth=m.depth, dropout=m.dropout, readout=m.readout,
                     head_hidden_dim=m.head_hidden_dim, head_layers=m.head_layers,
                     compound_extra_dim=compound_extra_dim, fusion=m.fusion, fusion_dim=m.fusion_dim,
                     known_compounds=known_compounds, known_entities=known_entities,
                     pair_feature_dim=pair_feature_dim)


def vocabulary_keys(n: int, known: np.ndarray) -> np.ndarray:
    """Per item 0..n-1: its position among the ``known`` (training) items, or -1."""
    keys = np.full(n, -1, dtype=np.int64)
    keys[np.asarray(known, dtype=np.int64)] = np.arange(len(known))
    return keys


def evidence_vectors(entity_kind: str, sequences: list[str] | None, profiles: np.ndarray | None) -> np.ndarray:
    """What entity neighbours are found by: a protein's k-mer composition, a cell line's profile."""
    return kmer_composition(sequences) if entity_kind == "protein" else np.asarray(profiles, dtype=np.float32)


@dataclass
class FittedEvidence:
    evidence: NeighbourEvidence
    scaler: FeatureScaler
    features: np.ndarray  # scaled, one row per pair of the run
    entity_rows: np.ndarray  # the entities of the pool (the training entities), as rows of the entity list


def members_reading_evidence(config: TaskConfig) -> list[bool]:
    """Which ensemble members read the neighbour evidence: the first ``evidence_share`` of them (at least one)."""
    n = len(config.train.seeds)
    if not config.model.neighbour_evidence:
        return [False] * n
    reading = max(1, round(config.model.evidence_share * n))
    return [k < reading for k in range(n)]


def fit_pair_evidence(config: TaskConfig, data: PreparedPairs, split: Split, log: Log) -> FittedEvidence:
    """Neighbour evidence from the training pairs, for every pair of the run (training pairs leave their own
    measurement out), standardised on the training pairs."""
    started = time.perf_counter()
    table, train = data.table, split.train
    fps = compound_fingerprints(data.featurized.smiles)
    vectors = evidence_vectors(table.entity_kind, table.sequences, table.profiles)
    pool_compounds = np.unique(data.compound_index[train])
    pool_entities = np.unique(data.entity_index[train])
    compound_keys = vocabulary_keys(len(fps), pool_compounds)
    entity_keys = vocabulary_keys(table.num_entities, pool_entities)
    evidence = NeighbourEvidence(config.model.neighbour_ks).fit(
        [fps[i] for i in pool_compounds], vectors[pool_entities], compound_keys[data.compound_index[train]],
        entity_keys[data.entity_index[train]], data.values[train])
    leave_out = np.zeros(len(data.values), dtype=bool)
    leave_out[train] = True
    raw = evidence.features(fps, vectors, compound_keys, entity_keys, data.compound_index, data.entity_index,
                            leave_out)
    scaler = FeatureScaler().fit(raw[train])
    log(f"neighbour evidence: {raw.shape[1]} features per pair from {len(evidence.cell_keys)} training cells "
        f"({time.perf_counter() - started:.1f} s)")
    return FittedEvidence(evidence, scaler, scaler.transform(raw), pool_entities)


def factorization_keys(data: PreparedPairs, split: Split, part: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vocabulary keys of the pairs ``part`` among the training compounds and entities (-1: not in training)."""
    compounds, entities = np.unique(data.compound_index[split.train]), np.unique(data.entity_index[split.train])
    return (vocabulary_keys(len(data.featurized), compounds)[data.compound_index[part]],
            vocabulary_keys(data.table.num_entities, entities)[data.entity_index[part]])


def fit_pair_factorization(config: TaskConfig, data: PreparedPairs, split: Split, log: Log) -> MatrixFactorization:
    """Matrix factorisation of the training pairs over the training compounds and entities (vocabulary order),
    its ridge weight and sweep chosen on the validation pairs."""
    started = time.perf_counter()
    m = config.model
    compound_keys, entity_keys = factorization_keys(data, split, split.train)
    model, val_mse = fit_on_validation(compound_keys, entity_keys, data.values[split.train],
                                       int(compound_keys.max()) + 1, int(entity_keys.max()) + 1,
                                       (*factorization_keys(data, split, split.val), data.values[split.val]),
                                       m.factorization_rank, m.factorization_l2, m.factorization_sweeps,
                                       seed=config.train.seeds[0])
    log(f"matrix factorisation: rank {m.factorization_rank}, ridge {model.l2:g} chosen on validation (MSE "
        f"{val_mse:.4f}), {time.perf_counter() - started:.1f} s")
    return model


def refit_pair_factorization(config: TaskConfig, chosen: MatrixFactorization, data: PreparedPairs, split: Split,
                             log: Log) -> MatrixFactorization:
    """The chosen factorisation (ridge weight, sweeps) refit on the training pairs plus the validation pairs whose
    compound and entity are training items (the model's vocabulary stays the training items'). Validation
    metrics stay those of the factorisation fitted without them."""
    val_keys = factorization_keys(data, split, split.val)
    pairs = np.concatenate([split.train, split.val[(val_keys[0] >= 0) & (val_keys[1] >= 0)]])
    compound_keys, entity_keys = factorization_keys(data, split, pairs)
    refit = MatrixFactorization(rank=chosen.rank, l2=chosen.l2)
    refit.fit(compound_keys, entity_keys, data.values[pairs], len(chosen.compound_bias), len(chosen.entity_bias),
              sweeps=max(chosen.sweeps, 1), seed=config.train.seeds[0])
    log(f"matrix factorisation refit on {len(pairs)} training and validation pairs ({refit.sweeps} sweeps)")
    return refit


def summarise_blend(member_preds: list[np.ndarray], factorized: np.ndarray, weights: dict[str, float],
                    classes: np.ndarray, labels: np.ndarray, metric_fn: Callable[[np.ndarray, np.ndarray], dict],
                    task_types: list[str], targets: list[str]) -> tuple[dict, np.ndarray]:
    """Metrics of the blend of the networks' mean with the factorisation, plus each part's; and the blend."""
    networks = summarise_members(member_preds, labels, task_types, targets, metric_fn)
    blended = blend(np.mean(member_preds, axis=0)[:, 0], factorized, weights, classes)
    metrics = metric_fn(labels, blended[:, None])
    metrics["members"] = networks.pop("members")
    metrics["networks"] = networks
    metrics["factorization"] = metric_fn(labels, factorized[:, None])
    return metrics, blended


def fit_factorization_blend(config: TaskConfig, data: PreparedPairs, split: Split, val_preds: list[np.ndarray],
                            val_labels: np.ndarray, metric_fn: Callable[[np.ndarray, np.ndarray], dict],
                            task_types: list[str], targets: list[str], log: Log) -> tuple[
        MatrixFactorization, dict[str, float], dict]:
    """The factorisation, its blend shares with the networks (per familiarity class) chosen on the validation
    pairs, and the blend's validation metrics; then (``factorization_refit``) the factorisation refit with the
    validation pairs."""
    factorization = fit_pair_factorization(config, data, split, log)
    val_keys = factorization_keys(data, split, split.val)
    val_factorized, val_classes = factorization.predict(*val_keys), familiarity(*val_keys)
    weights = blend_weights(np.mean(val_preds, axis=0)[:, 0], val_factorized, val_labels[:, 0], val_classes)
    counts = np.bincount(val_classes, minlength=len(FAMILIARITY))
    shares = [f"{name} pairs {weights[name]:.2f} ({n} validation pairs)"
              for name, n in zip(FAMILIARITY, counts, strict=True) if n]
    log("blend chosen on validation, share of the matrix factorisation: " + ", ".join(shares))
    val_metrics, _ = summarise_blend(val_preds, val_factorized, weights, val_classes, val_labels, metric_fn,
                                     task_types, targets)
    if config.model.factorization_refit:
        factorization = refit_pair_factorization(config, factorization, data, split, log)
    return factorization, weights, val_metrics


def make_pair_split(config: TaskConfig, data: PreparedPairs, log: Log) -> Split:
    """Positions into ``data``'s pairs. Cold splits hold out whole compounds / entities; ``scaffold`` holds out
    whole Bemis–Murcko scaffolds of the compounds; ``predefined`` uses the dataset's published folds."""
    cfg = config.split
    n = len(data.values)
    if cfg.method == "random":
        return random_split(n, cfg.sizes, cfg.seed)
    if cfg.method == "cold_compound":
        return cold_split(data.compound_index, cfg.sizes, cfg.seed)
    if cfg.method == "cold_entity":
        return cold_split(data.entity_index, cfg.sizes, cfg.seed)
    if cfg.method == "cold_both":
        split, discarded = cold_both_split(data.compound_index, data.entity_index, cfg.sizes, cfg.seed)
        log(f"cold_both split: {discarded} pairs mix a training and a held-out compound or entity; not used")
        return split
    if cfg.method == "scaffold":
        parent = Standardizer()
        scaffolds = [parent_scaffold(s, s, parent) for s in data.featurized.smiles]
        return cold_split(np.asarray(scaffolds, dtype=object)[data.compound_index], cfg.sizes, cfg.seed)
    if cfg.method == "predefined":
        folds = data.table.folds
        if folds is None:
            raise ConfigError(f"{data.table.source}: split.method=predefined needs a dataset with published folds "
                              "(davis, kiba)")
        position = {int(r): i for i, r in enumerate(data.rows)}

        def to_positions(part: np.ndarray) -> np.ndarray:
            return np.asarray([position[int(r)] for r in part if int(r) in position], dtype=np.int64)

        return predefined_split([to_positions(f) for f in folds["train"]], to_positions(folds["test"][0]),
                                cfg.val_fold)
    raise ConfigError(f"split.method={cfg.method!r} is not available for pair tasks; use random, scaffold, "
                      "cold_compound, cold_entity, cold_both or predefined")


def split_from_rows(path: str | os.PathLike, rows: np.ndarray, n_rows: int, log: Log) -> Split:
    """A split file lists input rows; pairs that were rejected are dropped (and reported)."""
    split, dropped = load_split_for_rows(path, rows, n_rows)
    if dropped:
        log(f"{path}: {dropped} split rows refer to rejected pairs and were dropped")
    return split


def _task_type(config: TaskConfig, values: np.ndarray) -> str:
    declared = config.data.task_types
    if isinstance(declared, str):
        return declared
    if isinstance(declared, dict) and declared:
        return next(iter(declared.values()))
    return infer_task_type(values)


def _metrics(kind: str, name: str) -> Callable[[np.ndarray, np.ndarray], dict]:
    if kind == REGRESSION:
        return pair_regression_metrics
    return lambda y, p: {k: v for k, v in evaluate_predictions(y, p, [CLASSIFICATION], [name]).items()
                         if k != "per_task"}


def _pair_frame(table: PairTable, compound_smiles: list[str], compound_index: np.ndarray,
                entity_index: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({
        "compound": [table.compound_ids[i] for i in compound_index] if table.compound_ids else None,
        "smiles": [compound_smiles[i] for i in compound_index],
        "entity": [table.entity_ids[i] for i in entity_index],
    })


# ---- training ------------------------------------------------------------------------------------------------
def train_pair_run(config: TaskConfig, out_dir: str | os.PathLike, data_dir: str | os.PathLike | None = None,
                   resume: bool = False, log: Log = print_log,
                   on_epoch_end: Callable[[int, dict], None] | None = None) -> dict:
    """Train (or resume) a pair model run into ``out_dir``; returns the metrics written to ``metrics.json``."""
    if config.task not in PAIR_TASKS:
        raise ConfigError(f"task {config.task!r} is not a pair task ({', '.join(PAIR_TASKS)})")
    out = Path(out_dir)
    config = open_run_dir(config, out, resume, log)
    started = time.perf_counter()
    table, loader_rejects, info = load_pair_source(config, data_dir)
    if info.licence:
        log(f"dataset {info.name}: {info.licence}")
    log(f"{info.path}: {len(table)} pairs, {table.num_compounds} compounds, {table.num_entities} "
        f"{table.entity_kind} entities, value {table.value_name}")
    data = featurize_pair_compounds(config, table, loader_rejects, log)
    write_rejects(out / "rejects.csv", data.rejects, str(info.path))
    if data.rejects:
        log(f"{len(data.rejects)} pair row(s) rejected, see {out / 'rejects.csv'} (first: row "
            f"{data.rejects[0].row + 1}: {data.rejects[0].reason})")
    if len(data.values) < 3:
        raise DataError(f"{info.path}: only {len(data.values)} usable pairs; need at least 3 to split")

    split_path = out / "splits.json"
    n_rows = int(max(table.rows.max(initial=0), max((r.row for r in data.rejects), default=0))) + 1
    if config.split.split_file:
        split = split_from_rows(config.split.split_file, data.rows, n_rows, log)
    elif resume and split_path.exists():
        split = split_from_rows(split_path, data.rows, n_rows, log)
    else:
        split = make_pair_split(config, data, log)
    save_split(split.map(data.rows), split_path)
    for name, part in (("train", split.train), ("val", split.val)):
        if len(part) == 0:
            raise DataError(f"{info.path}: the {name} set is empty; check split sizes")
    log(f"split {config.split.method}: {len(split.train)} train, {len(split.val)} val, {len(split.test)} test pairs")

    kind = entity_encoder_kind(config.model.entity, table.entity_kind)
    raw_inputs = raw_entity_inputs(kind, config.model.entity, table.sequences, table.profiles)
    entity_scaler = FeatureScaler()
    if raw_inputs.dtype != np.int64:  # vectors are standardised on the entities seen in training
        entity_scaler.fit(raw_inputs[np.unique(data.entity_index[split.train])])
        inputs = entity_scaler.transform(raw_inputs)
    else:
        inputs = raw_inputs
    featurizer = build_featurizer(config)
    extra_scaler = FeatureScaler().fit(data.featurized.extras[np.unique(data.compound_index[split.train])])
    extras = extra_scaler.transform(data.featurized.extras) if featurizer.extra_dim else data.featurized.extras
    compounds = MolGraphDataset(data.featurized.graphs, None, extras)
    task_type = _task_type(config, data.values)
    targets, task_types = [table.value_name], [task_type]
    # the training items, in vocabulary order (what a model with embed_known remembers)
    train_compounds = np.unique(data.compound_index[split.train])
    train_entities = np.unique(data.entity_index[split.train])
    known = config.model.embed_known
    evidence = fit_pair_evidence(config, data, split, log) if config.model.neighbour_evidence else None
    full = PairDataset(compounds, inputs, data.compound_index, data.entity_index, data.values,
                       vocabulary_keys(len(data.featurized), train_compounds) if known else None,
                       vocabulary_keys(table.num_entities, train_entities) if known else None,
                       evidence.features if evidence is not None else None)
    train_ds, val_ds, test_ds = full.subset(split.train), full.subset(split.val), full.subset(split.test)
    target_scaler = TargetScaler.fit(train_ds.labels, task_types)
    entity_dim = inputs.shape[1]
    n_known = (len(train_compounds), len(train_entities)) if known else (0, 0)
    n_evidence = evidence.features.shape[1] if evidence is not None else 0
    reading = members_reading_evidence(config)

    members = train_members(
        config,
        lambda k: build_pair_model(config, kind, entity_dim, featurizer.extra_dim, 1, *n_known,
                                   n_evidence if reading[k] else 0),
        train_ds, val_ds, test_ds, task_types, targets, target_scaler, out, log, resume=resume,
        on_epoch_end=on_epoch_end,
        label=f", {config.model.encoder} + {kind}" + (", remembering known items" if known else "")
        + (f", {sum(reading)} of {len(reading)} member(s) with neighbour evidence" if evidence is not None else ""))
    metric_fn = _metrics(task_type, table.value_name)
    factorization, weights = None, {}
    if config.model.factorization:
        if task_type != REGRESSION:
            raise ConfigError("model.factorization blends regression values; this task is a classification")
        factorization, weights, val_metrics = fit_factorization_blend(
            config, data, split, members.val_preds, val_ds.labels, metric_fn, task_types, targets, log)
        metrics = {"val": val_metrics}
    else:
        metrics = {"val": summarise_members(members.val_preds, val_ds.labels, task_types, targets, metric_fn)}
    if len(split.test):
        mean, std = np.mean(members.test_preds, axis=0)[:, 0], np.std(members.test_preds, axis=0)[:, 0]
        if factorization is not None:
            test_keys = factorization_keys(data, split, split.test)
            metrics["test"], mean = summarise_blend(
                members.test_preds, factorization.predict(*test_keys), weights, familiarity(*test_keys),
                test_ds.labels, metric_fn, task_types, targets)
        else:
            metrics["test"] = summarise_members(members.test_preds, test_ds.labels, task_types, targets, metric_fn)
        frame = _pair_frame(table, data.featurized.smiles, test_ds.compound_index, test_ds.entity_index)
        frame.insert(0, "row", data.rows[split.test] + 1)
        frame[f"{table.value_name}_true"] = test_ds.labels[:, 0]
        frame[table.value_name] = mean
        if len(members.test_preds) > 1:
            frame[f"{table.value_name}_std"] = std
        with atomic_path(out / "test_predictions.csv") as tmp:
            frame.to_csv(tmp, index=False)
    if factorization is not None:
        metrics["factorization"] = {"rank": factorization.rank, "l2": factorization.l2,
                                    "sweeps": factorization.sweeps, "weights": weights,
                                    "refit": config.model.factorization_refit}
    metrics["training"] = training_record(config.train.seeds, members.fits)
    seconds = [h["seconds"] for f in members.fits for h in f.history]
    metrics["seconds_per_epoch"] = float(np.median(seconds)) if seconds else None

    tensors = dict(members.tensors)
    tensors["target_scaler.mean"] = torch.from_numpy(target_scaler.mean)
    tensors["target_scaler.std"] = torch.from_numpy(target_scaler.std)
    tensors["extra_scaler.mean"] = torch.from_numpy(extra_scaler.mean_)
    tensors["extra_scaler.scale"] = torch.from_numpy(extra_scaler.scale_)
    if raw_inputs.dtype != np.int64:
        tensors["entity_scaler.mean"] = torch.from_numpy(entity_scaler.mean_)
        tensors["entity_scaler.scale"] = torch.from_numpy(entity_scaler.scale_)
    if table.entity_kind == "profile":
        tensors["entities.profiles"] = torch.from_numpy(np.asarray(table.profiles, dtype=np.float32))
    if known:  # rows of entities.tsv the model remembers (compounds: training_set.smi, in order)
        tensors["known.entity_rows"] = torch.from_numpy(train_entities)
    if evidence is not None:  # the training cells (compounds: training_set.smi order; entities: entity_rows order)
        cell_compound, cell_entity, cell_value = evidence.evidence.cells()
        tensors["evidence.cell_compound"] = torch.from_numpy(cell_compound)
        tensors["evidence.cell_entity"] = torch.from_numpy(cell_entity)
        tensors["evidence.cell_value"] = torch.from_numpy(cell_value)
        tensors["evidence.entity_rows"] = torch.from_numpy(evidence.entity_rows)
        tensors["evidence_scaler.mean"] = torch.from_numpy(evidence.scaler.mean_)
        tensors["evidence_scaler.scale"] = torch.from_numpy(evidence.scaler.scale_)
    if factorization is not None:  # compounds: training_set.smi order; entities: factorization.entity_rows order
        for name, array in factorization.state().items():
            tensors[f"factorization.{name}"] = torch.from_numpy(np.array(array, dtype=np.float64))
        tensors["factorization.entity_rows"] = torch.from_numpy(train_entities.copy())
    entity_text = "id\tsequence\n" + "".join(
        f"{e}\t{table.sequences[i] if table.sequences else ''}\n" for i, e in enumerate(table.entity_ids))
    card = {
        "task": config.task,
        "config": config.model_dump(mode="json"),
        "featurizer_version": featurizer.version,
        "targets": targets,
        "task_types": task_types,
        "units": {table.value_name: config.data.units.get(table.value_name, table.value_name)},
        "members": len(config.train.seeds),
        "extra_dim": featurizer.extra_dim,
        "entity": {"kind": table.entity_kind, "encoder": kind, "count": table.num_entities, "input_dim": entity_dim,
                   "profile_names": table.profile_names},
        "known": {"compounds": n_known[0], "entities": n_known[1]},
        "evidence": {"features": n_evidence, "ks": list(config.model.neighbour_ks), "members": reading}
        if evidence else None,
        "factorization": metrics.get("factorization"),
        "training_data": {"source": str(info.path), "name": info.name, "sha256": info.sha256,
                          "licence": info.licence, "pairs": len(table) + len(loader_rejects),
                          "valid": len(data.values), "rejects": len(data.rejects)},
        "split": {"method": config.split.method, "seed": config.split.seed, "train": len(split.train),
                  "val": len(split.val), "test": len(split.test)},
        "metrics": {k: {m: v for m, v in metrics[k].items() if m != "members"} for k in ("val", "test")
                    if k in metrics},
    }
    training_set = "".join(f"{data.featurized.smiles[i]}\n" for i in train_compounds)
    save_model_dir(out / "model", tensors, card, {"training_set.smi": training_set, "entities.tsv": entity_text})
    summary = {"source": str(info.path), "pairs": len(table) + len(loader_rejects), "valid": len(data.values),
               "rejects": len(data.rejects), "compounds": len(data.featurized), "entities": table.num_entities,
               "split": card["split"], "seconds": round(time.perf_counter() - started, 1)}
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=2))
    atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=2))
    return metrics


# ---- prediction ----------------------------------------------------------------------------------------------
class PairPredictor:
    """A trained pair run loaded from its model directory (checksums verified, tensors only). It knows the
    entities it was trained with, and scores new proteins from their sequence."""

    def __init__(self, card: dict, tensors: dict[str, torch.Tensor], entity_rows: list[tuple[str, str]],
                 training_smiles: list[str] | None = None) -> None:
        self.card = card
        self.config = TaskConfig.model_validate(card["config"])
        self.value_name: str = card["targets"][0]
        self.task_types: list[str] = card["task_types"]
        self.entity_kind: str = card["entity"]["kind"]
        self.encoder_kind: str = card["entity"]["encoder"]
        self.entity_ids = [e for e, _ in entity_rows]
        self.sequences = [s for _, s in entity_rows] if self.entity_kind == "protein" else None
        self.profiles = tensors["entities.profiles"].numpy() if "entities.profiles" in tensors else None
        self.featurizer = build_featurizer(self.config)
        if self.featurizer.version != card["featurizer_version"]:
            raise DataError(f"model was trained with featuriser {card['featurizer_version']}, this gnn-drug "
                            f"provides {self.featurizer.version}; retrain the model")
        self.extra_scaler = FeatureScaler.from_state(tensors["extra_scaler.mean"].numpy(),
                                                     tensors["extra_scaler.scale"].numpy())
        self.entity_scaler = (FeatureScaler.from_state(tensors["entity_scaler.mean"].numpy(),
                                                       tensors["entity_scaler.scale"].numpy())
                              if "entity_scaler.mean" in tensors else None)
        self.target_scaler = TargetScaler(tensors["target_scaler.mean"].numpy(), tensors["target_scaler.std"].numpy())
        dim = card["entity"]["input_dim"]
        known = card.get("known", {})
        n_known = (known.get("compounds", 0), known.get("entities", 0))
        self.remembers = n_known[0] > 0
        # vocabulary ids of the training compounds (by canonical SMILES) and of remembered entities (by row)
        self.compound_vocabulary = {smi: i for i, smi in enumerate(training_smiles or [])}
        self.entity_keys = (vocabulary_keys(len(self.entity_ids), tensors["known.entity_rows"].numpy())
                            if self.remembers else None)
        self.evidence, self.evidence_keys, self.evidence_scaler = None, None, None
        evidence = card.get("evidence")
        if evidence:  # rebuilt from the training cells: pool = training compounds x training entities
            pool_rows = tensors["evidence.entity_rows"].numpy()
            vectors = evidence_vectors(self.entity_kind, self.sequences, self.profiles)
            self.evidence = NeighbourEvidence(evidence["ks"]).fit(
                compound_fingerprints(training_smiles or []), vectors[pool_rows],
                tensors["evidence.cell_compound"].numpy(), tensors["evidence.cell_entity"].numpy(),
                tensors["evidence.cell_value"].numpy())
            self.evidence_keys = vocabulary_keys(len(self.entity_ids), pool_rows)
            self.evidence_scaler = FeatureScaler.from_state(tensors["evidence_scaler.mean"].numpy(),
                                                            tensors["evidence_scaler.scale"].numpy())
        self.factorization, self.factorization_keys, self.factorization_weights = None, None, {}
        if card.get("factorization"):
            self.factorization = MatrixFactorization.from_state(
                {name: tensors[f"factorization.{name}"].numpy()
                 for name in ("compound_factors", "entity_factors", "compound_bias", "entity_bias", "mean",
                              "scale")})
            self.factorization_keys = vocabulary_keys(len(self.entity_ids),
                                                      tensors["factorization.entity_rows"].numpy())
            self.factorization_weights = dict(card["factorization"]["weights"])
        reading = evidence["members"] if evidence else [False] * card["members"]
        self.models = load_members(tensors, card["members"],
                                   lambda k: build_pair_model(self.config, self.encoder_kind, dim, card["extra_dim"],
                                                              1, *n_known, evidence["features"] if reading[k] else 0))

    @classmethod
    def load(cls, run_dir: str | os.PathLike) -> PairPredictor:
        model_dir = model_dir_of(run_dir)
        tensors, card = load_model_dir(model_dir)
        if card.get("task") not in PAIR_TASKS:
            raise DataError(f"{run_dir}: a {card.get('task')} model, not a pair model")
        lines = (model_dir / "entities.tsv").read_text().splitlines()[1:]
        rows = [tuple(line.split("\t", 1)) if "\t" in line else (line, "") for line in lines]
        training = model_dir / "training_set.smi"
        smiles = training.read_text().splitlines() if training.exists() else []
        return cls(card, tensors, rows, smiles)

    def entity_inputs(self, sequences: list[str] | None, profiles: np.ndarray | None) -> np.ndarray:
        raw = raw_entity_inputs(self.encoder_kind, self.config.model.entity, sequences, profiles)
        return self.entity_scaler.transform(raw) if self.entity_scaler is not None else raw

    def entity_vectors(self, sequences: list[str] | None, profiles: np.ndarray | None) -> np.ndarray:
        """What the neighbour evidence compares entities by (k-mer composition or profile)."""
        return evidence_vectors(self.entity_kind, sequences, profiles)

    def predict(self, featurized: FeaturizedMolecules, entity_inputs: np.ndarray, compound_index: np.ndarray,
                entity_index: np.ndarray, device: str = "cpu", batch_size: int = 1024,
                entity_rows: list[int | None] | None = None,
                entity_vectors: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Ensemble mean and spread (of the networks) of every (compound, entity) pair, in label units; with a
        matrix factorisation, the mean blends it in with the share chosen on validation pairs as familiar as
        the pair (both items in training, a new compound, ...). ``entity_rows``: each
        entity's row in the model's entity list, None for a new one (omitted = every entity is new);
        ``entity_vectors``: see :meth:`entity_vectors`, needed by models that read neighbour evidence."""
        extras = self.extra_scaler.transform(featurized.extras) if self.featurizer.extra_dim else featurized.extras
        rows = list(entity_rows) if entity_rows is not None else [None] * len(entity_inputs)

        def keys(vocabulary: np.ndarray | None) -> np.ndarray | None:
            if vocabulary is None:
                return None
            return np.asarray([-1 if r is None else vocabulary[r] for r in rows], dtype=np.int64)

        compound_keys = np.asarray([self.compound_vocabulary.get(smi, -1) for smi in featurized.smiles],
                                   dtype=np.int64)
        pair_features = None
        if self.evidence is not None:
            if entity_vectors is None:
                raise ValueError("this model reads neighbour evidence: pass entity_vectors")
            raw = self.evidence.features(compound_fingerprints(featurized.smiles), entity_vectors, compound_keys,
                                         keys(self.evidence_keys), compound_index, entity_index)
            pair_features = self.evidence_scaler.transform(raw)
        dataset = PairDataset(MolGraphDataset(featurized.graphs, None, extras), entity_inputs, compound_index,
                              entity_index, compound_keys=compound_keys if self.remembers else None,
                              entity_keys=keys(self.entity_keys), pair_features=pair_features)
        dev = resolve_device(device)
        preds = [predict_outputs(m.to(dev), dataset, self.task_types, self.target_scaler, batch_size, dev)[:, 0]
                 for m in self.models]
        stacked = np.stack(preds) if preds else np.zeros((1, len(compound_index)), np.float32)
        mean = stacked.mean(axis=0)
        if self.factorization is not None:
            pair_keys = compound_keys[compound_index], keys(self.factorization_keys)[entity_index]
            mean = blend(mean, self.factorization.predict(*pair_keys), self.factorization_weights,
                         familiarity(*pair_keys)).astype(np.float32)
        return mean, stacked.std(axis=0)


def predict_pairs_file(run_dir: str | os.PathLike, input_path: str | os.PathLike, out_path: str | os.PathLike,
                       smiles_column: str = "smiles", entity_column: str | None = None,
                       sequence_column: str | None = None, id_column: str | None = None, n_workers: int = 1,
                       rejects_path: str | os.PathLike | None = None, higher_is_better: bool | None = None,
                       wide: bool = False, log: Log = print_log) -> pd.DataFrame:
    """Predict pairs (a compound column and an entity id and/or sequence column), or — with neither entity
    column — every compound against every entity the model knows, ranked per compound (``wide``: as a matrix,
    one row per compound and one column per entity). Output (CSV, TSV or Parquet by extension) and rejects are
    written atomically."""
    predictor = PairPredictor.load(run_dir)
    frame = read_table(input_path)
    source = str(input_path)
    columns = {str(c).lower(): c for c in frame.columns}

    def column(name: str | None, what: str):
        if name is None:
            return None
        if name in frame.columns:
            return name
        if name.lower() in columns:
            return columns[name.lower()]
        raise DataError(f"{source}: no {what} column {name!r}; columns are {[str(c) for c in frame.columns]}")

    smi_col = column(smiles_column, "SMILES")
    ent_col, seq_col, id_col = column(entity_column, "entity"), column(sequence_column, "sequence"), column(
        id_column, "id")
    if seq_col is not None and predictor.entity_kind != "protein":
        raise DataError(f"{source}: sequences given, but this model scores {predictor.entity_kind} entities")
    known = {e: i for i, e in enumerate(predictor.entity_ids)}
    smiles = frame[smi_col].astype(str).tolist()
    with progress_bar("featurising", len(smiles)) as advance:
        featurized = featurize_smiles(smiles, predictor.featurizer, n_workers=n_workers, progress=advance)
    rejects = list(featurized.rejects)
    position = np.full(len(smiles), -1, dtype=np.int64)
    position[featurized.rows] = np.arange(len(featurized))

    if ent_col is None and seq_col is None:  # every compound x every known entity
        comp = np.repeat(np.arange(len(featurized)), len(known))
        ent = np.tile(np.arange(len(known)), len(featurized))
        entity_ids = list(predictor.entity_ids)
        entity_sequences, entity_profiles = predictor.sequences, predictor.profiles
        rows = featurized.rows[comp]
        entity_rows: list[int | None] = list(range(len(entity_ids)))
    else:
        entity_ids, sequences, index, entity_rows = [], [], {}, []
        comp_list, ent_list, row_list = [], [], []
        for row in range(len(frame)):
            if position[row] < 0:
                continue
            key = str(frame[ent_col].iloc[row]).strip() if ent_col is not None else ""
            if seq_col is not None:
                try:
                    seq = clean_sequence(frame[seq_col].iloc[row], f"{source}: row {row + 1}")
                except DataError as exc:
                    rejects.append(Reject(row, smiles[row], str(exc)))
                    continue
                key = key or seq[:20]
            elif key in known:
                seq = predictor.sequences[known[key]] if predictor.sequences else None
            else:
                rejects.append(Reject(row, smiles[row], f"entity {key!r} is not one of the model's "
                                      f"{len(known)} entities and no sequence was given"))
                continue
            ident = (key, seq)
            if ident not in index:
                index[ident] = len(entity_ids)
                entity_ids.append(key)
                sequences.append(seq)
                same = key in known and (predictor.sequences is None or predictor.sequences[known[key]] == seq)
                entity_rows.append(known[key] if same else None)  # a known id with another sequence is new
            comp_list.append(position[row])
            ent_list.append(index[ident])
            row_list.append(row)
        comp, ent, rows = (np.asarray(x, dtype=np.int64) for x in (comp_list, ent_list, row_list))
        if predictor.entity_kind == "protein":
            entity_sequences, entity_profiles = sequences, None
        else:
            entity_sequences, entity_profiles = None, predictor.profiles[[known[e] for e in entity_ids]]
    inputs = predictor.entity_inputs(entity_sequences, entity_profiles)
    vectors = predictor.entity_vectors(entity_sequences, entity_profiles) if predictor.evidence is not None else None
    mean, std = predictor.predict(featurized, inputs, comp, ent, entity_rows=entity_rows, entity_vectors=vectors)
    out = pd.DataFrame({"row": rows + 1})
    if id_col is not None:
        out[id_col] = frame[id_col].to_numpy()[rows]
    out["smiles"] = [featurized.smiles[i] for i in comp]
    out["entity"] = [entity_ids[i] for i in ent]
    out[predictor.value_name] = mean
    if len(predictor.models) > 1:
        out[f"{predictor.value_name}_std"] = std
    if ent_col is None and seq_col is None and len(out):
        better_high = higher_is_better if higher_is_better is not None else HIGHER_IS_BETTER[predictor.card["task"]]
        out["rank"] = out.groupby("row")[predictor.value_name].rank(ascending=not better_high, method="first")
        out["rank"] = out["rank"].astype(int)
        out = out.sort_values(["row", "rank"], kind="mergesort").reset_index(drop=True)
        if wide:  # one row per compound, one column per entity (in the model's entity order)
            index = ["row", id_col, "smiles"] if id_col is not None else ["row", "smiles"]
            out = out.pivot(index=index, columns="entity", values=predictor.value_name)
            out = out[[e for e in entity_ids if e in out.columns]].reset_index()
            out.columns.name = None
    out_path = Path(out_path)
    write_table(out, out_path)
    rejects.sort(key=lambda r: r.row)
    rejects_path = Path(rejects_path) if rejects_path else out_path.with_name(out_path.stem + ".rejects.csv")
    write_rejects(rejects_path, rejects, source)
    log(f"{len(out)} pairs predicted -> {out_path}; {len(rejects)} rejected -> {rejects_path}")
    if predictor.evidence is not None:
        new = sum(smi not in predictor.compound_vocabulary for smi in featurized.smiles)
        if new:
            log(f"note: {new} of {len(featurized)} compounds were not in training; this model's neighbour-evidence "
                "members learnt from compounds with measurements of their own, so for new compounds rely on a model "
                "trained on a cold-compound split")
    return out


def evaluate_pairs_file(run_dir: str | os.PathLike, input_path: str | os.PathLike, value_column: str,
                        out_path: str | os.PathLike | None = None, smiles_column: str = "smiles",
                        entity_column: str | None = None, sequence_column: str | None = None,
                        transform: str = "none", n_workers: int = 1) -> dict:
    """Metrics of a trained pair model on a new labelled pair file (values in the file's units, turned into the
    model's with ``transform``, e.g. Kd in nM -> pKd); predictions are kept in ``out_path`` if given."""
    import tempfile

    from gnn_drug.data.pairs import transform_values

    with tempfile.TemporaryDirectory() as scratch:
        target = Path(out_path) if out_path is not None else Path(scratch) / "predictions.csv"
        predictions = predict_pairs_file(run_dir, input_path, target, smiles_column=smiles_column,
                                         entity_column=entity_column, sequence_column=sequence_column,
                                         n_workers=n_workers, log=lambda _m: None)
    frame = read_table(input_path)
    if value_column not in frame.columns:
        raise DataError(f"{input_path}: no value column {value_column!r}; columns are {list(frame.columns)}")
    rows = predictions["row"].to_numpy() - 1
    values = pd.to_numeric(frame[value_column], errors="coerce").to_numpy(dtype=np.float64)[rows]
    measured = ~np.isnan(values)
    truth = np.full(len(values), np.nan)
    truth[measured] = transform_values(values[measured], transform, str(input_path), rows[measured])
    name = predictions.columns[predictions.columns.get_loc("entity") + 1]
    metrics = pair_regression_metrics(truth, predictions[name].to_numpy())
    metrics["pairs"] = len(predictions)
    return metrics
