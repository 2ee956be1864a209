"""The rejects file: every input row that could not be used, with its row number and RDKit's reason."""

from __future__ import annotations

import os
from collections.abc import Sequence

import pandas as pd

from gnn_drug.data.atomic import atomic_path
from gnn_drug.data.featurize import Reject


def write_rejects(path: str | os.PathLike, rejects: Sequence[Reject], source: str) -> None:
    """``row`` is 1-based over data rows; ``line`` is the file line (header = line 1) for text tables."""
    frame = pd.DataFrame(
        {
            "source": [source] * len(rejects),
            "row": [r.row + 1 for r in rejects],
            "line": [r.row + 2 for r in rejects],
            "input": [r.smiles for r in rejects],
            "reason": [r.reason for r in rejects],
        }
    )
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)
