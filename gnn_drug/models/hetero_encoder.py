"""Heterogeneous graph encoder (relational GraphSAGE, the R-GCN family) for knowledge graphs.

Input per node kind: a linear map of given features (compounds: fingerprints; proteins: k-mer composition), or a
learned embedding for kinds without features. With ``embed_featured=True`` featured kinds get a learned per-node
embedding too, added to the feature map: it starts at zero, so a node never trained on (a held-out compound, a new
SMILES appended as an extra node) is represented by its features alone, while trained nodes can learn what their
fingerprint does not say. Each layer, per relation r and node i:
h_i' = h_i + ReLU(LayerNorm( sum_r ( W_self,r h_i + W_r mean_{j in N_r(i)} h_j ) )), i.e. PyG ``HeteroConv`` of
``SAGEConv`` summed over relations (R-GCN with per-relation root weights and mean normalisation), normalised per
node kind (a Gene node sums messages of many relations) and with a residual connection.
Reverse edges are added for every relation, so information flows both ways. ``conv="hgt"`` uses the
Heterogeneous Graph Transformer layer instead (Hu et al. 2020; per-type attention over neighbours).

The GraphSAGE layers aggregate with sparse matrix products (:class:`~gnn_drug.models.sparse_mean.MeanAdjacency`,
built once per message graph by :meth:`HeteroEncoder.adjacency`) and sum the root terms of all relations into one
matrix product per node kind; the parameters are PyG's ``SAGEConv`` ones, and the result equals ``HeteroConv``'s.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn
from torch_geometric.nn import HeteroConv, HGTConv, SAGEConv

from gnn_drug.models.sparse_mean import MeanAdjacency, in_degree

EdgeType = tuple[str, str, str]
MessageGraph = "dict[EdgeType, torch.Tensor] | SageGraph"


def reverse_type(edge_type: EdgeType) -> EdgeType:
    return (edge_type[2], f"rev_{edge_type[1]}", edge_type[0])


def with_reverse_edges(edge_index: dict[EdgeType, torch.Tensor]) -> dict[EdgeType, torch.Tensor]:
    """Every relation plus its reverse (same-kind undirected relations too: messages flow both ways)."""
    out = dict(edge_index)
    for edge_type, index in edge_index.items():
        out[reverse_type(edge_type)] = index.flip(0)
    return out


class HeteroEncoder(nn.Module):
    def __init__(self, num_nodes: dict[str, int], feature_dims: dict[str, int], edge_types: list[EdgeType],
                 hidden_dim: int = 64, layers: int = 2, dropout: float = 0.0, conv: str = "sage",
                 heads: int = 2, embed_featured: bool = False) -> None:
        super().__init__()
        self.kinds = list(num_nodes)
        self.inputs = nn.ModuleDict()
        self.embeddings = nn.ParameterDict()
        for kind, n in num_nodes.items():
            key = _key(kind)
            if feature_dims.get(kind):
                self.inputs[key] = nn.Linear(feature_dims[kind], hidden_dim)
                if embed_featured:
                    self.embeddings[key] = nn.Parameter(torch.zeros(n, hidden_dim))
            else:
                self.embeddings[key] = nn.Parameter(torch.randn(n, hidden_dim) * 0.1)
        all_types = list(edge_types) + [reverse_type(t) for t in edge_types]
        if conv == "sage":
            self.convs = nn.ModuleList(
                HeteroConv({t: SAGEConv((hidden_dim, hidden_dim), hidden_dim) for t in all_types}, aggr="sum")
                for _ in range(layers))
        elif conv == "hgt":
            self.convs = nn.ModuleList(HGTConv(hidden_dim, hidden_dim, (list(num_nodes), all_types), heads=heads)
                                       for _ in range(layers))
        else:
            raise ValueError(f"unknown heterogeneous convolution {conv!r}; choose sage or hgt")
        self.norms = nn.ModuleList(nn.ModuleDict({_key(k): nn.LayerNorm(hidden_dim) for k in num_nodes})
                                   for _ in range(layers))
        self.dropout = nn.Dropout(dropout)
        self.out_dim = hidden_dim
        self.conv = conv

    def initial(self, features: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        h = {}
        for kind in self.kinds:
            key = _key(kind)
            if key not in self.inputs:
                h[kind] = self.embeddings[key]
            elif key not in self.embeddings:
                h[kind] = self.inputs[key](features[kind])
            else:  # rows past the trained ones (nodes appended at prediction time) have no embedding: zeros
                x, embedding = self.inputs[key](features[kind]), self.embeddings[key]
                extra = x.shape[0] - embedding.shape[0]
                if extra > 0:
                    embedding = torch.cat([embedding, embedding.new_zeros(extra, embedding.shape[1])])
                h[kind] = x + embedding
        return h

    def adjacency(self, edge_index: dict[EdgeType, torch.Tensor], num_nodes: dict[str, int],
                  watch: dict[str, torch.Tensor] | None = None) -> SageGraph:
        """A message graph as sparse mean adjacencies, to reuse over many forward passes (GraphSAGE layers);
        edges at ``watch`` nodes get differentiable weights (:class:`WatchedEdges`)."""
        if self.conv != "sage":
            raise ValueError("sparse adjacencies are built for the GraphSAGE encoder")
        return SageGraph.build(edge_index, num_nodes, watch)

    def forward(self, features: dict[str, torch.Tensor], edge_index: MessageGraph) -> dict[str, torch.Tensor]:
        """``edge_index`` holds the message-passing edges (reverse types included, see :func:`with_reverse_edges`),
        as [2, E] tensors or, for the GraphSAGE layers, as adjacencies from :meth:`adjacency`."""
        h = self.initial(features)
        if self.conv == "sage" and self.convs and not isinstance(edge_index, SageGraph):
            edge_index = self.adjacency(edge_index, {k: v.shape[0] for k, v in h.items()})
        for conv, norms in zip(self.convs, self.norms, strict=True):
            messages = _sage_layer(conv, h, edge_index) if self.conv == "sage" else conv(h, edge_index)
            h = {kind: h[kind] + self.dropout(torch.relu(norms[_key(kind)](messages[kind]))) if kind in messages
                 else h[kind] for kind in h}
        return h


@dataclass
class AdjacencyBlock:
    """Relations into one node kind aggregated by one sparse product. ``premultiply``: the sources are mapped by
    each relation's weight before aggregation (cheaper when they are no more than the targets, and lets several
    relations share one product); otherwise a single relation is aggregated first, then mapped."""

    edge_types: list[EdgeType]
    adjacency: MeanAdjacency
    premultiply: bool


@dataclass
class WatchedEdges:
    """Edges of one relation whose messages are scaled by a weight ``w`` (1) that gradients reach, so that a
    score can be attributed to each of them as ``w * d score / d w`` (explanations). ``positions`` index the
    relation's edge list; ``norm`` is 1 / in-degree over the whole relation, as for the other edges."""

    edge_type: EdgeType
    source: torch.Tensor
    target: torch.Tensor
    norm: torch.Tensor
    positions: torch.Tensor
    weight: torch.Tensor


