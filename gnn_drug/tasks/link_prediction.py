"""Link prediction on a knowledge graph — target prediction (Compound–binds–Gene) and drug repurposing
(Compound–treats–Disease) — as a recipe of shared parts:

graph folder (or spec) -> leakage-free edge split and message-passing graph -> node features (fingerprints for
compounds, k-mer composition for proteins, learned embeddings for the rest) -> heterogeneous GNN + decoder trained
on supervision edges held out of each epoch's message graph, against type-constrained negatives -> model selection
on validation MRR -> filtered MRR / Hits@k on the test edges, next to the degree prior on the same edges.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from torch.nn import functional as F

from gnn_drug.data.atomic import atomic_write_text
from gnn_drug.errors import ConfigError, DataError
from gnn_drug.kg.build import EdgeType, KnowledgeGraph, build_kg, load_kg
from gnn_drug.kg.ranking import (
    degree_prior,
    filtered_ranks,
    known_targets,
    ranking_metrics,
    sampled_auc,
    uniform_sampled_auc,
)
from gnn_drug.kg.spec import load_kg_spec
from gnn_drug.kg.splits import EdgeSplit, message_graph, split_edges
from gnn_drug.models.hetero_encoder import HeteroEncoder, reverse_type, with_reverse_edges
from gnn_drug.models.link_decoders import DECODERS
from gnn_drug.tasks.run_steps import Log, print_log
from gnn_drug.train.checkpoint import load_checkpoint, save_checkpoint
from gnn_drug.train.model_files import save_model_dir
from gnn_drug.train.trainer import seed_everything
from gnn_drug.yaml_files import read_yaml_mapping, validation_message


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LinkSplitConfig(_Strict):
    method: Literal["random", "cold_source", "cold_target", "kfold"] = "random"
    sizes: tuple[float, float, float] = (0.8, 0.1, 0.1)
    folds: int = Field(10, ge=2, description="kfold: number of folds")
    fold: int = Field(0, ge=0, description="kfold: the test fold (validation comes from the others)")
    seed: int = 0


class MetapathModelConfig(_Strict):
    """``model.kind: metapath``: logistic regression on degree-weighted path counts (Rephetio)."""

    max_length: int = Field(3, ge=2, le=4, description="metapaths of 2..max_length steps")
    damping: float = Field(0.4, ge=0, le=1, description="DWPC degree damping exponent")
    folds: int = Field(5, ge=2, description="training edges in this many parts; a part's features are computed "
                                            "without its own edges")
    negatives: int = Field(10, ge=1, description="sampled non-edges per training edge (half same-source)")
    regularization: list[float] = Field([0.01, 0.1, 1.0, 10.0], min_length=1,
                                        description="inverse L2 strengths tried; the best on validation is kept")


class LinkModelConfig(_Strict):
    kind: Literal["gnn", "metapath"] = Field("gnn", description="gnn: heterogeneous GNN + decoder; metapath: "
                                                                "logistic regression on metapath features")
    metapath: MetapathModelConfig = MetapathModelConfig()
    encoder: Literal["sage", "hgt"] = Field("sage", description="relational GraphSAGE (R-GCN family) or HGT")
    hidden_dim: int = Field(64, ge=4)
    layers: int = Field(2, ge=0)
    dropout: float = Field(0.0, ge=0, lt=1)
    decoder: Literal["distmult", "mlp"] = "distmult"
    decoder_scale: float | None = Field(None, gt=0, description="DistMult's initial score scale (learned); default "
                                                                "5 for the bce loss, 20 for softmax")
    compound_features: Literal["morgan", "none"] = "morgan"
    protein_features: Literal["kmer", "none"] = "kmer"
    embed_featured: bool = Field(False, description="featured kinds also get a learned per-node embedding (zero at "
                                                     "start: untrained and new nodes rely on their features)")


class LinkTrainConfig(_Strict):
    epochs: int = Field(100, ge=1)
    lr: float = Field(0.005, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    loss: Literal["bce", "softmax", "softmax+bce"] = Field(
        "bce", description="bce: each positive against `negatives` random targets of the right kind; softmax: "
                           "cross-entropy of the true target against every node of the target kind (ranks "
                           "directly, as MRR measures; needs the distmult decoder); softmax+bce: their sum (the "
                           "softmax ranks targets per source, bce calibrates scores across sources, which pooled "
                           "AUROC / AUPR compare)")
    softmax_both_ways: bool = Field(False, description="softmax: also the true source against every node of the "
                                                       "source kind (ranks compounds for a target too)")
    negatives: int = Field(5, ge=1, description="type-constrained negative targets per positive edge (bce)")
    supervision_fraction: float = Field(0.3, gt=0, lt=1, description="training edges scored, not passed, per epoch")
    patience: int = Field(20, ge=1)
    selection: Literal["mrr", "auroc", "aupr", "auroc_uniform", "aupr_uniform"] = Field(
        "mrr", description="validation figure for model selection and early stopping: filtered MRR, or AUROC / "
                           "AUPR against sampled non-edges (per source, or drawn uniformly over all pairs)")
    seed: int = 0


class LinkConfig(_Strict):
    task: Literal["targets", "repurposing", "links"] = "links"
    graph: str = Field(description="a folder from `gnn-drug kg build`, or a spec YAML (built on the fly); relative "
                                   "to the config's folder")
    edge_type: tuple[str, str, str]
    split: LinkSplitConfig = LinkSplitConfig()
    model: LinkModelConfig = LinkModelConfig()
    train: LinkTrainConfig = LinkTrainConfig()
    search: dict | None = Field(None, description="Optuna search space, used by `gnn-drug tune`")

    @model_validator(mode="after")
    def _softmax_needs_all_scores(self) -> LinkConfig:
        if self.train.loss.startswith("softmax") and self.model.decoder != "distmult":
            raise ValueError("train.loss softmax scores every target and needs model.decoder distmult")
        return self


LINK_TASKS = ("targets", "repurposing", "links")
PATH_POOL = 500  # paths per candidate (best degree-weighted first) that explanations score with the model


def load_link_config(path: str | os.PathLike | None = None, raw: dict | None = None,
                     overrides: list[str] | None = None) -> LinkConfig:
    """Load and validate a link-prediction config; ``overrides`` are ``section.key=value`` strings."""
    from gnn_drug.tasks.config import apply_override

    raw = read_yaml_mapping(path, "config file") if raw is None else raw
    for assignment in overrides or []:
        apply_override(raw, assignment)
    try:
        return LinkConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{path or 'config'}: invalid link-prediction configuration — "
                          f"{validation_message(exc)}") from None


def graph_location(config: LinkConfig, config_path: str | os.PathLike | None = None) -> Path:
    """The graph folder or spec named by ``config.graph`` (relative paths: against the config's folder)."""
    path = Path(config.graph).expanduser()
    if not path.is_absolute() and config_path is not None:
        path = Path(config_path).parent / path
    return path.resolve()


def load_graph(config: LinkConfig, config_path: str | os.PathLike | None = None,
               data_dir: str | os.PathLike | None = None) -> KnowledgeGraph:
    path = graph_location(config, config_path)
    if path.is_dir():
        return load_kg(path)
    if path.suffix in (".yaml", ".yml") and path.is_file():
        return build_kg(load_kg_spec(path), path, data_dir)
    raise DataError(f"{config.graph}: neither a knowledge-graph folder nor a spec file ({path})")


# ---- features ------------------------------------------------------------------------------------------------
def node_features(graph: KnowledgeGraph, config: LinkModelConfig) -> dict[str, torch.Tensor]:
    """Kinds with SMILES: Morgan bits; kinds with protein sequences: standardised k-mer composition. Other kinds
    (and these, when switched off) get learned embeddings (no entry here)."""
    from gnn_drug.chem import MorganFeaturizer, parse_smiles
    from gnn_drug.data.scaling import FeatureScaler
    from gnn_drug.data.sequences import kmer_composition

    features: dict[str, torch.Tensor] = {}
    for kind, values in graph.structures.items():
        kind_of = graph.structure_types.get(kind)
        if kind_of == "sequence" and config.protein_features == "kmer":
            matrix = kmer_composition(values)
            features[kind] = torch.from_numpy(FeatureScaler().fit(matrix).transform(matrix))
        elif kind_of == "smiles" and config.compound_features == "morgan":
            morgan = MorganFeaturizer()
            matrix = np.zeros((len(values), morgan.dim), dtype=np.float32)
            for i, smiles in enumerate(values):
                if smiles:
                    matrix[i] = morgan(parse_smiles(smiles))
            features[kind] = torch.from_numpy(matrix)
    return features


# ---- model ---------------------------------------------------------------------------------------------------
class LinkModel(torch.nn.Module):
    def __init__(self, graph: KnowledgeGraph, features: dict[str, torch.Tensor], config: LinkModelConfig,
                 loss: str = "bce") -> None:
        super().__init__()
        self.encoder = HeteroEncoder({k: len(v) for k, v in graph.node_ids.items()},
                                     {k: v.shape[1] for k, v in features.items()}, list(graph.edges),
                                     config.hidden_dim, config.layers, config.dropout, config.encoder,
                                     embed_featured=config.embed_featured)
        if config.decoder == "distmult":
            scale = config.decoder_scale or (20.0 if loss.startswith("softmax") else 5.0)
            self.decoder = DECODERS["distmult"](config.hidden_dim, scale)
        else:
            self.decoder = DECODERS[config.decoder](config.hidden_dim)


def _edge_index(graph: KnowledgeGraph, target: EdgeType, target_subset: np.ndarray | None,
                only_target: bool = False) -> dict:
    out = {}
    for edge_type, edges in graph.edges.items():
        if only_target and edge_type != target:
            continue
        s, t = edges.source, edges.target
        if edge_type == target and target_subset is not None:
            s, t = s[target_subset], t[target_subset]
        out[edge_type] = torch.from_numpy(np.stack([s, t]).astype(np.int64))
    return with_reverse_edges(out)


class EncoderGraph:
    """A message graph in the form the encoder consumes (sparse adjacencies for GraphSAGE), built once: all of
    ``graph``'s edges for evaluation and ranking, and per training epoch the same with the predicted relation cut
    to that epoch's message edges (only that relation and its reverse are rebuilt)."""

    def __init__(self, encoder: HeteroEncoder, graph: KnowledgeGraph, target: EdgeType) -> None:
        self.encoder, self.graph, self.target = encoder, graph, target
        self.num_nodes = {kind: len(ids) for kind, ids in graph.node_ids.items()}
        everything = _edge_index(graph, target, None)
        own = {target, reverse_type(target)}
        self.fixed = self._prepare({t: v for t, v in everything.items() if t not in own})
        self.full = self.with_target_edges(None)

    def _prepare(self, edge_index: dict):
        return self.encoder.adjacency(edge_index, self.num_nodes) if self.encoder.conv == "sage" else edge_index

    def with_target_edges(self, subset: np.ndarray | None):
        """The message graph with only ``subset`` (positions into the target type's edges; None: all) of the
        target type."""
        part = self._prepare(_edge_index(self.graph, self.target, subset, only_target=True))
        return self.fixed | part


def _score_fn(model: LinkModel, z: dict[str, torch.Tensor], edge_type: EdgeType) -> Callable:
    def score(sources: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return model.decoder.score_all(z[edge_type[0]][torch.from_numpy(sources)], z[edge_type[2]]).numpy()
    return score


def _evaluate(model, features, seen: EncoderGraph, split, graph, part: str, known, with_auc: bool = False) -> dict:
    model.eval()
    with torch.no_grad():
        z = model.encoder(features, seen.full)
    pairs = split.pairs(graph, part)
    metrics = ranking_metrics(filtered_ranks(_score_fn(model, z, split.edge_type), pairs, known))
    if with_auc:
        source_kind, _, target_kind = split.edge_type

        def score_pairs(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                sources, targets = z[source_kind][torch.from_numpy(src)], z[target_kind][torch.from_numpy(dst)]
                return model.decoder(sources, targets).numpy()

        n_sources, n_targets = len(graph.node_ids[source_kind]), len(graph.node_ids[target_kind])
        metrics.update(sampled_auc(score_pairs, pairs, n_targets, known))
        metrics.update(uniform_sampled_auc(score_pairs, pairs, n_sources, n_targets, known))
    return metrics


# ---- training ------------------------------------------------------------------------------------------------
def train_link_run(config: LinkConfig, out_dir: str | os.PathLike, config_path: str | os.PathLike | None = None,
                   data_dir: str | os.PathLike | None = None, resume: bool = False, log: Log = print_log,
                   on_epoch_end: Callable[[int, dict], None] | None = None) -> dict:
    """Train, select on validation MRR, evaluate; ``on_epoch_end(epoch, record)`` gets each epoch's record
    (``val_score`` = validation MRR) after its checkpoint (the tuner's pruning hook)."""
    out = Path(out_dir)
    if (out / "metrics.json").exists() and not resume:
        raise ConfigError(f"{out}: already holds a finished run; choose another --out or pass --resume")
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "config.resolved.json", config.model_dump_json(indent=2))
    started = time.perf_counter()
    graph = load_graph(config, config_path, data_dir)
    edge_type = tuple(config.edge_type)
    split: EdgeSplit = split_edges(graph, edge_type, config.split.sizes, config.split.seed, config.split.method,
                                   config.split.folds, config.split.fold)
    seen, removed = message_graph(graph, split)
    others = sum(removed.values()) - len(split.val) - len(split.test)
    log(f"{graph.name}: {'–'.join(edge_type)} split {config.split.method}: {len(split.train)} train, "
        f"{len(split.val)} val, {len(split.test)} test edges; {others} other edges joining held-out pairs removed "
        "from the message graph")
    if config.model.kind == "metapath":
        return _train_metapath_run(config, out, config_path, graph, split, seen, removed, log, started)
    features = node_features(graph, config.model)
    log("node features: " + (", ".join(f"{k} {tuple(v.shape)}" for k, v in features.items()) or "none")
        + "; learned embeddings for the other kinds")
    seed_everything(config.train.seed)
    model = LinkModel(graph, features, config.model, config.train.loss)
    seen = EncoderGraph(model.encoder, seen, edge_type)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.train.lr, weight_decay=config.train.weight_decay)
    train_pairs, val_pairs, test_pairs = (split.pairs(graph, p) for p in ("train", "val", "test"))
    known_val = known_targets(train_pairs, val_pairs)  # validation never filters with test edges
    n_targets = len(graph.node_ids[edge_type[2]])

    checkpoint = out / "checkpoint.pt"
    start, best, best_epoch, bad = 0, -math.inf, -1, 0
    best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    history: list[dict] = []
    if resume and checkpoint.exists():
        state = load_checkpoint(checkpoint)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        best_state, history = state["best_model"], list(state["history"])
        start, best, best_epoch, bad = state["epoch"] + 1, state["best"], state["best_epoch"], state["bad"]
        torch.set_rng_state(state["rng"])
        log(f"resumed from {checkpoint} after epoch {start}")
    rng_base = config.train.seed * 100003
    selection = config.train.selection
    for epoch in range(start, config.train.epochs):
        if bad >= config.train.patience:
            break
        t0 = time.perf_counter()
        model.train()
        rng = np.random.default_rng(rng_base + epoch)
        order = rng.permutation(len(split.train))
        n_sup = max(1, int(round(config.train.supervision_fraction * len(order))))
        supervision, message = split.train[order[:n_sup]], split.train[order[n_sup:]]
        z = model.encoder(features, seen.with_target_edges(_positions_in_train(split, message)))
        edges = graph.edges[edge_type]
        src = torch.from_numpy(edges.source[supervision])
        dst = torch.from_numpy(edges.target[supervision])
        loss = _link_loss(model, z, edge_type, src, dst, config.train, rng, n_targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        val = _evaluate(model, features, seen, split, graph, "val", known_val, with_auc=selection != "mrr")
        improved = val[selection] > best
        if improved:
            best, best_epoch, bad = val[selection], epoch, 0
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            bad += 1
        history.append({"epoch": epoch + 1, "loss": loss.item(), "val_mrr": val["mrr"],
                        f"val_{selection}": val[selection], "seconds": time.perf_counter() - t0})
        save_checkpoint({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "best_model": best_state,
                         "epoch": epoch, "best": best, "best_epoch": best_epoch, "bad": bad, "history": history,
                         "rng": torch.get_rng_state()}, checkpoint)
        log(f"epoch {epoch + 1:>3}/{config.train.epochs}  loss {loss.item():.4f}  val {selection} "
            f"{val[selection]:.4f}  best {best:.4f} @ {best_epoch + 1}  {history[-1]['seconds']:.1f}s")
        if on_epoch_end is not None:
            on_epoch_end(epoch, {**history[-1], "val_score": val[selection]})
    model.load_state_dict(best_state)

    known_all = known_targets(train_pairs, val_pairs, test_pairs)
    metrics = _run_metrics(
        config, split, graph, removed, train_pairs, test_pairs, known_all, started,
        val=_evaluate(model, features, seen, split, graph, "val", known_val, with_auc=True),
        test=_evaluate(model, features, seen, split, graph, "test", known_all, with_auc=True),
        best_epoch=best_epoch + 1, epochs_run=len(history),
        seconds_per_epoch=float(np.median([h["seconds"] for h in history])) if history else None)
    save_model_dir(out / "model", dict(model.state_dict()), _card(config, config_path, graph, metrics))
    atomic_write_text(out / "history.json", json.dumps(history, indent=2))
    atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=2))
    return metrics


