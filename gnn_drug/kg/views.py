"""Views of a knowledge graph for analysis: per-relation degree statistics, a networkx graph (connected
components and anything else networkx offers), and metapath counts between two nodes, e.g. how many
Compound–binds–Gene–associates–Disease paths join a drug to a disease."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gnn_drug.errors import DataError
from gnn_drug.kg.build import EdgeType, KnowledgeGraph, edge_key


def degree_summary(graph: KnowledgeGraph) -> list[dict]:
    """For every edge type, the degree distribution of its source and target nodes (nodes with >= 1 edge)."""
    rows = []
    for edge_type, edges in graph.edges.items():
        for side, index, kind in (("source", edges.source, edge_type[0]), ("target", edges.target, edge_type[2])):
            degrees = np.bincount(index, minlength=len(graph.node_ids[kind]))
            present = degrees[degrees > 0]
            rows.append({
                "edge_type": edge_key(edge_type), "side": side, "kind": kind, "nodes_with_edges": int(present.size),
                "nodes_of_kind": int(degrees.size), "mean": float(present.mean()) if present.size else 0.0,
                "median": float(np.median(present)) if present.size else 0.0,
                "max": int(present.max()) if present.size else 0,
            })
    return rows


def to_networkx(graph: KnowledgeGraph, edge_types: Sequence[EdgeType] | None = None):
    """An undirected networkx ``MultiGraph``: nodes are ``(kind, id)`` with a ``name``; edges carry ``relation``.
    Restrict to ``edge_types`` for big graphs (networkx holds every edge as Python objects)."""
    import networkx as nx

    chosen = list(edge_types) if edge_types is not None else list(graph.edges)
    g = nx.MultiGraph()
    for kind, ids in graph.node_ids.items():
        g.add_nodes_from(((kind, node), {"name": name}) for node, name in zip(ids, graph.node_names[kind],
                                                                             strict=True))
    for edge_type in chosen:
        edges = graph.edges[edge_type]
        src_ids, dst_ids = graph.node_ids[edge_type[0]], graph.node_ids[edge_type[2]]
        g.add_edges_from(((edge_type[0], src_ids[s]), (edge_type[2], dst_ids[t]), {"relation": edge_type[1]})
                         for s, t in zip(edges.source.tolist(), edges.target.tolist(), strict=True))
    return g


def component_sizes(graph: KnowledgeGraph, edge_types: Sequence[EdgeType] | None = None) -> list[int]:
    """Sizes of the connected components (largest first), ignoring edge direction; computed on sparse
    matrices, so it also works for the whole graph."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    offsets, total = {}, 0
    for kind, ids in graph.node_ids.items():
        offsets[kind] = total
        total += len(ids)
    rows, cols = [], []
    for edge_type in edge_types if edge_types is not None else graph.edges:
        edges = graph.edges[edge_type]
        rows.append(edges.source + offsets[edge_type[0]])
        cols.append(edges.target + offsets[edge_type[2]])
    r = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    c = np.concatenate(cols) if cols else np.zeros(0, np.int64)
    adjacency = coo_matrix((np.ones(len(r)), (r, c)), shape=(total, total))
    _, labels = connected_components(adjacency, directed=False)
    return sorted(np.bincount(labels).tolist(), reverse=True)


def _step_matrix(graph: KnowledgeGraph, from_kind: str, relation: str, to_kind: str):
    """0/1 adjacency from ``from_kind`` to ``to_kind`` along ``relation``, in whichever direction it is stored."""
    from scipy.sparse import csr_matrix

    shape = (len(graph.node_ids[from_kind]), len(graph.node_ids[to_kind]))
    forward, backward = (from_kind, relation, to_kind), (to_kind, relation, from_kind)
    parts = []
    if forward in graph.edges:
        e = graph.edges[forward]
        parts.append((e.source, e.target))
    if backward in graph.edges and (backward != forward or not graph.edges[backward].directed):
        e = graph.edges[backward]
        parts.append((e.target, e.source))
    if not parts:
        raise DataError(f"no edge type {from_kind}–{relation}–{to_kind} (in either direction) in {graph.name}")
    r = np.concatenate([p[0] for p in parts])
    c = np.concatenate([p[1] for p in parts])
    matrix = csr_matrix((np.ones(len(r)), (r, c)), shape=shape)
    matrix.data[:] = 1.0  # an undirected same-kind edge read both ways is still one step
    return matrix


def metapath_counts(graph: KnowledgeGraph, metapath: Sequence[str], source_id: str,
                    target_id: str | None = None):
    """Number of paths following ``metapath`` — alternating kinds and relations, e.g.
    ``["Compound", "binds", "Gene", "associates", "Disease"]`` — from ``source_id``; to one ``target_id``
    (an int) or to every node of the last kind (a dict id -> count, non-zero only)."""
    if len(metapath) < 3 or len(metapath) % 2 == 0:
        raise DataError(f"a metapath alternates kinds and relations, kind first and last: {list(metapath)}")
    kinds, relations = list(metapath[0::2]), list(metapath[1::2])
    position = graph.index(kinds[0]).get(source_id)
    if position is None:
        raise DataError(f"{source_id!r} is not a {kinds[0]} node of {graph.name}")
    vector = np.zeros(len(graph.node_ids[kinds[0]]))
    vector[position] = 1.0
    for a, rel, b in zip(kinds[:-1], relations, kinds[1:], strict=True):
        vector = _step_matrix(graph, a, rel, b).T @ vector
    ids = graph.node_ids[kinds[-1]]
    if target_id is not None:
        target = graph.index(kinds[-1]).get(target_id)
        if target is None:
            raise DataError(f"{target_id!r} is not a {kinds[-1]} node of {graph.name}")
        return int(round(vector[target]))
    return {ids[i]: int(round(vector[i])) for i in np.flatnonzero(vector)}
