"""Scaling of extra feature vectors, fitted on the training split only and stored with the model."""

from __future__ import annotations

import numpy as np


class FeatureScaler:
    """Standardise columns (NaN -> column mean -> 0), clip to ±``clip`` standard deviations."""

    def __init__(self, clip: float = 6.0) -> None:
        self.clip = clip
        self.mean_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None

    def fit(self, values: np.ndarray) -> FeatureScaler:
        values = np.asarray(values, dtype=np.float64)
        with np.errstate(invalid="ignore"):
            mean = np.nanmean(values, axis=0) if len(values) else np.zeros(values.shape[1])
            std = np.nanstd(values, axis=0) if len(values) else np.ones(values.shape[1])
        mean = np.where(np.isfinite(mean), mean, 0.0)
        std = np.where(np.isfinite(std) & (std > 1e-8), std, 1.0)
        self.mean_, self.scale_ = mean.astype(np.float32), std.astype(np.float32)
        return self

    def transform(self, values: np.ndarray) -> np.ndarray:
        if self.mean_ is None or self.scale_ is None:
            raise RuntimeError("FeatureScaler.transform called before fit")
        scaled = (np.asarray(values, dtype=np.float32) - self.mean_) / self.scale_
        scaled = np.nan_to_num(scaled, nan=0.0, posinf=self.clip, neginf=-self.clip)
        return np.clip(scaled, -self.clip, self.clip).astype(np.float32)

    def state(self) -> dict[str, np.ndarray]:
        return {"mean": self.mean_, "scale": self.scale_}

    @classmethod
    def from_state(cls, mean: np.ndarray, scale: np.ndarray, clip: float = 6.0) -> FeatureScaler:
        scaler = cls(clip)
        scaler.mean_, scaler.scale_ = np.asarray(mean, np.float32), np.asarray(scale, np.float32)
        return scaler
