"""Metapaths and degree-weighted path counts against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from gnn_drug.kg.build import EdgeSet, KnowledgeGraph
from gnn_drug.kg.metapaths import Metapath, MetapathFeatures, Step, enumerate_metapaths

BINDS = ("Compound", "binds", "Gene")
ASSOC = ("Disease", "associates", "Gene")
TREATS = ("Compound", "treats", "Disease")
INTERACTS = ("Gene", "interacts", "Gene")


def _graph() -> KnowledgeGraph:
    """c0 binds g0, g1; c1 binds g1; d0 associates g0, g1; d1 associates g2; g1 interacts g2; c0 treats d0."""
    ids = {"Compound": ["c0", "c1"], "Gene": ["g0", "g1", "g2"], "Disease": ["d0", "d1"]}

    def edges(pairs):
        a = np.array(pairs)
        return EdgeSet(a[:, 0], a[:, 1], False)

    return KnowledgeGraph("hand", ids, {k: list(v) for k, v in ids.items()},
                          {BINDS: edges([(0, 0), (0, 1), (1, 1)]), ASSOC: edges([(0, 0), (0, 1), (1, 2)]),
                           INTERACTS: edges([(1, 2)]), TREATS: edges([(0, 0)])})


def test_enumeration_follows_relations_both_ways_and_never_gives_the_one_step_answer():
    graph = _graph()
    two = enumerate_metapaths(graph, "Compound", "Disease", max_length=2)
    names = {m.name() for m in two}
    assert "Compound –binds→ Gene ←associates– Disease" in names
    assert all(len(m.steps) == 2 for m in two) and all(m.kinds[0] == "Compound" and m.kinds[-1] == "Disease"
                                                       for m in two)
    three = enumerate_metapaths(graph, "Compound", "Disease", max_length=3)
    assert "Compound –binds→ Gene –interacts→ Gene ←associates– Disease" in {m.name() for m in three}
    assert "Compound –treats→ Disease ←treats– Compound –treats→ Disease" in {m.name() for m in three}
    assert len(three) > len(two) and not any(len(m.steps) == 1 for m in three)
    with pytest.raises(Exception, match="at least two steps"):
        enumerate_metapaths(graph, "Compound", "Disease", max_length=1)
    round_trip = Metapath.from_key(three[0].key())
    assert round_trip == three[0] and round_trip.reversed().reversed() == three[0]


def test_dwpc_equals_the_hand_computed_degree_weighted_walk_sum():
    graph = _graph()
    metapath = Metapath((Step(BINDS, True), Step(ASSOC, False)))
    dwpc = MetapathFeatures(graph, [metapath], damping=0.5).dwpc_rows(metapath, np.array([0, 1]))
    # binds: c0 out-degree 2, c1 1; g0 in-degree 1, g1 2. associates read backwards: g0 out 1, g1 out 1, g2 out 1;
    # d0 in 2, d1 in 1. Walk c0-g0-d0: (2*1)^-.5 * (1*2)^-.5 = 0.5; c0-g1-d0: (2*2)^-.5 * (1*2)^-.5
    expected_c0_d0 = 0.5 + (4 ** -0.5) * (2 ** -0.5)
    assert dwpc[0, 0] == pytest.approx(expected_c0_d0)
    assert dwpc[1, 0] == pytest.approx((1 * 2) ** -0.5 * (1 * 2) ** -0.5)  # c1-g1-d0
    assert dwpc[0, 1] == 0 and dwpc[1, 1] == 0  # d1's gene g2 is bound by nobody
    # the reversed metapath gives the transpose; pairs() gathers the same numbers
    back = MetapathFeatures(graph, [metapath.reversed()], 0.5).dwpc_rows(metapath.reversed(), np.array([0, 1]))
    assert np.allclose(back, dwpc.T)
    pairs = MetapathFeatures(graph, [metapath], 0.5).pairs(np.array([1, 0, 0]), np.array([0, 0, 1]))
    assert np.allclose(pairs[:, 0], [dwpc[1, 0], dwpc[0, 0], 0.0])


def test_replacing_the_target_edges_changes_only_metapaths_that_use_them():
    graph = _graph()
    via_treats = Metapath((Step(TREATS, True), Step(TREATS, False), Step(TREATS, True)))
    via_genes = Metapath((Step(BINDS, True), Step(ASSOC, False)))
    features = MetapathFeatures(graph, [via_treats, via_genes])
    before = features.pairs(np.array([0]), np.array([0]))
    assert before[0, 0] > 0  # c0 -treats- d0 -treats- c0 -treats- d0: the pair's own edge, three times
    without = features.with_target_edges(TREATS, np.zeros(0, np.int64), np.zeros(0, np.int64))
    after = without.pairs(np.array([0]), np.array([0]))
    assert after[0, 0] == 0 and after[0, 1] == before[0, 1]
