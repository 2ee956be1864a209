"""The GraphSAGE knowledge-graph encoder's sparse aggregation against PyG's HeteroConv of SAGEConv."""

from __future__ import annotations

import pytest
import torch

from gnn_drug.models.hetero_encoder import HeteroEncoder, SageGraph, with_reverse_edges
from gnn_drug.models.sparse_mean import MeanAdjacency


def _graph() -> tuple[HeteroEncoder, dict, dict]:
    torch.manual_seed(0)
    types = [("C", "binds", "G"), ("G", "interacts", "G"), ("C", "treats", "D"), ("A", "expresses", "G")]
    encoder = HeteroEncoder({"C": 5, "G": 7, "D": 3, "A": 2}, {"C": 4}, types, hidden_dim=8, layers=2)
    features = {"C": torch.randn(5, 4)}
    edges = with_reverse_edges({
        ("C", "binds", "G"): torch.tensor([[0, 1, 1, 4], [0, 0, 3, 6]]),
        ("G", "interacts", "G"): torch.tensor([[0, 1, 2, 2], [1, 2, 3, 6]]),
        ("C", "treats", "D"): torch.tensor([[0, 2], [1, 1]]),
        ("A", "expresses", "G"): torch.tensor([[0, 1, 1], [5, 5, 2]]),
    })
    return encoder, features, edges


def _pyg_reference(encoder: HeteroEncoder, features: dict, edges: dict) -> dict:
    h = encoder.initial(features)
    for conv, norms in zip(encoder.convs, encoder.norms, strict=True):
        messages = conv(h, edges)  # PyG's own gather/scatter path
        h = {k: h[k] + torch.relu(norms[k](messages[k])) if k in messages else h[k] for k in h}
    return h


def test_sparse_sage_layers_equal_pyg_heteroconv_in_value_and_gradient():
    encoder, features, edges = _graph()
    ours, reference = encoder(features, edges), _pyg_reference(encoder, features, edges)
    for kind in reference:
        assert torch.allclose(ours[kind], reference[kind], atol=1e-5), kind
    (ours["G"].sum() + ours["D"].pow(2).sum()).backward()
    grads = {n: p.grad.clone() for n, p in encoder.named_parameters() if p.grad is not None}
    encoder.zero_grad()
    (reference["G"].sum() + reference["D"].pow(2).sum()).backward()
    assert grads.keys() == {n for n, p in encoder.named_parameters() if p.grad is not None}
    for name, param in encoder.named_parameters():
        if param.grad is not None:
            assert torch.allclose(grads[name], param.grad, atol=1e-5), name


def test_prepared_graph_joined_from_parts_gives_the_same_encoding():
    encoder, features, edges = _graph()
    num_nodes = {"C": 5, "G": 7, "D": 3, "A": 2}
    binds = {t for t in edges if t[1] in ("binds", "rev_binds")}
    joined = (SageGraph.build({t: v for t, v in edges.items() if t not in binds}, num_nodes)
              | SageGraph.build({t: edges[t] for t in binds}, num_nodes))
    whole = encoder(features, edges)
    parts = encoder(features, joined)
    assert all(torch.allclose(whole[k], parts[k], atol=1e-6) for k in whole)


def test_mean_adjacency_averages_neighbours_of_several_relations_and_leaves_isolated_nodes_zero():
    first = torch.tensor([[0, 1], [0, 0]])  # sources 0 and 1 of relation 1 -> target 0
    second = torch.tensor([[0], [1]])  # source 0 of relation 2 -> target 1
    adjacency = MeanAdjacency([(first, 2), (second, 3)], num_targets=3)
    x = torch.tensor([[1.0], [3.0], [10.0], [20.0], [30.0]])  # rows 0-1: relation 1, rows 2-4: relation 2
    assert adjacency(x).tolist() == [[2.0], [10.0], [0.0]]
    with pytest.raises(ValueError, match="out of range"):
        MeanAdjacency([(torch.tensor([[2], [0]]), 2)], num_targets=1)


def test_watched_edges_leave_the_encoding_unchanged_and_their_gradient_is_the_score_sensitivity():
    encoder, features, edges = _graph()
    num_nodes = {"C": 5, "G": 7, "D": 3, "A": 2}
    watched = encoder.adjacency(edges, num_nodes, watch={"C": torch.tensor([1]), "G": torch.tensor([0])})
    assert watched.watched and all(len(w.weight) for w in watched.watched)
    plain = encoder(features, edges)
    with torch.no_grad():
        seen = encoder(features, watched)
    assert all(torch.allclose(plain[k], seen[k], atol=1e-6) for k in plain)

    def score():
        z = encoder(features, watched)
        return (z["C"][1] * z["G"][0]).sum()

    grads = torch.autograd.grad(score(), [w.weight for w in watched.watched])
    edges_of, grad = watched.watched[0], grads[0]
    with torch.no_grad():  # finite difference on the first watched edge's weight
        base = score()
        edges_of.weight[0] += 1e-3
        bumped = score()
        edges_of.weight[0] -= 1e-3
    assert float(grad[0]) == pytest.approx(float(bumped - base) / 1e-3, rel=0.05, abs=1e-4)
