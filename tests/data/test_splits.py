"""Random, scaffold and stratified splits; the Chemprop-format split file."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gnn_drug.chem import Standardizer, murcko_scaffold
from gnn_drug.data.splits import (
    Split,
    load_split,
    random_split,
    save_split,
    scaffold_split,
    stratified_split,
)
from gnn_drug.errors import DataError


def assert_partition(split: Split, n: int) -> None:
    parts = [set(split.train.tolist()), set(split.val.tolist()), set(split.test.tolist())]
    assert not parts[0] & parts[1] and not parts[0] & parts[2] and not parts[1] & parts[2]
    assert parts[0] | parts[1] | parts[2] == set(range(n))
    assert sum(len(p) for p in (split.train, split.val, split.test)) == n


def same(a: Split, b: Split) -> bool:
    return all(np.array_equal(x, y) for x, y in ((a.train, b.train), (a.val, b.val), (a.test, b.test)))


@pytest.mark.parametrize(("n", "sizes", "expected"), [(100, (0.8, 0.1, 0.1), (80, 10, 10)),
                                                       (10, (0.6, 0.2, 0.2), (6, 2, 2)),
                                                       (7, (1.0, 0.0, 0.0), (7, 0, 0))])
def test_random_split_sizes_and_partition(n, sizes, expected):
    split = random_split(n, sizes, seed=3)
    assert (len(split.train), len(split.val), len(split.test)) == expected
    assert_partition(split, n)


def test_random_split_is_deterministic_per_seed_and_differs_across_seeds():
    assert same(random_split(200, seed=1), random_split(200, seed=1))
    assert not same(random_split(200, seed=1), random_split(200, seed=2))


@pytest.mark.parametrize("sizes", [(0.8, 0.1), (0.5, 0.5, 0.5), (1.2, -0.1, -0.1)])
def test_bad_sizes_are_refused(sizes):
    with pytest.raises(DataError, match="split sizes"):
        random_split(10, sizes)


def test_stratified_split_keeps_the_active_fraction():
    labels = np.array([1.0] * 20 + [0.0] * 80 + [np.nan] * 10).reshape(-1, 1)
    split = stratified_split(labels, (0.8, 0.1, 0.1), seed=0)
    assert_partition(split, 110)
    assert (len(split.train), len(split.val), len(split.test)) == (88, 11, 11)
    for part, actives, missing in ((split.train, 16, 8), (split.val, 2, 1), (split.test, 2, 1)):
        assert int(np.nansum(labels[part, 0])) == actives
        assert int(np.isnan(labels[part, 0]).sum()) == missing
    assert same(split, stratified_split(labels, seed=0))
    assert not same(split, stratified_split(labels, seed=1))


def test_scaffold_split_keeps_groups_whole_on_synthetic_scaffolds():
    scaffolds = [f"s{i % 23}" for i in range(230)] + [""] * 30
    split = scaffold_split(scaffolds, (0.8, 0.1, 0.1), seed=0)
    assert_partition(split, len(scaffolds))
    groups = [{scaffolds[i] for i in part} for part in (split.train, split.val, split.test)]
    assert not groups[0] & groups[1] and not groups[0] & groups[2] and not groups[1] & groups[2]
    assert len(split.train) <= 0.8 * len(scaffolds)


def test_scaffold_split_puts_large_scaffold_groups_in_train():
    """Groups bigger than half the validation/test size go to train first, whatever the seed."""
    scaffolds = ["big"] * 30 + ["mid"] * 12 + [f"single{i}" for i in range(58)]
    for seed in range(5):
        split = scaffold_split(scaffolds, (0.8, 0.1, 0.1), seed=seed)
        train = {scaffolds[i] for i in split.train}
        assert {"big", "mid"} <= train
        assert (len(split.train), len(split.val), len(split.test)) == (80, 10, 10)


@pytest.fixture(scope="module")
def clintox_scaffolds(clintox_smiles) -> list[str]:
    std = Standardizer()
    scaffolds = []
    for smiles in clintox_smiles:
        try:
            scaffolds.append(murcko_scaffold(std(smiles).mol))
        except ValueError:
            continue
    return scaffolds


def test_scaffold_split_of_clintox_shares_no_scaffold(clintox_scaffolds):
    n = len(clintox_scaffolds)
    assert n > 1400
    split = scaffold_split(clintox_scaffolds, (0.8, 0.1, 0.1), seed=0)
    assert_partition(split, n)
    train, val, test = ({clintox_scaffolds[i] for i in part} for part in (split.train, split.val, split.test))
    assert not train & test
    assert not train & val
    assert not val & test
    # sizes close to the request (whole groups move, so not exact)
    assert abs(len(split.train) - 0.8 * n) < 0.05 * n
    assert len(split.val) > 0.05 * n and len(split.test) > 0.05 * n


def test_scaffold_split_seeds(clintox_scaffolds):
    a = scaffold_split(clintox_scaffolds, seed=0)
    assert same(a, scaffold_split(clintox_scaffolds, seed=0))
    assert not same(a, scaffold_split(clintox_scaffolds, seed=1))


def test_save_and_load_split_in_chemprop_format(tmp_path):
    split = random_split(50, seed=0)
    path = tmp_path / "splits.json"
    save_split(split, path)
    data = json.loads(path.read_text())
    assert isinstance(data, list) and len(data) == 1
    assert set(data[0]) == {"train", "val", "test"}
    assert data[0]["test"] == split.test.tolist()
    assert same(load_split(path, n_rows=50), split)


def test_load_split_accepts_a_bare_dict(tmp_path):
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"train": [0, 1], "val": [2], "test": [3]}))
    split = load_split(path)
    assert split.train.tolist() == [0, 1] and split.val.tolist() == [2] and split.test.tolist() == [3]


def test_load_split_rejects_overlapping_sets(tmp_path):
    path = tmp_path / "s.json"
    path.write_text(json.dumps([{"train": [0, 1, 2], "val": [2], "test": [3]}]))
    with pytest.raises(DataError, match="more than one set"):
        load_split(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('[{"train": [0], "val": [1]}]', "needs 'train', 'val' and 'test'"),
        ('[{"train": [0], "val": [1], "test": [2]}, {"train": [0], "val": [1], "test": [2]}]', "expected one split"),
        ("not json", "cannot read split file"),
        ('[{"train": [0], "val": [1], "test": [9]}]', "row indices must lie in 0..4"),
    ],
)
def test_load_split_errors(tmp_path, content, message):
    path = tmp_path / "s.json"
    path.write_text(content)
    with pytest.raises(DataError, match=message):
        load_split(path, n_rows=5)


def test_split_map_re_expresses_indices():
    split = Split(np.array([0, 2]), np.array([1]), np.array([3]))
    mapped = split.map(np.array([10, 11, 13, 17]))
    assert mapped.train.tolist() == [10, 13] and mapped.val.tolist() == [11] and mapped.test.tolist() == [17]


def test_scaffold_split_without_test_set_puts_everything_in_train_or_val():
    from gnn_drug.data.splits import scaffold_split

    scaffolds = ["c1ccccc1"] * 40 + [""] * 35 + [f"s{i}" for i in range(25)]
    split = scaffold_split(scaffolds, (0.9, 0.1, 0.0), seed=0)
    assert len(split.test) == 0 and len(split.val) > 0
    assert len(split.train) + len(split.val) == 100
    everything_train = scaffold_split(scaffolds, (1.0, 0.0, 0.0), seed=0)
    assert len(everything_train.train) == 100


def test_cold_split_keeps_every_group_on_one_side():
    from gnn_drug.data.splits import cold_split

    groups = np.repeat(np.arange(50), np.random.default_rng(1).integers(1, 20, 50))
    split = cold_split(groups, (0.8, 0.1, 0.1), seed=3)
    sides = [set(groups[part].tolist()) for part in (split.train, split.val, split.test)]
    assert not (sides[0] & sides[1] or sides[0] & sides[2] or sides[1] & sides[2])
    assert len(split.train) + len(split.val) + len(split.test) == len(groups)
    assert 0.03 < len(split.test) / len(groups) < 0.2
    again = cold_split(groups, (0.8, 0.1, 0.1), seed=3)
    assert np.array_equal(again.test, split.test)


def test_cold_both_split_shares_neither_side_with_training():
    from gnn_drug.data.splits import cold_both_split

    rng = np.random.default_rng(0)
    compounds, entities = rng.integers(0, 40, 3000), rng.integers(0, 30, 3000)
    split, discarded = cold_both_split(compounds, entities, (0.6, 0.2, 0.2), seed=0)
    for held in (split.val, split.test):
        assert not set(compounds[held]) & set(compounds[split.train])
        assert not set(entities[held]) & set(entities[split.train])
    assert len(split.test) > 0 and discarded == 3000 - sum(len(p) for p in (split.train, split.val, split.test))


def test_predefined_split_validates_on_a_training_fold_never_the_test_fold():
    from gnn_drug.data.splits import predefined_split

    folds = [np.arange(i * 10, i * 10 + 10) for i in range(3)]
    split = predefined_split(folds, np.arange(30, 35), val_fold=1)
    assert split.val.tolist() == list(range(10, 20))
    assert split.train.tolist() == list(range(0, 10)) + list(range(20, 30))
    assert split.test.tolist() == list(range(30, 35))
    with pytest.raises(DataError, match="fold 3"):
        predefined_split(folds, np.arange(30, 35), val_fold=3)
