"""Model directories (safetensors + checksummed card) and checkpoints loaded with weights_only."""

from __future__ import annotations

import json

import pytest
import torch

from gnn_drug.errors import ModelFileError
from gnn_drug.train.checkpoint import load_checkpoint, save_checkpoint
from gnn_drug.train.model_files import (
    CARD_FILE,
    CHECKSUMS_FILE,
    SCHEMA_VERSION,
    WEIGHTS_FILE,
    load_model_dir,
    save_model_dir,
)


@pytest.fixture
def tensors():
    torch.manual_seed(0)
    return {"layer.weight": torch.randn(4, 3), "layer.bias": torch.randn(4), "count": torch.tensor([7])}


@pytest.fixture
def model_dir(tmp_path, tensors):
    return save_model_dir(tmp_path / "model", tensors, {"task": "toxicity", "targets": ["a", "b"]})


def test_save_load_round_trip(model_dir, tensors):
    loaded, card = load_model_dir(model_dir)
    assert set(loaded) == set(tensors)
    for name, value in tensors.items():
        assert torch.equal(loaded[name], value)
    assert card["schema_version"] == SCHEMA_VERSION
    assert card["targets"] == ["a", "b"] and card["task"] == "toxicity"
    assert set(card["files"]) == {WEIGHTS_FILE}
    assert {"gnn_drug", "torch", "rdkit"} <= set(card["package_versions"])


def test_one_changed_byte_in_the_weights_is_detected(model_dir):
    weights = model_dir / WEIGHTS_FILE
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0x01  # flips one bit of the last tensor value; still a valid safetensors file
    weights.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="checksum"):
        load_model_dir(model_dir)


def test_one_changed_byte_in_the_card_is_detected(model_dir):
    card_path = model_dir / CARD_FILE
    text = card_path.read_text()
    card_path.write_text(text.replace('"toxicity"', '"toxicitz"'))  # still valid JSON, one byte different
    with pytest.raises(ModelFileError, match="checksum mismatch"):
        load_model_dir(model_dir)


def test_checksums_file_is_sha256sum_format_and_required(model_dir):
    import hashlib

    lines = (model_dir / CHECKSUMS_FILE).read_text().splitlines()
    sums = dict(reversed(line.split("  ")) for line in lines)
    assert set(sums) == {CARD_FILE, WEIGHTS_FILE}
    assert sums[CARD_FILE] == hashlib.sha256((model_dir / CARD_FILE).read_bytes()).hexdigest()
    (model_dir / CHECKSUMS_FILE).unlink()
    with pytest.raises(ModelFileError, match="unverifiable"):
        load_model_dir(model_dir)


def test_other_schema_version_names_both_versions(model_dir):
    card_path = model_dir / CARD_FILE
    card = json.loads(card_path.read_text())
    card["schema_version"] = SCHEMA_VERSION + 1
    card_path.write_text(json.dumps(card))
    with pytest.raises(ModelFileError) as info:
        load_model_dir(model_dir)
    message = str(info.value)
    assert f"schema version {SCHEMA_VERSION + 1}" in message
    assert f"reads schema version {SCHEMA_VERSION}" in message


def test_missing_or_broken_card(tmp_path, model_dir):
    with pytest.raises(ModelFileError, match="not a gnn-drug model directory"):
        load_model_dir(tmp_path / "elsewhere")
    (model_dir / CARD_FILE).write_text("{not json")
    with pytest.raises(ModelFileError, match="not valid JSON"):
        load_model_dir(model_dir)


def test_missing_weights_file(model_dir):
    (model_dir / WEIGHTS_FILE).unlink()
    with pytest.raises(ModelFileError, match="missing"):
        load_model_dir(model_dir)


def test_checkpoint_round_trip(tmp_path, tensors):
    state = {"model": tensors, "epoch": 3, "best_score": float("-inf"), "history": [{"epoch": 1, "loss": 0.5}],
             "rng": torch.get_rng_state()}
    path = tmp_path / "ckpt" / "seed_0.pt"
    save_checkpoint(state, path)
    loaded = load_checkpoint(path)
    assert loaded["epoch"] == 3 and loaded["best_score"] == float("-inf")
    assert loaded["history"] == [{"epoch": 1, "loss": 0.5}]
    assert torch.equal(loaded["model"]["layer.weight"], tensors["layer.weight"])
    assert [p.name for p in path.parent.iterdir()] == ["seed_0.pt"]


class Payload:
    """An arbitrary object; unpickling it would run ``touch`` via its reducer."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_checkpoint_with_arbitrary_python_object_is_refused(tmp_path):
    marker = tmp_path / "unpickled"
    path = tmp_path / "evil.pt"
    torch.save({"model": {}, "payload": Payload(marker)}, path)
    with pytest.raises(ModelFileError, match="cannot load checkpoint safely"):
        load_checkpoint(path)
    assert not marker.exists()


def test_missing_checkpoint(tmp_path):
    with pytest.raises(ModelFileError, match="not found"):
        load_checkpoint(tmp_path / "none.pt")


def test_checkpoint_write_removes_temporaries_of_a_killed_writer(tmp_path, tensors):
    path = tmp_path / "ckpt" / "seed_0.pt"
    path.parent.mkdir()
    stale = path.parent / ".seed_0.pt.x1y2z3.tmp"
    stale.write_bytes(b"half a checkpoint")
    other = path.parent / ".seed_1.pt.abc.tmp"  # another file's temporary is not touched
    other.write_bytes(b"")
    save_checkpoint({"model": tensors, "epoch": 0}, path)
    assert not stale.exists() and other.exists() and load_checkpoint(path)["epoch"] == 0
