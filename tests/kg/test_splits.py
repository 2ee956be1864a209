"""Held-out knowledge-graph edges must be invisible to the encoder; ranking metrics and the degree prior."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gnn_drug.kg.build import EdgeSet, KnowledgeGraph, build_kg
from gnn_drug.kg.ranking import degree_prior, filtered_ranks, known_targets, ranking_metrics
from gnn_drug.kg.spec import load_kg_spec
from gnn_drug.kg.splits import message_graph, split_edges

PRESETS = Path(__file__).parents[2] / "experiments" / "kg"


def _pairs(edges: EdgeSet, reverse: bool = False) -> set[tuple[int, int]]:
    a, b = (edges.target, edges.source) if reverse else (edges.source, edges.target)
    return set(zip(a.tolist(), b.tolist(), strict=True))


@pytest.fixture(scope="module")
def hetionet(data_dir):
    return build_kg(load_kg_spec(PRESETS / "hetionet.yaml"), PRESETS / "hetionet.yaml", data_dir)


@pytest.mark.parametrize("method", ["random", "cold_source"])
def test_held_out_treats_edges_are_absent_from_what_the_encoder_sees(hetionet, method):
    ctd = ("Compound", "treats", "Disease")
    split = split_edges(hetionet, ctd, (0.8, 0.1, 0.1), seed=1, method=method)
    seen, removed = message_graph(hetionet, split)
    held = {tuple(p) for part in ("val", "test") for p in split.pairs(hetionet, part).tolist()}
    assert held and not held & _pairs(seen.edges[ctd])
    # no other relation between a held-out compound and disease survives either (palliates, here), in any
    # direction
    for edge_type, edges in seen.edges.items():
        if (edge_type[0], edge_type[2]) == ("Compound", "Disease"):
            assert not held & _pairs(edges), edge_type
        if (edge_type[0], edge_type[2]) == ("Disease", "Compound"):
            assert not held & _pairs(edges, reverse=True), edge_type
    assert len(seen.edges[ctd]) == len(split.train)
    assert removed["Compound|treats|Disease"] == len(held) and removed["Gene|interacts|Gene"] == 0
    if method == "cold_source":
        train_compounds = set(seen.edges[ctd].source.tolist())
        assert not {s for s, _ in held} & train_compounds


def test_same_kind_edges_are_removed_in_both_directions():
    ids = {"C": ["a", "b", "c"]}
    edges = {("C", "resembles", "C"): EdgeSet(np.array([0, 1, 0]), np.array([1, 2, 2]), False),
             ("C", "similar", "C"): EdgeSet(np.array([1, 2]), np.array([0, 0]), False)}
    graph = KnowledgeGraph("toy", ids, ids, edges)
    from gnn_drug.kg.splits import EdgeSplit

    split = EdgeSplit(("C", "resembles", "C"), np.array([1, 2]), np.array([], dtype=np.int64), np.array([0]))
    seen, _ = message_graph(graph, split)
    assert _pairs(seen.edges[("C", "similar", "C")]) == {(2, 0)}  # b-a (the held-out a-b, reversed) is gone


def test_filtered_ranks_ignore_other_true_targets_and_split_ties():
    test = np.array([[0, 2], [1, 0]])
    known = known_targets(np.array([[0, 1]]), test)
    scores = np.array([[0.1, 0.9, 0.5, 0.5], [0.3, 0.3, 0.3, 0.3]])
    ranks = filtered_ranks(lambda s: scores[s], test, known)
    # source 0: target 1 (0.9) is a known truth and filtered; target 3 ties with target 2 -> rank 1.5
    # source 1: four-way tie -> rank 1 + 3/2
    assert ranks.tolist() == [1.5, 2.5]
    m = ranking_metrics(ranks)
    assert m["mrr"] == pytest.approx((1 / 1.5 + 1 / 2.5) / 2) and m["hits@1"] == 0.0 and m["hits@3"] == 1.0


def test_degree_prior_ranks_popular_targets_first():
    train = np.array([[0, 2], [1, 2], [3, 2], [0, 1]])
    score = degree_prior(train, 4)
    assert np.argmax(score(np.array([5]))[0]) == 2
    ranks = filtered_ranks(score, np.array([[4, 2], [4, 3]]), known_targets(train))
    assert ranks[0] == 1.0 and ranks[1] == 3.5  # target 3 has no training edge: tied last with target 0


def test_sampled_auc_draws_only_true_non_edges():
    from gnn_drug.kg.ranking import sampled_auc

    positives = np.array([[0, 0], [1, 1]])
    known = known_targets(positives, np.array([[0, 2]]))
    seen_pairs = []

    def score(src, dst):
        seen_pairs.extend(zip(src.tolist(), dst.tolist(), strict=True))
        return (dst == src).astype(float)  # a perfect scorer for these positives

    result = sampled_auc(score, positives, n_targets=5, known=known, negatives_per_positive=3)
    assert result["auroc"] == 1.0 and result["aupr"] == 1.0
    negatives = seen_pairs[2:]
    assert len(negatives) == 6 and (0, 2) not in negatives and (0, 0) not in negatives and (1, 1) not in negatives


def test_kfold_test_sets_cover_every_edge_once_and_never_meet_training():
    from gnn_drug.kg.splits import kfold_split

    tests = []
    for fold in range(5):
        train, val, test = kfold_split(103, folds=5, fold=fold, val_fraction=0.1, seed=3)
        assert len(train) + len(val) + len(test) == 103 and len(val) == 10
        assert not (set(train) & set(test) or set(val) & set(test) or set(train) & set(val))
        tests.append(test)
    assert sorted(np.concatenate(tests).tolist()) == list(range(103))
    with pytest.raises(Exception, match="fold"):
        kfold_split(103, folds=5, fold=5, val_fraction=0.1)


def test_uniform_sampled_auc_draws_distinct_non_edges_from_all_pairs():
    from gnn_drug.kg.ranking import uniform_sampled_auc

    known = {0: {0, 1}, 1: {2}}
    positives = np.array([[0, 0], [0, 1], [1, 2]])
    seen: list[tuple[int, int]] = []

    def score(s, d):
        seen.extend(zip(s[3:].tolist(), d[3:].tolist(), strict=True))
        return np.where(np.arange(len(s)) < 3, 1.0, 0.0)  # positives first: a perfect scorer

    result = uniform_sampled_auc(score, positives, n_sources=3, n_targets=4, known=known, negatives_per_positive=2)
    assert result == {"auroc_uniform": 1.0, "aupr_uniform": 1.0}
    assert len(seen) == 6 == len(set(seen)) and not {(0, 0), (0, 1), (1, 2)} & set(seen)
    assert {s for s, _ in seen} - {0, 1}  # sources beyond the positives' own are drawn too (with high odds)
