"""Drug–target binding affinity (Davis, KIBA, any table of compound x protein values): the pair recipe with
proteins as entities. Higher values mean tighter binding (pKd, KIBA score), so rankings put them first."""

from __future__ import annotations

from gnn_drug.tasks.pairs import HIGHER_IS_BETTER as _DIRECTION
from gnn_drug.tasks.pairs import PairPredictor, predict_pairs_file, train_pair_run

AFFINITY_DATASETS = ("davis", "kiba")
HIGHER_IS_BETTER = _DIRECTION["affinity"]

__all__ = ["AFFINITY_DATASETS", "HIGHER_IS_BETTER", "PairPredictor", "predict_pairs_file", "train_pair_run"]
