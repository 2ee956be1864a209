"""Metapaths between two node kinds and their degree-weighted path counts (DWPC), the features of Rephetio
(Himmelstein et al. 2017).

A metapath is a sequence of relation steps, e.g. Compound –binds→ Gene ←associates– Disease. Its DWPC for a node
pair sums, over the walks that follow it, the product of ``degree^-damping`` of both ends of every step, degrees
counted within that step's relation: ``DWPC = W_1 W_2 ... W_L`` with ``W_r = D_out^-w A_r D_in^-w``, so walks
through hub nodes count less. Walks may revisit a node; a pair's own edge is kept out of its features by the
caller (``MetapathFeatures.with_target_edges``), never by the walk definition.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from gnn_drug.errors import ConfigError
from gnn_drug.kg.build import EdgeType, KnowledgeGraph

DENSE_FROM = 0.05  # a walk frontier denser than this goes on as a dense array


@dataclass(frozen=True)
class Step:
    """One relation step: along the stored direction (``forward``) or against it."""

    edge_type: EdgeType
    forward: bool

    @property
    def start(self) -> str:
        return self.edge_type[0] if self.forward else self.edge_type[2]

    @property
    def end(self) -> str:
        return self.edge_type[2] if self.forward else self.edge_type[0]


@dataclass(frozen=True)
class Metapath:
    steps: tuple[Step, ...]

    @property
    def kinds(self) -> list[str]:
        return [self.steps[0].start] + [s.end for s in self.steps]

    def as_list(self) -> list[str]:
        """Kinds and relations alternating, e.g. ``["Compound", "binds", "Gene", "associates", "Disease"]``."""
        out = [self.steps[0].start]
        for step in self.steps:
            out += [step.edge_type[1], step.end]
        return out

    def name(self) -> str:
        parts = [self.steps[0].start]
        for step in self.steps:
            relation = step.edge_type[1]
            parts.append(f"–{relation}→ {step.end}" if step.forward else f"←{relation}– {step.end}")
        return " ".join(parts)

    def reversed(self) -> Metapath:
        """The same walks read from the last kind back to the first."""
        return Metapath(tuple(Step(s.edge_type, not s.forward) for s in reversed(self.steps)))

    def key(self) -> list[list]:
        """JSON form: [[source kind, relation, target kind, forward], ...]."""
        return [[*s.edge_type, s.forward] for s in self.steps]

    @classmethod
    def from_key(cls, key: Iterable) -> Metapath:
        return cls(tuple(Step((a, r, b), bool(forward)) for a, r, b, forward in key))


def enumerate_metapaths(graph: KnowledgeGraph, source_kind: str, target_kind: str, max_length: int = 3
                        ) -> list[Metapath]:
    """Every metapath of 2..``max_length`` steps from ``source_kind`` to ``target_kind`` over the graph's edge
    types, in either direction (an undirected same-kind relation once). Metapaths may use the predicted relation
    (a similar compound treats the disease); its one-step metapath, the answer itself, is never one."""
    if max_length < 2:
        raise ConfigError("metapaths need at least two steps (max_length >= 2)")
    moves: dict[str, list[Step]] = {}
    for edge_type, edges in graph.edges.items():
        a, _, b = edge_type
        moves.setdefault(a, []).append(Step(edge_type, True))
        if a != b or edges.directed:
            moves.setdefault(b, []).append(Step(edge_type, False))
    found: list[Metapath] = []

    def extend(path: tuple[Step, ...], kind: str) -> None:
        if len(path) >= 2 and kind == target_kind:
            found.append(Metapath(path))
        if len(path) < max_length:
            for step in moves.get(kind, ()):
                extend(path + (step,), step.end)

    extend((), source_kind)
    return found


def _weighted(rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int], damping: float) -> sparse.csr_matrix:
    matrix = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=shape)
    matrix.data[:] = 1.0  # a repeated pair is one edge
    out_degree = np.asarray(matrix.sum(axis=1)).ravel()
    in_degree = np.asarray(matrix.sum(axis=0)).ravel()
    left = sparse.diags(np.where(out_degree > 0, out_degree, 1.0) ** -damping)
    right = sparse.diags(np.where(in_degree > 0, in_degree, 1.0) ** -damping)
    return (left @ matrix @ right).tocsr()


class MetapathFeatures:
    """DWPC of chosen metapaths for (source, target) pairs of one graph (the message graph a model may see)."""

    def __init__(self, graph: KnowledgeGraph, metapaths: list[Metapath], damping: float = 0.4) -> None:
        self.graph, self.metapaths, self.damping = graph, metapaths, damping
        self.sizes = {kind: len(ids) for kind, ids in graph.node_ids.items()}
        self._relations: dict[EdgeType, sparse.csr_matrix] = {}
        for edge_type in {s.edge_type for m in metapaths for s in m.steps}:
            if edge_type not in graph.edges:
                raise ConfigError(f"metapath relation {'–'.join(edge_type)} is not in {graph.name}")
            self._relations[edge_type] = self._relation(edge_type, graph.edges[edge_type].source,
                                                        graph.edges[edge_type].target)

    def _relation(self, edge_type: EdgeType, source: np.ndarray, target: np.ndarray) -> sparse.csr_matrix:
        a, _, b = edge_type
        edges = self.graph.edges[edge_type]
        if a == b and not edges.directed:  # undirected: one symmetric step
            source, target = np.concatenate([source, target]), np.concatenate([target, source])
        return _weighted(source, target, (self.sizes[a], self.sizes[b]), self.damping)

    def with_target_edges(self, edge_type: EdgeType, source: np.ndarray, target: np.ndarray) -> MetapathFeatures:
        """The same features with ``edge_type``'s edges replaced by the given ones (e.g. a fold of the training
        edges left out, so that no training pair sees its own edge)."""
        other = object.__new__(MetapathFeatures)
        other.graph, other.metapaths, other.damping, other.sizes = self.graph, self.metapaths, self.damping, self.sizes
        other._relations = dict(self._relations)
        if edge_type in other._relations:
            other._relations[edge_type] = self._relation(edge_type, source, target)
        return other

    def _step(self, step: Step) -> sparse.csr_matrix:
        matrix = self._relations[step.edge_type]
        return matrix if step.forward else matrix.T.tocsr()

    def dwpc_rows(self, metapath: Metapath, sources: np.ndarray) -> np.ndarray:
        """[len(sources), n_targets] DWPC of ``metapath`` from each source to every node of the last kind."""
        frontier = self._step(metapath.steps[0])[sources]
        for step in metapath.steps[1:]:
            matrix = self._step(step)
            if sparse.issparse(frontier) and frontier.nnz > DENSE_FROM * frontier.shape[0] * frontier.shape[1]:
                frontier = frontier.toarray()
            frontier = frontier @ matrix if sparse.issparse(frontier) else (matrix.T @ frontier.T).T
        return frontier.toarray() if sparse.issparse(frontier) else np.asarray(frontier)

    def pairs(self, sources: np.ndarray, targets: np.ndarray, block: int = 512) -> np.ndarray:
        """[n_pairs, n_metapaths] DWPC of each (source, target) pair."""
        sources, targets = np.asarray(sources, dtype=np.int64), np.asarray(targets, dtype=np.int64)
        out = np.zeros((len(sources), len(self.metapaths)), dtype=np.float64)
        unique, inverse = np.unique(sources, return_inverse=True)
        for start in range(0, len(unique), block):
            chunk = unique[start : start + block]
            chosen = np.flatnonzero((inverse >= start) & (inverse < start + len(chunk)))
            rows = inverse[chosen] - start
            for j, metapath in enumerate(self.metapaths):
                out[chosen, j] = self.dwpc_rows(metapath, chunk)[rows, targets[chosen]]
        return out