def _run_metrics(config: LinkConfig, split: EdgeSplit, graph: KnowledgeGraph, removed: dict, train_pairs,
                 test_pairs, known_all, started: float, *, val: dict, test: dict, **extra) -> dict:
    """``metrics.json`` of a link run, whatever the model: split sizes, validation and test figures, the degree
    prior on the same test edges, what the message graph lost, timings."""
    edge_type = split.edge_type
    n_sources, n_targets = len(graph.node_ids[edge_type[0]]), len(graph.node_ids[edge_type[2]])
    return {"edge_type": list(edge_type), "split": {"method": config.split.method, "train": len(split.train),
                                                   "val": len(split.val), "test": len(split.test)},
            "val": val, "selection": config.train.selection, "test": test,
            "degree_prior_test": _degree_prior_metrics(train_pairs, test_pairs, n_sources, n_targets, known_all),
            "removed_from_message_graph": {k: v for k, v in removed.items() if v}, **extra,
            "seconds": round(time.perf_counter() - started, 1)}


def _card(config: LinkConfig, config_path, graph: KnowledgeGraph, metrics: dict, **extra) -> dict:
    return {"task": config.task, "config": config.model_dump(mode="json"), "graph": graph.name,
            "graph_path": str(graph_location(config, config_path)), "graph_sources": graph.sources,
            "edge_type": list(config.edge_type),
            "metrics": {k: metrics[k] for k in ("val", "test", "degree_prior_test")}, **extra}


