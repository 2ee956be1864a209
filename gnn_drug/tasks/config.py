"""Task configuration as data: YAML validated by pydantic, with dotted ``key=value`` overrides from the CLI."""

from __future__ import annotations

import os
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, PositiveInt, ValidationError, field_validator

from gnn_drug.errors import ConfigError
from gnn_drug.yaml_files import read_yaml_mapping, validation_message


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CompoundTableConfig(_Strict):
    file: str
    id_column: str
    smiles_column: str = "smiles"


class EntityTableConfig(_Strict):
    file: str
    id_column: str
    sequence_column: str | None = Field(None, description="protein sequences; omit for numeric feature tables")
    columns: list[str] | None = Field(None, description="feature columns (default: every numeric column)")
    prefix: str = ""


class PairsConfig(_Strict):
    """How a long table of (compound, entity, value) rows is laid out; registry pair datasets need none."""

    compound_column: str = "compound"
    entity_column: str = "target"
    value_column: str = "value"
    smiles_column: str | None = Field(None, description="SMILES column of the pair table, if it has one")
    sequence_column: str | None = Field(None, description="protein sequence column of the pair table")
    compounds: CompoundTableConfig | None = None
    entities: list[EntityTableConfig] = []
    transform: Literal["none", "pkd_from_nm", "neg_log10_molar", "log10", "ln"] | None = None
    value_name: str | None = Field(None, description="name of the modelled value (default: pKd after pkd_from_nm, "
                                                     "else the value column)")


class DataConfig(_Strict):
    source: str = Field(description="registry dataset name (e.g. tox21) or a path to a CSV/TSV/Parquet file")
    smiles_column: str | None = None
    targets: list[str] | None = None
    task_types: dict[str, Literal["classification", "regression"]] | Literal[
        "classification", "regression"] | None = None
    id_column: str | None = None
    units: dict[str, str] = Field(default_factory=dict, description="unit of each label column, e.g. pKd, log mol/L")
    pairs: PairsConfig | None = None


class SplitConfig(_Strict):
    method: Literal["random", "scaffold", "stratified", "cold_compound", "cold_entity", "cold_both",
                    "predefined"] = "scaffold"
    sizes: tuple[float, float, float] = (0.8, 0.1, 0.1)
    seed: int = 0
    val_fold: int = Field(0, ge=0, description="predefined folds: the training fold used for validation")
    split_file: str | None = None

    @field_validator("sizes")
    @classmethod
    def _sum_to_one(cls, v: tuple[float, float, float]) -> tuple[float, float, float]:
        if any(x < 0 for x in v) or abs(sum(v) - 1) > 1e-6:
            raise ValueError("split sizes must be non-negative and sum to 1")
        return v


class StandardizeConfig(_Strict):
    cleanup: bool = True
    largest_fragment: bool = True
    uncharge: bool = True
    canonical_tautomer: bool = False


class FeaturizationConfig(_Strict):
    standardize: StandardizeConfig = StandardizeConfig()
    extra_features: list[Literal["morgan", "morgan_count", "rdkit2d"]] = []
    n_workers: int = Field(2, ge=1)
    cache: bool = True
    cache_dir: str | None = None


class EntityEncoderConfig(_Strict):
    """Encoder of the non-compound side of a pair: a protein sequence CNN, k-mer composition MLP, or an MLP /
    1D CNN over a numeric profile (cell lines)."""

    kind: Literal["cnn", "kmer", "mlp", "profile_cnn"] | None = Field(
        None, description="default: kmer for proteins, mlp for numeric profiles")
    max_length: int = Field(1000, ge=8, description="sequence CNN: residues kept (C-terminus truncated)")
    embed_dim: int = Field(128, ge=4)
    channels: list[int] = Field(default_factory=lambda: [32, 64, 96])
    kernel_size: int = Field(8, ge=1)
    hidden_dim: int = Field(512, ge=8)
    layers: int = Field(2, ge=1)
    out_dim: int = Field(128, ge=4)
    dropout: float = Field(0.0, ge=0.0, lt=1.0)


