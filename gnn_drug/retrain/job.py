"""A retraining job as data: what to train on, where the champion lives, how to hold data out, when to promote.

Relative paths in the job file are resolved against the job file's folder, so a job runs the same from cron,
systemd or an orchestrator whatever their working directory.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gnn_drug.errors import ConfigError
from gnn_drug.yaml_files import load_yaml_model

HIGHER_IS_BETTER = {"roc_auc": True, "pr_auc": True, "r2": True, "pearson": True, "rmse": False, "mae": False}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RegistryRef(_Strict):
    uri: str | None = Field(None, description="registry folder, 'mlflow' or 'mlflow:<tracking-uri>'; "
                                              "default $GNN_DRUG_REGISTRY")
    model: str


class HoldoutPolicy(_Strict):
    """``scaffold``: a fixed fraction of Bemis–Murcko scaffolds, chosen by hash, so a molecule stays on the same
    side as data grows and champion and challenger never trained on it; ``newest``: the last rows of the newest
    files; ``file``: a fixed labelled file that is never trained on."""

    policy: Literal["scaffold", "newest", "file"] = "scaffold"
    fraction: float = Field(0.15, gt=0, lt=1)
    file: str | None = None
    salt: str = Field("", description="changes which scaffolds the hash holds out")


class PromotionRule(_Strict):
    metric: str = Field(description="primary metric on the holdout, e.g. roc_auc, pr_auc, rmse, r2")
    min_improvement: float = Field(0.0, ge=0, description="δ: the primary metric must improve by at least this")
    secondary: dict[str, float] = Field(default_factory=dict,
                                        description="metric -> ε: the largest drop allowed in that metric")
    min_value: float | None = Field(None, description="the primary metric must also reach this absolute value")
    champion_max_drop: float | None = Field(
        None, ge=0, description="if the champion now scores this much worse on the holdout than when it was "
                                "registered, the new data is suspect (label errors, assay change): do not promote")
    reference_max_drop: float | None = Field(
        0.02, ge=0, description="on holdout rows from files the champion was trained with (unchanged since), the "
                                "primary metric may drop at most this much; null disables the check")

    @field_validator("metric")
    @classmethod
    def _known(cls, v: str) -> str:
        if v not in HIGHER_IS_BETTER:
            raise ValueError(f"unknown metric {v!r}; one of {', '.join(HIGHER_IS_BETTER)}")
        return v

    @field_validator("secondary")
    @classmethod
    def _known_secondary(cls, v: dict[str, float]) -> dict[str, float]:
        for name, eps in v.items():
            if name not in HIGHER_IS_BETTER:
                raise ValueError(f"unknown secondary metric {name!r}; one of {', '.join(HIGHER_IS_BETTER)}")
            if eps < 0:
                raise ValueError(f"secondary tolerance for {name} must be >= 0")
        return v


class ValidationRules(_Strict):
    max_invalid_fraction: float = Field(0.05, ge=0, le=1, description="share of unparseable SMILES tolerated")
    min_rows: int = Field(20, ge=3)
    label_ranges: dict[str, tuple[float, float]] = Field(default_factory=dict,
                                                         description="regression label column -> [low, high]")
    max_conflicting_duplicates: float = Field(0.05, ge=0, le=1,
                                              description="share of duplicated molecules whose labels disagree")


class RetrainJob(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    data: str = Field(description="a file, or a glob of files that grows over time")
    task_config: str = Field(description="the task config (YAML) the challenger is trained with")
    registry: RegistryRef
    holdout: HoldoutPolicy = HoldoutPolicy()
    promotion: PromotionRule
    validation: ValidationRules = ValidationRules()
    work_dir: str = Field(description="runs, checkpoints, the lock and the job state live here")
    audit_dir: str = Field(description="one JSON audit record and one text summary per run")
    mlflow: str | bool | None = Field(None, description="log the run to MLflow: true or a tracking URI")
    base_dir: Path = Field(Path("."), exclude=True)

    def registry_uri(self) -> str | None:
        """The registry URI with a relative folder resolved against the job file's folder."""
        uri = self.registry.uri
        if uri is None or uri == "mlflow" or uri.startswith(("mlflow:", "file://")):
            return uri
        return str(self.path(uri))

    def path(self, value: str) -> Path:
        p = Path(value).expanduser()
        return p if p.is_absolute() else self.base_dir / p


def load_job(path: str | os.PathLike) -> RetrainJob:
    job = load_yaml_model(path, RetrainJob, "retrain job")
    if job.holdout.policy == "file" and not job.holdout.file:
        raise ConfigError(f"{path}: holdout.policy 'file' needs holdout.file")
    job.base_dir = Path(path).resolve().parent
    return job
