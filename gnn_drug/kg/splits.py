"""Held-out edges without leakage: the edges of one target type are split into train / validation / test, and the
graph the encoder sees (the message-passing graph) loses every held-out fact — the edge itself, its reverse, and
any edge of another relation between the same two nodes (e.g. Compound–palliates–Disease for a held-out
Compound–treats–Disease pair), so no path of length one reveals the answer. Cold splits hold out whole source (or
target) nodes: every target-type edge of a held-out compound is in validation or test. ``kfold`` is k-fold
cross-validation (the DTI papers' protocol): fold k of a seeded partition is the test set, and validation edges
are drawn from the other folds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gnn_drug.data.splits import cold_split, random_split
from gnn_drug.errors import ConfigError
from gnn_drug.kg.build import EdgeSet, EdgeType, KnowledgeGraph

KG_SPLIT_METHODS = ("random", "cold_source", "cold_target", "kfold")


@dataclass
class EdgeSplit:
    """Positions into the target type's edges."""

    edge_type: EdgeType
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray

    def pairs(self, graph: KnowledgeGraph, part: str) -> np.ndarray:
        """[n, 2] (source index, target index) of one part."""
        edges = graph.edges[self.edge_type]
        idx = getattr(self, part)
        return np.stack([edges.source[idx], edges.target[idx]], axis=1)


def split_edges(graph: KnowledgeGraph, edge_type: EdgeType, sizes=(0.8, 0.1, 0.1), seed: int = 0,
                method: str = "random", folds: int = 10, fold: int = 0) -> EdgeSplit:
    """``sizes`` are train/validation/test fractions; for ``kfold`` the test set is fold ``fold`` of ``folds`` and
    validation takes ``sizes[1]`` of all edges from the other folds."""
    if edge_type not in graph.edges:
        raise ConfigError(f"edge type {'–'.join(edge_type)} is not in {graph.name}; types are "
                          f"{['–'.join(t) for t in graph.edges]}")
    edges = graph.edges[edge_type]
    if method == "random":
        split = random_split(len(edges), sizes, seed)
    elif method == "cold_source":
        split = cold_split(edges.source, sizes, seed)
    elif method == "cold_target":
        split = cold_split(edges.target, sizes, seed)
    elif method == "kfold":
        return EdgeSplit(edge_type, *kfold_split(len(edges), folds, fold, sizes[1], seed))
    else:
        raise ConfigError(f"unknown knowledge-graph split {method!r}; choose from {KG_SPLIT_METHODS}")
    return EdgeSplit(edge_type, split.train, split.val, split.test)


def kfold_split(n: int, folds: int, fold: int, val_fraction: float, seed: int = 0) -> tuple[np.ndarray, ...]:
    """(train, val, test) positions: test = fold ``fold`` of a seeded partition into ``folds`` near-equal parts
    (the same partition for every fold, so the test sets cover every edge exactly once)."""
    if not 2 <= folds <= n or not 0 <= fold < folds:
        raise ConfigError(f"k-fold split needs 2 <= folds <= {n} edges and 0 <= fold < folds (got folds={folds}, "
                          f"fold={fold})")
    order = np.random.default_rng(seed).permutation(n)
    parts = np.array_split(order, folds)
    test = parts[fold]
    rest = np.concatenate([p for k, p in enumerate(parts) if k != fold])
    rest = rest[np.random.default_rng(seed + 1 + fold).permutation(len(rest))]
    n_val = int(round(val_fraction * n))
    return np.sort(rest[n_val:]), np.sort(rest[:n_val]), np.sort(test)


def _pair_keys(source: np.ndarray, target: np.ndarray, n_target: int) -> np.ndarray:
    return source.astype(np.int64) * n_target + target.astype(np.int64)


def message_graph(graph: KnowledgeGraph, split: EdgeSplit) -> tuple[KnowledgeGraph, dict]:
    """The graph the encoder may see: training edges of the target type, and every other edge type minus any edge
    that joins a held-out pair (in either direction). Returns it with the count removed per edge type."""
    src_kind, _, dst_kind = split.edge_type
    held = np.concatenate([split.val, split.test])
    target_edges = graph.edges[split.edge_type]
    n_src, n_dst = len(graph.node_ids[src_kind]), len(graph.node_ids[dst_kind])
    forward = set(_pair_keys(target_edges.source[held], target_edges.target[held], n_dst).tolist())
    backward = set(_pair_keys(target_edges.target[held], target_edges.source[held], n_src).tolist())
    kept: dict[EdgeType, EdgeSet] = {}
    removed: dict[str, int] = {}
    for edge_type, edges in graph.edges.items():
        if edge_type == split.edge_type:
            keep = np.zeros(len(edges), dtype=bool)
            keep[split.train] = True
        else:
            keep = np.ones(len(edges), dtype=bool)
            if (edge_type[0], edge_type[2]) == (src_kind, dst_kind):
                keep &= ~np.isin(_pair_keys(edges.source, edges.target, n_dst), list(forward))
            if (edge_type[0], edge_type[2]) == (dst_kind, src_kind):
                keep &= ~np.isin(_pair_keys(edges.source, edges.target, n_src), list(backward))
            if src_kind == dst_kind and (edge_type[0], edge_type[2]) == (src_kind, src_kind):
                keep &= ~np.isin(_pair_keys(edges.target, edges.source, n_dst), list(forward))
        removed["|".join(edge_type)] = int((~keep).sum())
        kept[edge_type] = EdgeSet(edges.source[keep], edges.target[keep], edges.directed, edges.abbreviation,
                                  None if edges.weight is None else edges.weight[keep])
    seen = KnowledgeGraph(graph.name, graph.node_ids, graph.node_names, kept, graph.report, graph.sources,
                          graph.node_report, graph.structures, graph.structure_types)
    return seen, removed
