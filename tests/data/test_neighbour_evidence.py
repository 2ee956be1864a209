"""Neighbour evidence on a small real slice of Davis (12 kinase inhibitors x 15 kinases): hand-computed means,
a brute-force reference for the nearest measured neighbours, and the promise that a training pair's evidence is
exactly the evidence it would get as a new pair."""

from __future__ import annotations

import json

import numpy as np
import pytest
from rdkit import DataStructs

from gnn_drug.data.neighbour_evidence import NeighbourEvidence, compound_fingerprints
from gnn_drug.data.sequences import kmer_composition

N_DRUGS, N_PROTEINS = 12, 15


@pytest.fixture(scope="module")
def davis(data_dir):
    root = data_dir / "dta" / "davis"
    smiles = list(json.loads((root / "ligands_can.txt").read_text()).values())[:N_DRUGS]
    sequences = list(json.loads((root / "proteins.txt").read_text()).values())[:N_PROTEINS]
    pkd = -np.log10(np.load(root / "affinity.npy")[:N_DRUGS, :N_PROTEINS] / 1e9)
    rng = np.random.default_rng(0)
    measured = rng.random(pkd.shape) < 0.7  # a sparse matrix, as in KIBA
    ci, ei = np.nonzero(measured)
    values = pkd[ci, ei] + rng.normal(0, 0.01, len(ci))  # no exact ties between neighbours
    return compound_fingerprints(smiles), kmer_composition(sequences), ci, ei, values


def _evidence(davis, keep=None, centre=6.0, ks=(2, 4)):
    fps, vectors, ci, ei, values = davis
    keep = np.ones(len(ci), bool) if keep is None else keep
    return NeighbourEvidence(ks).fit(fps, vectors, ci[keep], ei[keep], values[keep], centre=centre)


def _features(evidence, davis, ci, ei, leave_out=None):
    fps, vectors = davis[0], davis[1]
    return evidence.features(fps, vectors, np.arange(len(fps)), np.arange(len(vectors)), ci, ei, leave_out)


def test_compound_and_entity_means_leave_the_pair_out(davis):
    _, _, ci, ei, values = davis
    evidence = _evidence(davis)
    feats = _features(evidence, davis, ci, ei, leave_out=np.ones(len(ci), bool))
    names = evidence.names
    for p in (0, 7, len(ci) - 1):
        others = (ci == ci[p]) & (np.arange(len(ci)) != p)
        assert feats[p, names.index("compound_mean")] == pytest.approx(values[others].mean(), rel=1e-6)
        assert feats[p, names.index("compound_count")] == others.sum()
        others = (ei == ei[p]) & (np.arange(len(ci)) != p)
        assert feats[p, names.index("entity_mean")] == pytest.approx(values[others].mean(), rel=1e-6)


def test_structure_neighbours_are_the_most_similar_compounds_measured_with_the_protein(davis):
    fps, _, ci, ei, values = davis
    evidence = _evidence(davis)
    feats = _features(evidence, davis, ci, ei, leave_out=np.ones(len(ci), bool))
    names = evidence.names
    for p in (3, 20, 41):
        partners = np.flatnonzero((ei == ei[p]) & (ci != ci[p]))
        sims = np.asarray(DataStructs.BulkTanimotoSimilarity(fps[ci[p]], [fps[ci[q]] for q in partners]))
        order = np.argsort(-sims, kind="stable")
        for k in evidence.ks:
            top = order[:k][sims[order[:k]] > 0]
            expected = np.sum(sims[top] * values[partners[top]]) / np.sum(sims[top])
            assert feats[p, names.index(f"compound_structure_k{k}_mean")] == pytest.approx(expected, rel=1e-6)
            assert feats[p, names.index(f"compound_structure_k{k}_weight")] == pytest.approx(sims[top].sum())


def test_a_training_pair_gets_the_evidence_it_would_get_as_a_new_pair(davis):
    """Nothing of its own measurement leaks in: not the means, not which neighbours, not their weights."""
    _, _, ci, ei, _ = davis
    evidence = _evidence(davis)
    for p in (0, 11, 30, len(ci) - 2):
        keep = np.arange(len(ci)) != p
        without = _evidence(davis, keep)
        left_out = _features(evidence, davis, ci[[p]], ei[[p]], leave_out=np.ones(1, bool))
        new = _features(without, davis, ci[[p]], ei[[p]])
        np.testing.assert_allclose(left_out, new, rtol=1e-6, atol=1e-9)
    # without leaving it out, the pair's own value is in its compound's mean
    p = 0
    kept = _features(evidence, davis, ci[[p]], ei[[p]])
    assert kept[0, evidence.names.index("compound_count")] == np.sum(ci == ci[p])


def test_new_compounds_and_proteins_get_structure_and_sequence_evidence_only(davis):
    fps, vectors, ci, ei, _ = davis
    evidence = _evidence(davis)
    query_fps = compound_fingerprints(["Cc1ccc(NC(=O)c2ccccc2)cc1", "not a molecule"])
    feats = evidence.features(query_fps, vectors[:2], np.array([-1, -1]), np.array([-1, 4]),
                              np.array([0, 1, 0]), np.array([0, 0, 1]))
    names = evidence.names
    assert np.isfinite(feats).all()
    assert feats[0, names.index("compound_count")] == 0 and feats[0, names.index("entity_count")] == 0
    assert feats[0, names.index("compound_mean")] == 6.0  # the centre stands in
    assert feats[0, names.index("compound_structure_k4_weight")] == 0  # the new protein was measured with none
    assert feats[2, names.index("compound_structure_k4_weight")] > 0  # the known protein 4 was
    assert feats[2, names.index("compound_behaviour_k4_weight")] == 0  # a new compound has no measured behaviour
    assert feats[1, names.index("compound_structure_k4_weight")] == 0  # no structure, no structure neighbours
    assert feats[0, names.index("entity_inputs_k4_weight")] == 0  # nothing measured with the new compound
