"""Cancer drug response (GDSC ln IC50 and friends): the pair recipe with cell lines as entities, described by
numeric genomic profiles (mutation, copy number, expression). Lower IC50 means a more sensitive cell line, so
rankings put low values first."""

from __future__ import annotations

from gnn_drug.tasks.pairs import HIGHER_IS_BETTER as _DIRECTION
from gnn_drug.tasks.pairs import PairPredictor, predict_pairs_file, train_pair_run

HIGHER_IS_BETTER = _DIRECTION["response"]

__all__ = ["HIGHER_IS_BETTER", "PairPredictor", "predict_pairs_file", "train_pair_run"]
