"""Biased matrix factorisation of a (compound x entity) value matrix, fitted by alternating least squares.

When every compound and entity of the pairs to score has measurements of its own (Davis/KIBA setting 1, random
pair splits of drug-response screens), the value matrix is mostly explained by a few latent tastes per item:
``value = mean + b_compound + b_entity + u_compound . v_entity``. A network reading structures and sequences
learns this slowly and overfits first; ridge-regularised ALS solves it exactly in seconds. Values are standardised
first, so one ridge grid suits any unit (pKd, KIBA score, ln IC50). The ridge weight and
the number of sweeps are chosen on validation pairs, never on test pairs.

An item without training measurements has no bias and no factors of its own: a pair with a new compound is
predicted as ``mean + b_entity`` (how responsive the cell line or protein was to everything measured), one with two
new items as the mean. How much of that to trust is a separate blend share per familiarity class (both known, new
compound, new entity, both new), each chosen on the validation pairs of its class.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: the bias is (almost) unpenalised: an item's mean level is what the data measure best
_BIAS_PENALTY = 1e-3
#: familiarity classes of a pair, by which of its items have training measurements (see :func:`familiarity`)
FAMILIARITY = ("known", "new_compound", "new_entity", "both_new")


def _rows_by_item(keys: np.ndarray, n: int) -> list[np.ndarray]:
    order = np.argsort(keys, kind="stable")
    bounds = np.searchsorted(keys[order], np.arange(n + 1))
    return [order[bounds[i]:bounds[i + 1]] for i in range(n)]


def _solve_side(rows_of: list[np.ndarray], partner: np.ndarray, partner_factors: np.ndarray,
                partner_bias: np.ndarray, residual: np.ndarray, l2: float, factors: np.ndarray,
                bias: np.ndarray) -> None:
    """Ridge regression per item: its values against its partners' factors (plus a bias column)."""
    rank = factors.shape[1]
    penalty = np.diag(np.r_[np.full(rank, l2), l2 * _BIAS_PENALTY])
    for i, rows in enumerate(rows_of):
        if len(rows) == 0:
            continue
        p = partner[rows]
        x = np.empty((len(rows), rank + 1))
        x[:, :rank] = partner_factors[p]
        x[:, rank] = 1.0
        solution = np.linalg.solve(x.T @ x + penalty, x.T @ (residual[rows] - partner_bias[p]))
        factors[i], bias[i] = solution[:rank], solution[rank]


