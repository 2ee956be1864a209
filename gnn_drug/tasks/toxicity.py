"""Toxicity prediction (Tox21-style multi-task classification): the molecule-property recipe with the
public toxicity datasets as its sources. Kept as its own entry point so its defaults can evolve alone."""

from __future__ import annotations

from gnn_drug.tasks.molecule_property import (
    MoleculePropertyPredictor,
    evaluate_file,
    predict_file,
    train_run,
)

TOXICITY_DATASETS = ("tox21", "toxcast", "clintox", "sider")

__all__ = ["TOXICITY_DATASETS", "MoleculePropertyPredictor", "evaluate_file", "predict_file", "train_run"]