def _train_metapath_run(config: LinkConfig, out: Path, config_path, graph: KnowledgeGraph, split: EdgeSplit,
                        seen: KnowledgeGraph, removed: dict, log: Log, started: float) -> dict:
    """``model.kind: metapath``: fit on metapath features of the message graph, evaluate like the GNN."""
    from gnn_drug.tasks.metapath_links import evaluate_pairs, fit_metapath_model, metapath_card, metapath_weights

    edge_type = split.edge_type
    try:
        model, info = fit_metapath_model(graph, seen, split, config.model.metapath, config.train.selection,
                                         config.train.seed, log)
    except ValueError as exc:
        raise ConfigError(f"{config.graph}: {exc}") from None
    train_pairs, val_pairs, test_pairs = (split.pairs(graph, p) for p in ("train", "val", "test"))
    n_s, n_t = len(graph.node_ids[edge_type[0]]), len(graph.node_ids[edge_type[2]])
    known_all = known_targets(train_pairs, val_pairs, test_pairs)
    metrics = _run_metrics(
        config, split, graph, removed, train_pairs, test_pairs, known_all, started,
        val=evaluate_pairs(model, val_pairs, known_targets(train_pairs, val_pairs), n_s, n_t),
        test=evaluate_pairs(model, test_pairs, known_all, n_s, n_t),
        metapath_model=info, metapath_weights=metapath_weights(model)[:20], best_epoch=1, epochs_run=1,
        seconds_per_epoch=None)
    stored, tensors = metapath_card(model)
    save_model_dir(out / "model", {k: torch.from_numpy(np.asarray(v, dtype=np.float64)) for k, v in tensors.items()},
                   _card(config, config_path, graph, metrics, metapath_model=stored))
    atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=2))
    log(f"test: MRR {metrics['test']['mrr']:.4f}, AUROC {metrics['test']['auroc']:.4f}, AUPR "
        f"{metrics['test']['aupr']:.4f} ({time.perf_counter() - started:.0f} s)")
    return metrics