@dataclass
class MatrixFactorization:
    """``value ~ mean + b_c + b_e + u_c . v_e`` over compound keys ``0..n_compounds-1`` and entity keys
    ``0..n_entities-1`` (``-1``: not known)."""

    rank: int = 50
    l2: float = 4.0
    mean: float = 0.0
    scale: float = 1.0
    sweeps: int = 0  # sweeps behind the kept factors (with validation: the best sweep)
    compound_factors: np.ndarray | None = None
    entity_factors: np.ndarray | None = None
    compound_bias: np.ndarray | None = None
    entity_bias: np.ndarray | None = None

    def fit(self, compound_keys: np.ndarray, entity_keys: np.ndarray, values: np.ndarray, n_compounds: int,
            n_entities: int, sweeps: int = 30, seed: int = 0,
            validation: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> list[float]:
        """Fit on the given cells; with ``validation`` (keys and values), keep the sweep with the lowest
        validation MSE. Returns the validation MSE after each sweep (empty without validation)."""
        if np.any(compound_keys < 0) or np.any(entity_keys < 0):
            raise ValueError("matrix factorisation fits known items only (keys >= 0)")
        values = np.asarray(values, dtype=np.float64)
        self.mean = float(values.mean())
        self.scale = float(values.std()) or 1.0
        residual = (values - self.mean) / self.scale
        rng = np.random.default_rng(seed)
        u = 0.1 * rng.standard_normal((n_compounds, self.rank))
        v = 0.1 * rng.standard_normal((n_entities, self.rank))
        bu, bv = np.zeros(n_compounds), np.zeros(n_entities)
        by_compound, by_entity = _rows_by_item(compound_keys, n_compounds), _rows_by_item(entity_keys, n_entities)
        history: list[float] = []
        best = np.inf
        for _ in range(sweeps):
            _solve_side(by_compound, entity_keys, v, bv, residual, self.l2, u, bu)
            _solve_side(by_entity, compound_keys, u, bu, residual, self.l2, v, bv)
            if validation is None:
                continue
            self.compound_factors, self.entity_factors, self.compound_bias, self.entity_bias = u, v, bu, bv
            mse = float(np.mean((self.predict(validation[0], validation[1]) - validation[2]) ** 2))
            history.append(mse)
            if mse < best:
                best = mse
                kept = (u.copy(), v.copy(), bu.copy(), bv.copy(), len(history))
        self.sweeps = sweeps
        if validation is not None and np.isfinite(best):
            u, v, bu, bv, self.sweeps = kept
        self.compound_factors, self.entity_factors, self.compound_bias, self.entity_bias = u, v, bu, bv
        return history

    def predict(self, compound_keys: np.ndarray, entity_keys: np.ndarray) -> np.ndarray:
        """Predicted values; a new item (key -1 or beyond the fitted ones) contributes no bias and no factors."""
        if self.compound_factors is None:
            raise ValueError("matrix factorisation is not fitted")
        c, e = np.asarray(compound_keys), np.asarray(entity_keys)
        kc = (c >= 0) & (c < len(self.compound_bias))
        ke = (e >= 0) & (e < len(self.entity_bias))
        out = np.zeros(len(c))
        out[kc] += self.compound_bias[c[kc]]
        out[ke] += self.entity_bias[e[ke]]
        both = kc & ke
        out[both] += np.einsum("ij,ij->i", self.compound_factors[c[both]], self.entity_factors[e[both]])
        return self.mean + self.scale * out

    def state(self) -> dict[str, np.ndarray]:
        return {"compound_factors": self.compound_factors, "entity_factors": self.entity_factors,
                "compound_bias": self.compound_bias, "entity_bias": self.entity_bias,
                "mean": np.asarray([self.mean]), "scale": np.asarray([self.scale])}

    @classmethod
    def from_state(cls, state: dict[str, np.ndarray]) -> MatrixFactorization:
        u = np.asarray(state["compound_factors"], dtype=np.float64)
        return cls(rank=u.shape[1], mean=float(np.asarray(state["mean"])[0]),
                   scale=float(np.asarray(state["scale"])[0]), compound_factors=u,
                   entity_factors=np.asarray(state["entity_factors"], dtype=np.float64),
                   compound_bias=np.asarray(state["compound_bias"], dtype=np.float64),
                   entity_bias=np.asarray(state["entity_bias"], dtype=np.float64))


def fit_on_validation(compound_keys: np.ndarray, entity_keys: np.ndarray, values: np.ndarray, n_compounds: int,
                      n_entities: int, validation: tuple[np.ndarray, np.ndarray, np.ndarray], rank: int,
                      l2_grid: Sequence[float], sweeps: int, seed: int = 0) -> tuple[MatrixFactorization, float]:
    """The factorisation whose ridge weight (and sweep) scores the lowest validation MSE, with that MSE."""
    best: tuple[MatrixFactorization, float] | None = None
    for l2 in l2_grid:
        model = MatrixFactorization(rank=rank, l2=float(l2))
        history = model.fit(compound_keys, entity_keys, values, n_compounds, n_entities, sweeps, seed, validation)
        score = min(history) if history else np.inf
        if best is None or score < best[1]:
            best = (model, score)
    return best


def familiarity(compound_keys: np.ndarray, entity_keys: np.ndarray) -> np.ndarray:
    """Each pair's index into :data:`FAMILIARITY` (keys < 0: no training measurements)."""
    return (np.asarray(compound_keys) < 0).astype(np.int64) + 2 * (np.asarray(entity_keys) < 0)


def blend_weights(network: np.ndarray, factorization: np.ndarray, labels: np.ndarray, classes: np.ndarray,
                  min_pairs: int = 20, steps: int = 20) -> dict[str, float]:
    """Per familiarity class, the share ``w`` of the factorisation in ``(1 - w) * network + w * factorization``
    that minimises the MSE on ``labels`` (validation pairs). A class with fewer than ``min_pairs`` validation
    pairs gets 0: the networks alone, since nothing measured how the blend does there."""
    weights = {}
    for k, name in enumerate(FAMILIARITY):
        mask = classes == k
        best = (0.0, np.inf)
        if mask.sum() >= min_pairs:
            for w in np.linspace(0.0, 1.0, steps + 1):
                mse = float(np.mean(((1 - w) * network[mask] + w * factorization[mask] - labels[mask]) ** 2))
                if mse < best[1] - 1e-12:
                    best = (float(w), mse)
        weights[name] = best[0]
    return weights


def blend(network: np.ndarray, factorization: np.ndarray, weights: dict[str, float],
          classes: np.ndarray) -> np.ndarray:
    """``(1 - w) * network + w * factorization`` with each pair's ``w`` from its familiarity class."""
    w = np.asarray([weights.get(name, 0.0) for name in FAMILIARITY])[classes]
    return (1.0 - w) * network + w * factorization