class ModelConfig(_Strict):
    encoder: Literal["dmpnn", "gine", "attentivefp"] = "dmpnn"
    hidden_dim: int = Field(300, ge=8)
    depth: int = Field(3, ge=1)
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    readout: Literal["mean", "sum", "max", "mean_max"] = "mean"
    head_hidden_dim: int = Field(300, ge=8)
    head_layers: int = Field(2, ge=1)
    entity: EntityEncoderConfig = EntityEncoderConfig()
    fusion: Literal["concat", "product"] = Field("concat", description="pair models: how the two vectors meet")
    fusion_dim: int = Field(128, ge=4)
    embed_known: bool = Field(False, description="pair models: also learn a vector per training compound and "
                                                 "entity (zero for new ones, which are scored from features alone)")
    neighbour_evidence: bool = Field(False, description="pair models: also read what the training measurements "
                                                        "of each pair's nearest compounds and entities say")
    neighbour_ks: list[PositiveInt] = Field(default_factory=lambda: [3, 10, 30], min_length=1,
                                    description="neighbour counts of the neighbour evidence")
    evidence_share: float = Field(1.0, gt=0.0, le=1.0,
                                  description="share of the ensemble's members that read the neighbour evidence; "
                                              "the others learn from structure and sequence alone, and the two "
                                              "kinds err differently")
    factorization: bool = Field(False, description="pair models: blend the networks with a biased matrix "
                                                   "factorisation of the training pairs (known items only), its "
                                                   "share chosen on validation pairs")
    factorization_rank: int = Field(50, ge=1, description="latent factors per compound and entity")
    factorization_l2: list[PositiveFloat] = Field(default_factory=lambda: [1.0, 2.0, 4.0, 8.0], min_length=1,
                                                  description="ridge weights tried (on standardised values); "
                                                              "the best on validation is kept")
    factorization_sweeps: int = Field(30, ge=1, description="alternating least-squares sweeps (the best on "
                                                            "validation is kept)")
    factorization_refit: bool = Field(True, description="once its ridge weight, sweeps and blend shares are "
                                                        "chosen, refit the factorisation on the training and "
                                                        "validation pairs of known items")


class TrainConfig(_Strict):
    epochs: int = Field(50, ge=1)
    batch_size: int = Field(50, ge=2)
    lr: float = Field(1e-3, gt=0)
    warmup_epochs: float = Field(2.0, ge=0)
    init_lr_ratio: float = Field(0.1, gt=0, le=1)
    final_lr_ratio: float = Field(0.1, gt=0, le=1)
    weight_decay: float = Field(0.0, ge=0)
    patience: int = Field(20, ge=1)
    class_weighting: bool = False
    grad_clip: float = Field(10.0, ge=0)
    device: str = "cpu"
    selection: Literal["metric", "loss"] = Field(
        "metric", description="model selection / early stopping on the validation metric or validation loss")
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)


class TaskConfig(_Strict):
    task: Literal["toxicity", "property", "affinity", "response"] = "toxicity"
    data: DataConfig
    split: SplitConfig = SplitConfig()
    featurization: FeaturizationConfig = FeaturizationConfig()
    model: ModelConfig = ModelConfig()
    train: TrainConfig = TrainConfig()
    search: dict | None = Field(None, description="Optuna search space, used by `gnn-drug tune`")


def apply_override(raw: dict, assignment: str) -> None:
    """Set ``section.key=value`` (the value read as YAML) in a raw config mapping."""
    if "=" not in assignment:
        raise ConfigError(f"override {assignment!r} must look like key.subkey=value")
    key, value = assignment.split("=", 1)
    node = raw
    parts = key.strip().split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"override {assignment!r}: {part!r} is not a section")
    node[parts[-1]] = yaml.safe_load(value)


def load_config(path: str | os.PathLike | None = None, overrides: list[str] | None = None,
                raw: dict | None = None) -> TaskConfig:
    """Load YAML (or a dict), apply overrides, validate; errors name the file and the offending key."""
    source = str(path) if path else "config"
    if raw is None:
        if path is None:
            raise ConfigError("no configuration given")
        raw = read_yaml_mapping(path, "config file")
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the top level must be a mapping")
    for assignment in overrides or []:
        apply_override(raw, assignment)
    try:
        return TaskConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{source}: invalid configuration — {validation_message(exc)}") from None


def dump_config(config: TaskConfig) -> str:
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)
