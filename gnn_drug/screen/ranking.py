"""A declared multi-objective ranking: desirability functions and weights, hard filters, de-duplication,
diversity and a Pareto front — as data (YAML), like every other config::

    objectives:
      - {column: "tox21:max", direction: minimize, range: [0.1, 0.6], weight: 2}
      - {column: qed, direction: maximize, range: [0.3, 0.8]}
    filters:
      - {column: lipinski_violations, op: "<=", value: 1}
      - {column: pains, op: "==", value: ""}
      - {column: in_domain, op: "==", value: true}
    top: 200
    shortlist: 5000
    diversity: {method: sphere, min_distance: 0.4}
    pareto: ["tox21:max", qed]

The score is the weighted geometric mean of the desirabilities (Derringer): 1 is ideal, 0 fails an objective.
"""

from __future__ import annotations

import operator
import os
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from gnn_drug.yaml_files import load_yaml_model

_OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq,
        "!=": operator.ne}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Objective(_Strict):
    column: str
    direction: Literal["maximize", "minimize"]
    range: tuple[float, float] = Field(description="desirability 0 → 1 between these values (order: worst, best "
                                                   "for maximize read as [low, high])")
    weight: float = Field(1.0, gt=0)

    def desirability(self, values: pd.Series) -> np.ndarray:
        low, high = sorted(self.range)
        x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
        d = (x - low) / (high - low) if high > low else (x >= high).astype(np.float64)
        d = np.clip(d, 0.0, 1.0)
        return np.where(np.isnan(x), np.nan, d if self.direction == "maximize" else 1.0 - d)


class Filter(_Strict):
    column: str
    op: Literal["<", "<=", ">", ">=", "==", "!="]
    value: Any

    def passes(self, frame: pd.DataFrame) -> np.ndarray:
        column = frame[self.column]
        if isinstance(self.value, str):
            result = _OPS[self.op](column.fillna("").astype(str), self.value)
        elif isinstance(self.value, bool):
            result = _OPS[self.op](column.fillna(False).astype(bool), self.value)
        else:
            result = _OPS[self.op](pd.to_numeric(column, errors="coerce"), self.value)
        return np.asarray(result, dtype=bool)

    def describe(self) -> str:
        return f"{self.column} {self.op} {self.value!r}"


class Diversity(_Strict):
    """``sphere``: walk down the ranking, skip anything within ``min_distance`` of a pick (score-aware MaxMin);
    ``maxmin``: RDKit's MaxMin picker on the best candidates, seeded with the best one; ``butina``: cluster at
    ``min_distance`` and keep the best of each cluster."""

    method: Literal["sphere", "maxmin", "butina"] = "sphere"
    min_distance: float = Field(0.4, gt=0, lt=1, description="1 − Tanimoto between picked molecules")


class Ranking(_Strict):
    objectives: list[Objective] = Field(min_length=1)
    filters: list[Filter] = []
    top: int = Field(200, ge=1)
    shortlist: int = Field(5000, ge=1, description="best preliminary candidates that get detailed properties")
    dedupe: Literal["inchikey", "none"] = "inchikey"
    diversity: Diversity | None = None
    pareto: tuple[str, str] | None = None

    def columns(self) -> set[str]:
        used = {o.column for o in self.objectives} | {f.column for f in self.filters}
        return used | set(self.pareto or ())

    def score(self, frame: pd.DataFrame, available: set[str] | None = None) -> np.ndarray:
        """Weighted geometric mean of desirabilities over the objectives whose columns are available; NaN
        where a filter (on an available column) fails or an objective value is missing."""
        use = [o for o in self.objectives if available is None or o.column in available]
        if not use:
            return np.ones(len(frame))
        weights = np.array([o.weight for o in use])
        d = np.stack([o.desirability(frame[o.column]) for o in use], axis=1)
        with np.errstate(divide="ignore"):
            score = np.exp((np.log(np.clip(d, 1e-12, 1.0)) * weights).sum(axis=1) / weights.sum())
        score = np.where(np.isnan(d).any(axis=1), np.nan, np.where((d <= 0).any(axis=1), 0.0, score))
        keep = self.passes(frame, available)
        return np.where(keep, score, np.nan)

    def passes(self, frame: pd.DataFrame, available: set[str] | None = None) -> np.ndarray:
        keep = np.ones(len(frame), dtype=bool)
        for f in self.filters:
            if available is None or f.column in available:
                keep &= f.passes(frame)
        return keep


def load_ranking(path: str | os.PathLike) -> Ranking:
    return load_yaml_model(path, Ranking, "ranking")


def pareto_front(frame: pd.DataFrame, ranking: Ranking) -> np.ndarray:
    """Rows not dominated on the two ``pareto`` columns (directions from the objectives; default maximise)."""
    if not ranking.pareto or frame.empty:
        return np.zeros(len(frame), dtype=bool)
    directions = {o.column: o.direction for o in ranking.objectives}
    values = []
    for column in ranking.pareto:
        v = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=np.float64)
        values.append(-v if directions.get(column) == "minimize" else v)
    points = np.stack(values, axis=1)  # larger is better in both
    order = np.lexsort((-points[:, 1], -points[:, 0]))
    front = np.zeros(len(frame), dtype=bool)
    best_second = -np.inf
    for i in order:
        if np.isnan(points[i]).any():
            continue
        if points[i, 1] > best_second:
            front[i] = True
            best_second = points[i, 1]
    return front


def diverse_pick(fingerprints: list, scores_order: np.ndarray, top: int, diversity: Diversity) -> list[int]:
    """Indices (into ``fingerprints``) of up to ``top`` molecules, best first, none closer than the distance."""
    from rdkit import DataStructs

    limit = 1.0 - diversity.min_distance
    if diversity.method == "maxmin":
        from rdkit.SimDivFilters.rdSimDivPickers import MaxMinPicker

        pool = [fingerprints[i] for i in scores_order]
        count = min(top, len(pool))
        if count == 0:
            return []
        picks = MaxMinPicker().LazyBitVectorPick(pool, len(pool), count, firstPicks=[0], seed=0)
        return sorted((int(scores_order[i]) for i in picks), key=lambda i: list(scores_order).index(i))
    if diversity.method == "butina":
        from rdkit.ML.Cluster import Butina

        n = len(fingerprints)
        distances = []
        for i in range(1, n):
            sims = DataStructs.BulkTanimotoSimilarity(fingerprints[i], fingerprints[:i])
            distances.extend(1.0 - s for s in sims)
        clusters = Butina.ClusterData(distances, n, diversity.min_distance, isDistData=True)
        rank = {int(i): r for r, i in enumerate(scores_order)}
        representatives = [min(c, key=lambda i: rank.get(i, n)) for c in clusters]
        return sorted(representatives, key=lambda i: rank.get(i, n))[:top]
    picked: list[int] = []
    for i in scores_order:
        if len(picked) == top:
            break
        if picked and max(DataStructs.BulkTanimotoSimilarity(fingerprints[i], [fingerprints[j] for j in picked])) \
                > limit:
            continue
        picked.append(int(i))
    return picked
