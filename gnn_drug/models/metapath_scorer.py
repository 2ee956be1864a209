"""A link scorer over metapath features (Rephetio's model, Himmelstein et al. 2017): L2-regularised logistic
regression on log-scaled degree-weighted path counts,

s(u, v) = b + sum_m w_m z_m(u, v),   z_m = (log1p(DWPC_m(u, v) / c_m) - mu_m) / sigma_m,

with ``c_m`` the mean non-zero DWPC of metapath m in the training rows, plus the standardised log1p training
degrees of u and v. Being linear, a score splits exactly into per-metapath contributions ``w_m z_m`` — which
metapaths (mechanisms) a prediction rests on.
"""

from __future__ import annotations

import numpy as np


class MetapathScorer:
    def __init__(self, regularization: float = 1.0) -> None:
        """``regularization``: the inverse L2 strength (scikit-learn's ``C``)."""
        self.regularization = regularization

    def _scaled(self, dwpc: np.ndarray, degrees: np.ndarray) -> np.ndarray:
        return np.concatenate([np.log1p(dwpc / self.scale_), np.log1p(degrees)], axis=1)

    def fit(self, dwpc: np.ndarray, degrees: np.ndarray, labels: np.ndarray, seed: int = 0) -> MetapathScorer:
        """``dwpc`` [n, metapaths], ``degrees`` [n, 2] (source and target training degree), ``labels`` 0/1."""
        from sklearn.linear_model import LogisticRegression

        nonzero = np.where(dwpc > 0, dwpc, np.nan)
        with np.errstate(all="ignore"):
            scale = np.nanmean(nonzero, axis=0)
        self.scale_ = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)
        x = self._scaled(dwpc, degrees)
        self.mean_ = x.mean(axis=0)
        std = x.std(axis=0)
        self.std_ = np.where(std > 0, std, 1.0)
        model = LogisticRegression(C=self.regularization, max_iter=5000, random_state=seed)
        model.fit((x - self.mean_) / self.std_, labels)
        self.coef_ = model.coef_[0].astype(np.float64)
        self.intercept_ = float(model.intercept_[0])
        return self

    def transform(self, dwpc: np.ndarray, degrees: np.ndarray) -> np.ndarray:
        return (self._scaled(dwpc, degrees) - self.mean_) / self.std_

    def contributions(self, dwpc: np.ndarray, degrees: np.ndarray) -> np.ndarray:
        """[n, metapaths + 2]: ``w_j z_j`` per feature; their sum plus the intercept is the score."""
        return self.transform(dwpc, degrees) * self.coef_

    def decision(self, dwpc: np.ndarray, degrees: np.ndarray) -> np.ndarray:
        return self.contributions(dwpc, degrees).sum(axis=1) + self.intercept_

    def state(self) -> dict[str, np.ndarray]:
        return {"scale": self.scale_, "mean": self.mean_, "std": self.std_, "coef": self.coef_,
                "intercept": np.array([self.intercept_])}

    @classmethod
    def from_state(cls, state: dict[str, np.ndarray], regularization: float = 1.0) -> MetapathScorer:
        scorer = cls(regularization)
        scorer.scale_, scorer.mean_, scorer.std_ = (np.asarray(state[k], dtype=np.float64)
                                                    for k in ("scale", "mean", "std"))
        scorer.coef_ = np.asarray(state["coef"], dtype=np.float64)
        scorer.intercept_ = float(np.asarray(state["intercept"]).ravel()[0])
        return scorer
