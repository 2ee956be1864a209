"""Path explanations: the concrete graph paths that join two nodes along given metapaths (e.g.
Compound –binds– Gene –associates– Disease), ranked by degree-weighted path weight
w = prod over the path's nodes of degree^-0.5 (paths through hub genes count less), the weighting behind
Hetionet's DWPC. They show a scientist *why* a compound and a disease are close in the graph."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from gnn_drug.errors import DataError
from gnn_drug.kg.build import KnowledgeGraph


@dataclass
class GraphPath:
    metapath: list[str]
    nodes: list[tuple[str, str, str]]  # (kind, id, name)
    weight: float  # degree-weighted path weight
    indices: list[int] = field(default_factory=list)  # node indices within their kinds
    attribution: float | None = None  # the model's reliance on the path's edges (see LinkPredictor.rank)
    stored_forward: list[bool] | None = None  # per step: is the edge stored in this direction (else the reverse)

    def text(self) -> str:
        parts = [f"{self.nodes[0][2]}"]
        forward = self.stored_forward or [True] * (len(self.nodes) - 1)
        for relation, node, ahead in zip(self.metapath[1::2], self.nodes[1:], forward, strict=True):
            parts.append(f"–{relation}→ {node[2]}" if ahead else f"←{relation}– {node[2]}")
        scores = f"DWPC weight {self.weight:.3g}"
        if self.attribution is not None:
            scores = f"model attribution {self.attribution:+.3g}, {scores}"
        return " ".join(parts) + f"  ({scores})"


def _neighbours(graph: KnowledgeGraph, from_kind: str, relation: str, to_kind: str) -> dict[int, set[int]]:
    out: dict[int, set[int]] = defaultdict(set)
    found = False
    for edge_type, edges in graph.edges.items():
        if edge_type[1] != relation:
            continue
        if (edge_type[0], edge_type[2]) == (from_kind, to_kind):
            found = True
            for s, t in zip(edges.source.tolist(), edges.target.tolist(), strict=True):
                out[s].add(t)
        if (edge_type[2], edge_type[0]) == (from_kind, to_kind) and not (edges.directed and from_kind == to_kind):
            found = True
            for s, t in zip(edges.source.tolist(), edges.target.tolist(), strict=True):
                out[t].add(s)
    if not found:
        raise DataError(f"no edge type {from_kind}–{relation}–{to_kind} (in either direction) in {graph.name}")
    return out


def _degrees(graph: KnowledgeGraph) -> dict[str, np.ndarray]:
    degrees = {kind: np.zeros(len(ids)) for kind, ids in graph.node_ids.items()}
    for (src, _, dst), edges in graph.edges.items():
        degrees[src] += np.bincount(edges.source, minlength=len(degrees[src]))
        degrees[dst] += np.bincount(edges.target, minlength=len(degrees[dst]))
    return degrees


class PathExplainer:
    """Degrees and neighbour maps computed once, for explaining many pairs of one graph (a ranking)."""

    def __init__(self, graph: KnowledgeGraph) -> None:
        self.graph = graph
        self.degrees = _degrees(graph)
        self._steps: dict[tuple[str, str, str], dict[int, set[int]]] = {}

    def neighbours(self, from_kind: str, relation: str, to_kind: str) -> dict[int, set[int]]:
        key = (from_kind, relation, to_kind)
        if key not in self._steps:
            self._steps[key] = _neighbours(self.graph, from_kind, relation, to_kind)
        return self._steps[key]

    def explain(self, source_id: str, target_id: str, metapaths: Sequence[Sequence[str]],
                limit: int = 10) -> list[GraphPath]:
        """Up to ``limit`` concrete paths from ``source_id`` to ``target_id`` along any of ``metapaths`` (kinds
        and relations alternating), best weight first. Intermediate nodes never repeat a path's endpoints."""
        degrees = self.degrees
        found: list[GraphPath] = []
        for metapath in metapaths:
            kinds, relations = list(metapath[0::2]), list(metapath[1::2])
            start = self.graph.index(kinds[0]).get(source_id)
            end = self.graph.index(kinds[-1]).get(target_id)
            if start is None or end is None:
                continue
            steps = [self.neighbours(a, r, b) for a, r, b in zip(kinds[:-1], relations, kinds[1:], strict=True)]
            forward = [(a, r, b) in self.graph.edges for a, r, b in zip(kinds[:-1], relations, kinds[1:], strict=True)]
            frontier = [[start]]
            for depth, step in enumerate(steps):
                kind = kinds[depth + 1]
                if depth == len(steps) - 1:
                    frontier = [p + [end] for p in frontier if end in step.get(p[-1], ())]
                    break
                endpoints = {start} if kind == kinds[0] else set()
                endpoints |= {end} if kind == kinds[-1] else set()
                frontier = [p + [n] for p in frontier for n in step.get(p[-1], ()) if n not in endpoints]
                if len(frontier) > 100_000:  # a hub explosion: keep the partial paths through the least connected nodes
                    weights = [np.prod([degrees[kinds[i]][n] for i, n in enumerate(p)]) for p in frontier]
                    frontier = [frontier[i] for i in np.argsort(weights)[:100_000]]
            for path in frontier:
                weight = float(np.prod([max(degrees[kinds[i]][n], 1.0) ** -0.5 for i, n in enumerate(path)]))
                ids, names = self.graph.node_ids, self.graph.node_names
                nodes = [(kinds[i], ids[kinds[i]][n], names[kinds[i]][n]) for i, n in enumerate(path)]
                found.append(GraphPath(list(metapath), nodes, weight, list(path), stored_forward=forward))
        found.sort(key=lambda p: -p.weight)
        return found[:limit]


def explain(graph: KnowledgeGraph, source_id: str, target_id: str, metapaths: Sequence[Sequence[str]],
            limit: int = 10) -> list[GraphPath]:
    """:meth:`PathExplainer.explain` for a single pair."""
    return PathExplainer(graph).explain(source_id, target_id, metapaths, limit)