@dataclass
class SageGraph:
    """A message graph prepared for the GraphSAGE layers (see :meth:`HeteroEncoder.adjacency`); ``a | b`` joins
    two graphs over disjoint relations."""

    blocks: list[AdjacencyBlock] = field(default_factory=list)
    watched: list[WatchedEdges] = field(default_factory=list)

    def __or__(self, other: SageGraph) -> SageGraph:
        return SageGraph(self.blocks + other.blocks, self.watched + other.watched)

    @classmethod
    def build(cls, edge_index: dict[EdgeType, torch.Tensor], num_nodes: dict[str, int],
              watch: dict[str, torch.Tensor] | None = None) -> SageGraph:
        """``watch``: node indices per kind whose incident edges become :class:`WatchedEdges`."""
        blocks, watched, grouped = [], [], {}
        parts: dict[EdgeType, tuple[torch.Tensor, torch.Tensor | None]] = {}
        for edge_type, index in edge_index.items():
            source_kind, _, target_kind = edge_type
            degree = None
            if watch:
                hit = torch.zeros(index.shape[1], dtype=torch.bool)
                if source_kind in watch:
                    hit |= torch.isin(index[0], watch[source_kind])
                if target_kind in watch:
                    hit |= torch.isin(index[1], watch[target_kind])
                if bool(hit.any()):
                    degree = in_degree(index[1], num_nodes[target_kind])
                    chosen = index[:, hit]
                    watched.append(WatchedEdges(edge_type, chosen[0], chosen[1], degree.reciprocal()[chosen[1]],
                                                torch.nonzero(hit).flatten(), torch.ones(chosen.shape[1],
                                                                                   requires_grad=True)))
                    index = index[:, ~hit]
            parts[edge_type] = (index, degree)
        for edge_type, (index, degree) in parts.items():
            n_source, n_target = num_nodes[edge_type[0]], num_nodes[edge_type[2]]
            if n_source <= n_target:
                grouped.setdefault(edge_type[2], []).append(edge_type)
            else:
                blocks.append(AdjacencyBlock([edge_type], MeanAdjacency([(index, n_source)], n_target, [degree]),
                                             False))
        for target, types in grouped.items():
            adjacency = MeanAdjacency([(parts[t][0], num_nodes[t[0]]) for t in types], num_nodes[target],
                                      [parts[t][1] for t in types])
            blocks.append(AdjacencyBlock(types, adjacency, True))
        return cls(blocks, watched)


def _sage_layer(conv: HeteroConv, h: dict[str, torch.Tensor], graph: SageGraph) -> dict[str, torch.Tensor]:
    """sum_r (W_r mean_{N_r(i)} h_j + b_r) + (sum_r W_self,r) h_i per node kind: HeteroConv of SAGEConv."""
    out: dict[str, torch.Tensor] = {}
    into: dict[str, list[EdgeType]] = {}
    for block in graph.blocks:
        target = block.edge_types[0][2]
        into.setdefault(target, []).extend(t for t in block.edge_types if t not in into.get(target, ()))
        if block.premultiply:
            x = torch.cat([h[t[0]] @ conv.convs[t].lin_l.weight.T for t in block.edge_types])
            message = block.adjacency(x)
        else:
            (edge_type,) = block.edge_types
            message = block.adjacency(h[edge_type[0]]) @ conv.convs[edge_type].lin_l.weight.T
        out[target] = message if target not in out else out[target] + message
    for edges in graph.watched:
        source_kind, _, target = edges.edge_type
        into.setdefault(target, [])
        if edges.edge_type not in into[target]:
            into[target].append(edges.edge_type)
        x = h[source_kind][edges.source] @ conv.convs[edges.edge_type].lin_l.weight.T
        message = torch.zeros(h[target].shape[0], x.shape[1], dtype=x.dtype).index_add(
            0, edges.target, x * (edges.weight * edges.norm).unsqueeze(1))
        out[target] = message if target not in out else out[target] + message
    for target, types in into.items():
        root = torch.stack([conv.convs[t].lin_r.weight for t in types]).sum(0)
        bias = torch.stack([conv.convs[t].lin_l.bias for t in types]).sum(0)
        out[target] = out[target] + h[target] @ root.T + bias
    return out


def _key(kind: str) -> str:
    """ModuleDict keys may not contain dots or spaces."""
    return kind.replace(".", "_").replace(" ", "_")
