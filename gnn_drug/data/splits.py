"""Seeded train/validation/test splits: random, scaffold (balanced, as Chemprop's ``scaffold_balanced``),
stratified, cold (whole compounds/entities held out) and published folds;
saved as a Chemprop-compatible JSON so another tool can be run on exactly the same molecules."""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from gnn_drug.data.atomic import atomic_write_text
from gnn_drug.errors import DataError

SPLIT_METHODS = ("random", "scaffold", "stratified", "cold_compound", "cold_entity", "cold_both", "predefined")


@dataclass(frozen=True)
class Split:
    """Indices (into whatever list was split) of the train, validation and test sets."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray

    def to_dict(self) -> dict[str, list[int]]:
        return {"train": self.train.tolist(), "val": self.val.tolist(), "test": self.test.tolist()}

    def map(self, positions: np.ndarray) -> Split:
        """Re-express the split through ``positions`` (e.g. from valid-molecule order to file rows)."""
        return Split(positions[self.train], positions[self.val], positions[self.test])


def _check_sizes(sizes: Sequence[float]) -> tuple[float, float, float]:
    if len(sizes) != 3 or any(s < 0 for s in sizes) or abs(sum(sizes) - 1.0) > 1e-6:
        raise DataError(f"split sizes must be three non-negative fractions summing to 1, got {list(sizes)}")
    return float(sizes[0]), float(sizes[1]), float(sizes[2])


def random_split(n: int, sizes: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0) -> Split:
    train_f, val_f, _ = _check_sizes(sizes)
    order = np.random.default_rng(seed).permutation(n)
    n_train, n_val = int(round(train_f * n)), int(round(val_f * n))
    return Split(np.sort(order[:n_train]), np.sort(order[n_train : n_train + n_val]),
                 np.sort(order[n_train + n_val :]))


def scaffold_split(scaffolds: Sequence[str], sizes: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0) -> Split:
    """Whole scaffold groups go to one set. Groups larger than half the test size go to train first (so the
    test set is not dominated by one big series); the remaining groups are shuffled with ``seed``."""
    train_f, val_f, _ = _check_sizes(sizes)
    n = len(scaffolds)
    groups: dict[str, list[int]] = defaultdict(list)
    for i, scaffold in enumerate(scaffolds):
        groups[scaffold].append(i)
    n_train, n_val = train_f * n, val_f * n
    n_test = max(0.0, n - n_train - n_val) if sizes[2] > 0 else 0.0
    held_out = [size for size in (n_val, n_test) if size > 0]  # a set of size 0 sets no limit
    threshold = min(held_out) / 2 if held_out else float("inf")
    big = [g for g in groups.values() if len(g) > threshold]
    small = [g for g in groups.values() if len(g) <= threshold]
    rng = np.random.default_rng(seed)
    rng.shuffle(big)
    rng.shuffle(small)
    train: list[int] = []
    val: list[int] = []
    test: list[int] = []
    for group in big + small:
        if len(train) + len(group) <= n_train:
            train += group
        elif len(val) + len(group) <= n_val or (n_test == 0 and n_val > 0):
            val += group  # with no test set, what train cannot take goes to validation
        elif n_test > 0:
            test += group
        else:
            train += group
    return Split(np.sort(np.asarray(train, dtype=np.int64)), np.sort(np.asarray(val, dtype=np.int64)),
                 np.sort(np.asarray(test, dtype=np.int64)))


def stratified_split(labels: np.ndarray, sizes: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0) -> Split:
    """Keep the active fraction equal across sets; strata are the first label column (missing = own stratum)."""
    train_f, val_f, _ = _check_sizes(sizes)
    y = labels[:, 0] if labels.ndim == 2 else labels
    strata = np.where(np.isnan(y), -1, y).astype(np.int64)
    rng = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {"train": [], "val": [], "test": []}
    for value in np.unique(strata):
        idx = rng.permutation(np.flatnonzero(strata == value))
        n_train, n_val = int(round(train_f * len(idx))), int(round(val_f * len(idx)))
        parts["train"].append(idx[:n_train])
        parts["val"].append(idx[n_train : n_train + n_val])
        parts["test"].append(idx[n_train + n_val :])
    return Split(*(np.sort(np.concatenate(parts[k])) for k in ("train", "val", "test")))


def _assign_groups(groups: np.ndarray, sizes: tuple[float, float, float], rng: np.random.Generator) -> np.ndarray:
    """Set (0 train, 1 val, 2 test) of each distinct group value, filling val and test to their share of the
    items (not of the groups) in a seeded random order."""
    values, counts = np.unique(groups, return_counts=True)
    order = rng.permutation(len(values))
    target = np.array(sizes) * len(groups)
    filled = np.zeros(3)
    assigned = np.zeros(len(values), dtype=np.int64)
    for g in order:
        for part in (2, 1):
            if target[part] > 0 and filled[part] + counts[g] / 2 <= target[part]:
                assigned[g] = part
                filled[part] += counts[g]
                break
        else:
            filled[0] += counts[g]
    lookup = dict(zip(values.tolist(), assigned.tolist(), strict=True))
    return np.fromiter((lookup[v] for v in groups.tolist()), np.int64, len(groups))


def cold_split(groups: Sequence, sizes: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0) -> Split:
    """Every group (a compound, a protein, a cell line) lies wholly in one set: the test pairs involve only
    compounds (or entities) never seen in training."""
    part = _assign_groups(np.asarray(groups), _check_sizes(sizes), np.random.default_rng(seed))
    return Split(*(np.flatnonzero(part == k) for k in range(3)))


def cold_both_split(compounds: Sequence, entities: Sequence, sizes: Sequence[float] = (0.8, 0.1, 0.1),
                    seed: int = 0) -> tuple[Split, int]:
    """Compounds and entities are each assigned to a set with ``sizes``; a pair is kept only where both agree,
    so validation and test pairs share neither compound nor entity with training. Returns the split and the
    number of pairs discarded (those that mix sets)."""
    rng = np.random.default_rng(seed)
    checked = _check_sizes(sizes)
    comp = _assign_groups(np.asarray(compounds), checked, rng)
    ent = _assign_groups(np.asarray(entities), checked, rng)
    agree = comp == ent
    split = Split(*(np.flatnonzero(agree & (comp == k)) for k in range(3)))
    return split, int((~agree).sum())


def predefined_split(train_folds: Sequence[np.ndarray], test: np.ndarray, val_fold: int = 0) -> Split:
    """A published split (e.g. DeepDTA's setting 1): one training fold becomes the validation set, so model
    selection never sees the test set."""
    if not 0 <= val_fold < len(train_folds):
        raise DataError(f"validation fold {val_fold} does not exist; the dataset has {len(train_folds)} folds")
    train = [f for i, f in enumerate(train_folds) if i != val_fold]
    return Split(np.sort(np.concatenate(train)) if train else np.zeros(0, np.int64),
                 np.sort(np.asarray(train_folds[val_fold], dtype=np.int64)), np.sort(np.asarray(test, np.int64)))


def save_split(split: Split, path: str | os.PathLike) -> None:
    """Write Chemprop's ``--splits-file`` layout: a JSON list holding one {train, val, test} dict."""
    atomic_write_text(path, json.dumps([split.to_dict()]))


def load_split(path: str | os.PathLike, n_rows: int | None = None) -> Split:
    """Read a split written by :func:`save_split` (or a bare {train, val, test} dict)."""
    try:
        data = json.loads(open(path).read())
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: cannot read split file: {exc}") from None
    if isinstance(data, list):
        if len(data) != 1:
            raise DataError(f"{path}: expected one split, found {len(data)}")
        data = data[0]
    if not isinstance(data, dict) or not {"train", "val", "test"} <= set(data):
        raise DataError(f"{path}: a split file needs 'train', 'val' and 'test' lists")
    split = Split(*(np.asarray(data[k], dtype=np.int64) for k in ("train", "val", "test")))
    everything = np.concatenate([split.train, split.val, split.test])
    if len(np.unique(everything)) != len(everything):
        raise DataError(f"{path}: a row appears in more than one set")
    if n_rows is not None and everything.size and (everything.min() < 0 or everything.max() >= n_rows):
        raise DataError(f"{path}: row indices must lie in 0..{n_rows - 1}")
    return split


def load_split_for_rows(path: str | os.PathLike, rows: np.ndarray, n_rows: int | None = None) -> tuple[Split, int]:
    """A split file of input rows, re-expressed as positions into ``rows`` (the rows that could be used); also
    returns how many listed rows are not usable (rejected input)."""
    file_split = load_split(path, n_rows)
    position = {int(r): i for i, r in enumerate(rows)}
    parts, dropped = [], 0
    for part in (file_split.train, file_split.val, file_split.test):
        kept = [position[int(r)] for r in part if int(r) in position]
        dropped += len(part) - len(kept)
        parts.append(np.asarray(kept, dtype=np.int64))
    return Split(*parts), dropped
