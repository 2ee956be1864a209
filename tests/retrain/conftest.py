"""A retrain job folder on real Tox21 rows: batches of new data arrive as files in ``incoming/``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.helpers import TINY_MODEL

TARGETS = ["NR-AhR", "SR-ARE", "SR-MMP", "SR-p53"]


class JobFolder:
    def __init__(self, root: Path, frame: pd.DataFrame, feature_cache: Path) -> None:
        self.root = root
        self.frame = frame
        (root / "incoming").mkdir(parents=True)
        task = {
            "task": "toxicity",
            "data": {"source": "unused.csv", "smiles_column": "smiles", "targets": TARGETS},
            "split": {"method": "random", "sizes": [0.8, 0.2, 0.0], "seed": 0},
            "featurization": {"n_workers": 1, "cache_dir": str(feature_cache)},
            "model": dict(TINY_MODEL),
            "train": {"epochs": 15, "batch_size": 32, "lr": 0.003, "patience": 100, "seeds": [0]},
        }
        (root / "task.yaml").write_text(yaml.safe_dump(task))
        self.job = {
            "name": "tox21-nightly",
            "data": "incoming/*.csv",
            "task_config": "task.yaml",
            "registry": {"uri": "registry", "model": "tox21"},
            "holdout": {"policy": "scaffold", "fraction": 0.3},
            "promotion": {"metric": "roc_auc", "min_improvement": 0.0, "secondary": {"pr_auc": 0.1}},
            "work_dir": "work",
            "audit_dir": "audit",
        }
        self.write_job()

    @property
    def job_path(self) -> Path:
        return self.root / "job.yaml"

    def write_job(self, **changes) -> Path:
        self.job.update(changes)
        self.job_path.write_text(yaml.safe_dump(self.job))
        return self.job_path

    def add_batch(self, name: str, start: int, stop: int, shuffle_labels: bool = False) -> Path:
        part = self.frame.iloc[start:stop].copy()
        if shuffle_labels:
            rng = np.random.default_rng(7)
            part[TARGETS] = part[TARGETS].to_numpy()[rng.permutation(len(part))]
        path = self.root / "incoming" / name
        part[["smiles", *TARGETS]].to_csv(path, index=False)
        return path


@pytest.fixture
def job_folder(tmp_path, tox21_frame, feature_cache) -> JobFolder:
    return JobFolder(tmp_path / "job", tox21_frame, feature_cache)