def _link_loss(model: LinkModel, z: dict[str, torch.Tensor], edge_type: EdgeType, src: torch.Tensor,
               dst: torch.Tensor, config: LinkTrainConfig, rng: np.random.Generator, n_targets: int) -> torch.Tensor:
    sources, targets = z[edge_type[0]], z[edge_type[2]]
    loss = torch.zeros(())
    if config.loss.startswith("softmax"):
        loss = F.cross_entropy(model.decoder.score_all(sources[src], targets), dst)
        if config.softmax_both_ways:  # DistMult is symmetric in its arguments' roles: score_all(t, S) = s(S, t)
            loss = (loss + F.cross_entropy(model.decoder.score_all(targets[dst], sources), src)) / 2
        if config.loss == "softmax":
            return loss
    neg_src = src.repeat(config.negatives)
    neg_dst = torch.from_numpy(rng.integers(0, n_targets, len(neg_src)))
    pos = model.decoder(sources[src], targets[dst])
    neg = model.decoder(sources[neg_src], targets[neg_dst])
    return loss + F.binary_cross_entropy_with_logits(pos, torch.ones_like(pos)) + F.binary_cross_entropy_with_logits(
        neg, torch.zeros_like(neg))


def _degree_prior_metrics(train_pairs: np.ndarray, test_pairs: np.ndarray, n_sources: int, n_targets: int,
                          known: dict[int, set[int]]) -> dict:
    """Targets ranked by training degree; for uniformly drawn pairs, a pair scores (1 + source degree) x
    (1 + target degree), the popularity baseline of that protocol."""
    prior = degree_prior(train_pairs, n_targets)
    metrics = ranking_metrics(filtered_ranks(prior, test_pairs, known))
    degree = prior(np.zeros(1, dtype=np.int64))[0]
    metrics.update(sampled_auc(lambda _s, d: degree[d], test_pairs, n_targets, known))
    source_degree = np.bincount(train_pairs[:, 0], minlength=n_sources).astype(np.float64)
    metrics.update(uniform_sampled_auc(lambda s, d: np.log1p(source_degree[s]) + np.log1p(degree[d]), test_pairs,
                                       n_sources, n_targets, known))
    return metrics


