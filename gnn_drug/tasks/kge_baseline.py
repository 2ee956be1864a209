"""Knowledge-graph embedding baselines (PyKEEN's TransE and RotatE) on exactly the split the GNN is judged on.

The embedding model is trained on every triple of the message-passing graph (all relations, held-out edges and
every other edge joining a held-out pair removed, as for the GNN), then ranks the held-out edges of the target
relation with the same filtered MRR / Hits@k and sampled AUROC / AUPR. PyKEEN is an optional extra
(``pip install "gnn-drug[baselines]"``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from gnn_drug.errors import ConfigError
from gnn_drug.kg.build import EdgeType, KnowledgeGraph
from gnn_drug.kg.ranking import filtered_ranks, known_targets, ranking_metrics, sampled_auc, uniform_sampled_auc
from gnn_drug.kg.splits import EdgeSplit, message_graph

KGE_MODELS = ("transe", "rotate")


@dataclass
class KGEBaselineConfig:
    model: Literal["transe", "rotate"] = "transe"
    dim: int = 64
    epochs: int = 50
    batch_size: int = 4096
    lr: float = 0.005
    negatives: int = 8
    seed: int = 0


def graph_triples(graph: KnowledgeGraph) -> tuple[np.ndarray, dict[str, int], dict[EdgeType, int]]:
    """(head, relation, tail) rows over one id space: node kinds are laid out one after another (``offsets``), one
    relation id per edge type."""
    offsets, start = {}, 0
    for kind, ids in graph.node_ids.items():
        offsets[kind] = start
        start += len(ids)
    relations = {edge_type: r for r, edge_type in enumerate(graph.edges)}
    blocks = [np.stack([edges.source + offsets[t[0]], np.full(len(edges), relations[t]), edges.target + offsets[t[2]]],
                       axis=1) for t, edges in graph.edges.items() if len(edges)]
    triples = np.concatenate(blocks).astype(np.int64) if blocks else np.zeros((0, 3), dtype=np.int64)
    return triples, offsets, relations


def _pykeen():
    try:
        from pykeen.models import RotatE, TransE
        from pykeen.training import SLCWATrainingLoop
        from pykeen.triples import CoreTriplesFactory
    except ImportError:
        raise ConfigError('the TransE/RotatE baselines need PyKEEN: pip install "gnn-drug[baselines]"') from None
    return {"transe": TransE, "rotate": RotatE}, SLCWATrainingLoop, CoreTriplesFactory


class KGEScorer:
    """Scores (source, target) pairs of one relation with a trained PyKEEN model (higher = more likely)."""

    def __init__(self, model, edge_type: EdgeType, relation: int, offsets: dict[str, int], n_targets: int) -> None:
        self.model, self.relation = model, relation
        self.source_offset, self.target_offset = offsets[edge_type[0]], offsets[edge_type[2]]
        self.targets = torch.arange(n_targets) + self.target_offset

    def score_sources(self, sources: np.ndarray) -> np.ndarray:
        """[len(sources), n_targets]: every source against every node of the target kind."""
        hr = torch.stack([torch.from_numpy(np.asarray(sources, dtype=np.int64)) + self.source_offset,
                          torch.full((len(sources),), self.relation)], dim=1)
        with torch.no_grad():
            return self.model.score_t(hr, tails=self.targets).numpy()

    def score_pairs(self, sources: np.ndarray, targets: np.ndarray) -> np.ndarray:
        hrt = torch.stack([torch.from_numpy(np.asarray(sources, dtype=np.int64)) + self.source_offset,
                           torch.full((len(sources),), self.relation),
                           torch.from_numpy(np.asarray(targets, dtype=np.int64)) + self.target_offset], dim=1)
        with torch.no_grad():
            return self.model.score_hrt(hrt)[:, 0].numpy()


def train_kge_baseline(graph: KnowledgeGraph, split: EdgeSplit, config: KGEBaselineConfig,
                       log: Callable[[str], None] = print) -> tuple[KGEScorer, dict]:
    """Train on the split's message-passing graph; returns the scorer and training facts."""
    if config.model not in KGE_MODELS:
        raise ConfigError(f"unknown KGE baseline {config.model!r}; choose from {KGE_MODELS}")
    models, loop_class, factory_class = _pykeen()
    seen, _ = message_graph(graph, split)
    triples, offsets, relations = graph_triples(seen)
    n_entities = sum(len(ids) for ids in graph.node_ids.values())
    factory = factory_class(torch.from_numpy(triples), num_entities=n_entities, num_relations=len(relations))
    torch.manual_seed(config.seed)
    model = models[config.model](triples_factory=factory, embedding_dim=config.dim, random_seed=config.seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    loop = loop_class(model=model, triples_factory=factory, optimizer=optimizer,
                      negative_sampler_kwargs={"num_negs_per_pos": config.negatives})
    started = time.perf_counter()
    losses = loop.train(triples_factory=factory, num_epochs=config.epochs, batch_size=config.batch_size,
                        use_tqdm=False, use_tqdm_batch=False, pin_memory=False)
    seconds = time.perf_counter() - started
    log(f"{config.model}: {len(triples):,} training triples, {config.epochs} epochs in {seconds:.0f} s, final loss "
        f"{losses[-1] if losses else float('nan'):.4f}")
    model.eval()
    scorer = KGEScorer(model, split.edge_type, relations[split.edge_type], offsets,
                       len(graph.node_ids[split.edge_type[2]]))
    return scorer, {"triples": int(len(triples)), "seconds": round(seconds, 1),
                    "seconds_per_epoch": seconds / max(1, config.epochs), "final_loss": losses[-1] if losses else None}


def evaluate_kge_baseline(graph: KnowledgeGraph, split: EdgeSplit, config: KGEBaselineConfig,
                          log: Callable[[str], None] = print) -> dict:
    """Train, then the same figures as the GNN run's ``metrics.json``: validation and test (filtered MRR, Hits@k;
    test also AUROC / AUPR against 10 sampled non-edges per positive)."""
    scorer, facts = train_kge_baseline(graph, split, config, log)
    train, val, test = (split.pairs(graph, part) for part in ("train", "val", "test"))
    n_targets = len(graph.node_ids[split.edge_type[2]])
    known_val, known_all = known_targets(train, val), known_targets(train, val, test)
    val_metrics = ranking_metrics(filtered_ranks(scorer.score_sources, val, known_val))
    test_metrics = ranking_metrics(filtered_ranks(scorer.score_sources, test, known_all))
    test_metrics.update(sampled_auc(scorer.score_pairs, test, n_targets, known_all))
    test_metrics.update(uniform_sampled_auc(scorer.score_pairs, test, len(graph.node_ids[split.edge_type[0]]),
                                            n_targets, known_all))
    return {"val": val_metrics, "test": test_metrics, "split": {"method": "", "train": len(split.train),
                                                                 "val": len(split.val), "test": len(split.test)},
            "epochs_run": config.epochs, "best_epoch": config.epochs, **facts}
