import numpy as np
import pytest

from gnn_drug.models.matrix_factorization import (
    FAMILIARITY,
    MatrixFactorization,
    blend,
    blend_weights,
    familiarity,
    fit_on_validation,
)


def _low_rank_cells(n_c=40, n_e=30, rank=3, observed=0.6, noise=0.05, seed=0):
    """A biased rank-3 matrix in pKd-like units, observed at random cells."""
    rng = np.random.default_rng(seed)
    truth = (6.0 + rng.normal(0, 0.5, (n_c, 1)) + rng.normal(0, 0.5, (1, n_e))
             + rng.normal(0, 0.6, (n_c, rank)) @ rng.normal(0, 0.6, (rank, n_e)))
    c, e = np.nonzero(rng.random((n_c, n_e)) < observed)
    values = truth[c, e] + rng.normal(0, noise, len(c))
    return truth, c, e, values


def test_factorisation_recovers_unobserved_cells_of_a_low_rank_matrix():
    truth, c, e, values = _low_rank_cells()
    model = MatrixFactorization(rank=3, l2=0.05)
    model.fit(c, e, values, 40, 30, sweeps=40)
    missing = np.ones_like(truth, dtype=bool)
    missing[c, e] = False
    mc, me = np.nonzero(missing)
    err = np.mean((model.predict(mc, me) - truth[mc, me]) ** 2)
    additive = truth.mean() + (truth.mean(1, keepdims=True) - truth.mean()) + (truth.mean(0) - truth.mean())
    assert err < 0.1 * np.mean((additive[mc, me] - truth[mc, me]) ** 2)  # far beyond item means
    assert err < 0.05


def test_a_new_item_contributes_nothing_and_the_state_round_trips():
    _, c, e, values = _low_rank_cells()
    model = MatrixFactorization(rank=4, l2=1.0)
    model.fit(c, e, values, 40, 30, sweeps=5)
    out = model.predict(np.array([0, -1, 3, 40, -1]), np.array([-1, 2, 5, 1, -1]))
    mean, scale = model.mean, model.scale
    assert out[0] == pytest.approx(mean + scale * model.compound_bias[0])  # a new entity: the compound's level
    assert out[1] == pytest.approx(mean + scale * model.entity_bias[2])  # a new compound: the entity's level
    assert out[3] == pytest.approx(mean + scale * model.entity_bias[1])  # key 40 was never fitted
    assert out[4] == pytest.approx(mean)
    full = mean + scale * (model.compound_bias[3] + model.entity_bias[5]
                           + model.compound_factors[3] @ model.entity_factors[5])
    assert out[2] == pytest.approx(full)
    again = MatrixFactorization.from_state({k: v.astype(np.float32) if k.endswith("factors") else v
                                            for k, v in model.state().items()})
    np.testing.assert_allclose(again.predict(c, e), model.predict(c, e), atol=1e-5)
    with pytest.raises(ValueError, match="known items"):
        MatrixFactorization().fit(np.array([0, -1]), np.array([0, 0]), np.array([1.0, 2.0]), 1, 1)


def test_ridge_weight_and_sweep_are_chosen_on_validation():
    _, c, e, values = _low_rank_cells(noise=0.3, seed=1)
    val = np.arange(len(c)) % 5 == 0
    validation = (c[val], e[val], values[val])
    chosen, score = fit_on_validation(c[~val], e[~val], values[~val], 40, 30, validation, rank=8,
                                      l2_grid=[0.01, 1.0, 30.0], sweeps=15)
    per_l2, best_sweep = {}, {}
    for l2 in (0.01, 1.0, 30.0):
        history = MatrixFactorization(rank=8, l2=l2).fit(c[~val], e[~val], values[~val], 40, 30, 15, 0, validation)
        per_l2[l2], best_sweep[l2] = min(history), int(np.argmin(history)) + 1
    assert chosen.l2 == min(per_l2, key=per_l2.get)
    assert score == pytest.approx(per_l2[chosen.l2])
    assert chosen.sweeps == best_sweep[chosen.l2]  # what a refit on more pairs repeats
    # the kept sweep is the best one: its validation MSE is what the model now scores
    assert np.mean((chosen.predict(*validation[:2]) - validation[2]) ** 2) == pytest.approx(score)


def test_blend_shares_follow_the_better_source_per_familiarity_class():
    rng = np.random.default_rng(0)
    labels = rng.normal(size=400)
    noisy = labels + rng.normal(0, 1.0, 400)
    other = labels + rng.normal(0, 1.0, 400)
    classes = familiarity(np.where(np.arange(400) < 300, 1, -1), np.zeros(400, dtype=np.int64))
    assert FAMILIARITY[classes[0]] == "known" and FAMILIARITY[classes[-1]] == "new_compound"
    # known pairs: the factorisation is exact; new-compound pairs: it is useless (all the truth is in the network)
    factorized = np.where(classes == 0, labels, noisy)
    network = np.where(classes == 0, noisy, labels)
    weights = blend_weights(network, factorized, labels, classes)
    assert weights == {"known": 1.0, "new_compound": 0.0, "new_entity": 0.0, "both_new": 0.0}
    np.testing.assert_allclose(blend(network, factorized, weights, classes), labels)
    # two independent errors of equal size: an even blend halves the MSE
    even = blend_weights(noisy, other, labels, np.zeros(400, dtype=np.int64))["known"]
    assert 0.3 <= even <= 0.7
    assert np.mean((blend(noisy, other, {"known": even}, np.zeros(400, dtype=np.int64)) - labels) ** 2) < 0.7 * (
        np.mean((noisy - labels) ** 2))
    # too few validation pairs in a class: no share, the networks alone
    few = classes.copy()
    few[:395] = 0
    few[395:] = 3
    assert blend_weights(noisy, labels, labels, few)["both_new"] == 0.0