def _positions_in_train(split: EdgeSplit, subset: np.ndarray) -> np.ndarray:
    """``subset`` holds positions into the target type's edges; the message graph keeps only training ones, so
    map them to positions among ``split.train`` (the message graph's order)."""
    return np.searchsorted(np.sort(split.train), subset)


# ---- ranking with explanations ------------------------------------------------------------------------------
def two_step_metapaths(graph: KnowledgeGraph, edge_type: EdgeType) -> list[list[str]]:
    """Every metapath source kind –r1– X –r2– target kind of the graph (either stored direction): the mechanisms a
    prediction can be explained by (including known edges of the predicted relation: a similar drug treats it)."""
    source, _, target = edge_type
    steps: dict[str, set[tuple[str, str]]] = {}
    for a, r, b in graph.edges:
        steps.setdefault(a, set()).add((r, b))
        steps.setdefault(b, set()).add((r, a))
    paths = []
    for r1, middle in sorted(steps.get(source, ())):
        for r2, end in sorted(steps.get(middle, ())):
            if end == target:
                paths.append([source, r1, middle, r2, target])
    return paths


class LinkPredictor:
    """A trained link model with the graph it was trained on (verified against the card's source checksums);
    ranks candidates for a node using every known edge as context."""

    def __init__(self, card: dict, tensors: dict[str, torch.Tensor], graph: KnowledgeGraph) -> None:
        self.card = card
        self.config = LinkConfig.model_validate(card["config"])
        self.edge_type: EdgeType = tuple(card["edge_type"])
        self.graph = graph
        self.metapath_model = None
        if self.config.model.kind == "metapath":
            from gnn_drug.tasks.metapath_links import load_metapath_model

            self.metapath_model = load_metapath_model(graph, self.edge_type, card["metapath_model"],
                                                      {k: v.numpy() for k, v in tensors.items()})
            return
        self.features = node_features(graph, self.config.model)
        self.model = LinkModel(graph, self.features, self.config.model, self.config.train.loss)
        self.model.load_state_dict(tensors)
        self.model.eval()
        with torch.no_grad():
            self.z = self.model.encoder(self.features, EncoderGraph(self.model.encoder, graph, self.edge_type).full)

    def _scores(self, query: int, as_source: bool) -> np.ndarray:
        """Scores of every candidate of the other kind for node ``query`` of the source (or target) kind."""
        if self.metapath_model is not None:
            return (self.metapath_model.score_sources(np.array([query]))[0] if as_source
                    else self.metapath_model.score_for_target(query))
        source_kind, _, target_kind = self.edge_type
        query_kind, other_kind = (source_kind, target_kind) if as_source else (target_kind, source_kind)
        others = self.z[other_kind]
        with torch.no_grad():
            vector = self.z[query_kind][query].expand(others.shape[0], -1)
            return (self.model.decoder(vector, others) if as_source else self.model.decoder(others, vector)).numpy()

    @classmethod
    def load(cls, run_dir: str | os.PathLike, data_dir: str | os.PathLike | None = None) -> LinkPredictor:
        from gnn_drug.tasks.run_steps import model_dir_of
        from gnn_drug.train.model_files import load_model_dir

        tensors, card = load_model_dir(model_dir_of(run_dir))
        if card.get("task") not in LINK_TASKS:
            raise DataError(f"{run_dir}: a {card.get('task')} model, not a knowledge-graph link model")
        config = LinkConfig.model_validate(card["config"]).model_copy(update={"graph": card["graph_path"]})
        graph = load_graph(config, None, data_dir)
        changed = sorted(k for k, v in card["graph_sources"].items() if graph.sources.get(k) != v)
        if changed:
            raise DataError(f"{run_dir}: the graph's source files changed since training ({', '.join(changed[:3])}); "
                            "retrain the model")
        return cls(card, tensors, graph)

    def find_node(self, text: str, kind: str) -> str:
        """A node id of ``kind`` from an id, an id without its kind prefix (``DOID:9352``) or a name (case does not
        matter); an unknown text gets a clear error with close matches."""
        import difflib

        ids, names = self.graph.node_ids[kind], self.graph.node_names[kind]
        by_key = {}
        for node, name in zip(ids, names, strict=True):
            for key in (node, node.split("::", 1)[-1], name):
                by_key.setdefault(key.lower(), node)
        hit = by_key.get(text.strip().lower())
        if hit is not None:
            return hit
        close = difflib.get_close_matches(text.strip().lower(), list(by_key), n=5, cutoff=0.6)
        hint = f"; close matches: {', '.join(repr(by_key[c]) + ' (' + c + ')' for c in close)}" if close else ""
        raise DataError(f"{text!r} is not a {kind} of {self.graph.name} (by id or name){hint}")

    def rank_new_compound(self, smiles: str, top: int = 20) -> list[dict]:
        """Targets for a compound that is not in the graph: its Morgan bits enter as an extra, edge-less node of
        the source kind (the encoder is inductive for kinds with structure features)."""
        from gnn_drug.chem import MorganFeaturizer, Standardizer

        kind, _, target_kind = self.edge_type
        if self.metapath_model is not None:
            raise DataError("a metapath model scores pairs by the graph paths between them; a compound outside the "
                            "graph has none (use a GNN model with compound_features: morgan)")
        if kind not in self.features or self.graph.structure_types.get(kind) != "smiles":
            raise DataError(f"{kind} nodes have no structure features in this model; only graph members can be "
                            "ranked")
        mol = Standardizer()(smiles).mol
        extra = torch.from_numpy(MorganFeaturizer()(mol)).float().unsqueeze(0)
        features = dict(self.features)
        features[kind] = torch.cat([features[kind], extra])
        with torch.no_grad():
            z = self.model.encoder(features, _edge_index(self.graph, self.edge_type, None))
            others = z[target_kind]
            scores = self.model.decoder(z[kind][-1].expand(others.shape[0], -1), others).numpy()
        order = np.argsort(-scores, kind="stable")[:top]
        ids, names = self.graph.node_ids[target_kind], self.graph.node_names[target_kind]
        return [{"rank": r + 1, "id": ids[i], "name": names[i], "score": float(scores[i]), "known": False}
                for r, i in enumerate(order)]

    def edge_attributions(self, source: int, target: int) -> dict[tuple[EdgeType, int, int], float]:
        """How much the model's score for the pair (``source``, ``target``: indices of the predicted relation's
        kinds) rests on each message edge at either node: the gradient of the score with respect to a weight on
        the edge's messages, at weight 1 (gradient x input), both directions of an edge summed. Keyed by the edge
        as stored: (edge type, source index, target index)."""
        source_kind, _, target_kind = self.edge_type
        watch: dict[str, list[int]] = {}
        watch.setdefault(source_kind, []).append(source)
        watch.setdefault(target_kind, []).append(target)
        encoder = self.model.encoder
        graph = encoder.adjacency(_edge_index(self.graph, self.edge_type, None),
                                  {k: len(v) for k, v in self.graph.node_ids.items()},
                                  watch={k: torch.tensor(v) for k, v in watch.items()})
        with torch.enable_grad():
            z = encoder(self.features, graph)
            score = self.model.decoder(z[source_kind][source : source + 1], z[target_kind][target : target + 1])
            grads = torch.autograd.grad(score.sum(), [w.weight for w in graph.watched], allow_unused=True)
        out: dict[tuple[EdgeType, int, int], float] = {}
        for edges, grad in zip(graph.watched, grads, strict=True):
            if grad is None:
                continue
            stored = edges.edge_type in self.graph.edges
            edge_type = edges.edge_type if stored else (edges.edge_type[2], edges.edge_type[1][4:],
                                                          edges.edge_type[0])
            a, b = (edges.source, edges.target) if stored else (edges.target, edges.source)
            for u, v, g in zip(a.tolist(), b.tolist(), grad.tolist(), strict=True):
                key = (edge_type, u, v)
                out[key] = out.get(key, 0.0) + g
        return out

    def rank_paths(self, paths: list, attributions: dict[tuple[EdgeType, int, int], float]) -> list:
        """``paths`` (:class:`~gnn_drug.kg.paths.GraphPath`) with their model attribution (the sum over the path's
        edges, see :meth:`edge_attributions`), most supporting first."""
        for path in paths:
            kinds, relations = path.metapath[0::2], path.metapath[1::2]
            total = 0.0
            for k, relation in enumerate(relations):
                a, b = (kinds[k], path.indices[k]), (kinds[k + 1], path.indices[k + 1])
                total += sum(attributions.get(((x[0], relation, y[0]), x[1], y[1]), 0.0) for x, y in ((a, b), (b, a)))
            path.attribution = total
        return sorted(paths, key=lambda p: -p.attribution)

    def _explain(self, explainer, metapaths, attribute: bool, query_id: str, candidate_id: str, query: int,
                 candidate: int, as_source: bool, limit: int) -> list:
        """The ``limit`` graph paths that best support one (query, candidate) pair, by the model's own score."""
        src, dst = (query_id, candidate_id) if as_source else (candidate_id, query_id)
        pair = (query, candidate) if as_source else (candidate, query)
        if self.metapath_model is not None:
            from gnn_drug.tasks.metapath_links import explain_with_metapaths

            return explain_with_metapaths(self.metapath_model, explainer, src, dst, *pair, limit)
        pool = explainer.explain(src, dst, metapaths, PATH_POOL if attribute else limit)
        if attribute and pool:
            pool = self.rank_paths(pool, self.edge_attributions(*pair))
        return pool[:limit]

    def rank(self, node_id: str, top: int = 20, include_known: bool = False, explain_paths: int = 0) -> list[dict]:
        """Candidates for ``node_id`` (a source-kind node: targets; a target-kind node: sources), best first."""
        from gnn_drug.kg.paths import PathExplainer

        source_kind, _, target_kind = self.edge_type
        if node_id in self.graph.index(source_kind):
            query_kind, other_kind, as_source = source_kind, target_kind, True
        elif node_id in self.graph.index(target_kind):
            query_kind, other_kind, as_source = target_kind, source_kind, False
        else:
            raise DataError(f"{node_id!r} is neither a {source_kind} nor a {target_kind} node of {self.graph.name}")
        q = self.graph.index(query_kind)[node_id]
        scores = self._scores(q, as_source)
        edges = self.graph.edges[self.edge_type]
        known = set((edges.target[edges.source == q] if as_source else edges.source[edges.target == q]).tolist())
        metapaths = two_step_metapaths(self.graph, self.edge_type)
        explainer = PathExplainer(self.graph) if explain_paths else None
        attribute = (self.metapath_model is None and self.config.model.encoder == "sage"
                     and self.config.model.layers > 0)
        rows = []
        for i in np.argsort(-scores, kind="stable"):
            if int(i) in known and not include_known:
                continue
            candidate = self.graph.node_ids[other_kind][i]
            row = {"rank": len(rows) + 1, "id": candidate, "name": self.graph.node_names[other_kind][i],
                   "score": float(scores[i]), "known": int(i) in known}
            if explain_paths:
                row["paths"] = [p.text() for p in self._explain(explainer, metapaths, attribute, node_id, candidate,
                                                                q, int(i), as_source, explain_paths)]
            rows.append(row)
            if len(rows) >= top:
                break
        return rows
