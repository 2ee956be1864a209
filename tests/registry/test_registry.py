"""Both registry backends behave the same: versions, aliases, promotion, rollback, refusal of tampered models."""

from __future__ import annotations

import json

import pytest
import torch

from gnn_drug.errors import ModelFileError, RegistryError
from gnn_drug.registry import CHALLENGER, CHAMPION, open_registry, parse_model_ref, resolve_model_dir
from gnn_drug.train.model_files import WEIGHTS_FILE, load_model_dir, save_model_dir


def _model(folder, value: float):
    return save_model_dir(folder, {"w": torch.full((3,), value)}, {"task": "toxicity", "targets": ["a"]})


@pytest.fixture(params=["local", "mlflow"])
def registry(request, tmp_path):
    if request.param == "local":
        return open_registry(tmp_path / "registry")
    pytest.importorskip("mlflow")
    return open_registry(f"mlflow:sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}")


def test_versions_are_numbered_and_immutable_copies(registry, tmp_path):
    first = registry.register("tox", _model(tmp_path / "m1", 1.0), data_fingerprint="fp1",
                              metrics={"test": {"roc_auc": 0.8}})
    second = registry.register("tox", _model(tmp_path / "m2", 2.0), data_fingerprint="fp2")
    assert (first.version, second.version) == (1, 2)
    assert registry.models() == ["tox"]
    listed = registry.versions("tox")
    assert [v.version for v in listed] == [1, 2]
    assert listed[0].data_fingerprint == "fp1" and listed[0].metrics == {"test": {"roc_auc": 0.8}}
    # the source folder can change or vanish; the registered copy does not
    (tmp_path / "m1" / WEIGHTS_FILE).unlink()
    tensors, _ = load_model_dir(registry.get("tox", 1).path)
    assert torch.equal(tensors["w"], torch.full((3,), 1.0))


def test_promote_and_rollback_walk_the_champion_history(registry, tmp_path):
    for k in range(3):
        registry.register("tox", _model(tmp_path / f"m{k}", float(k)))
    with pytest.raises(RegistryError, match="no 'champion' version"):
        registry.get("tox")
    registry.promote("tox", 1)
    registry.set_alias("tox", CHALLENGER, 2)
    assert registry.aliases("tox") == {CHAMPION: 1, CHALLENGER: 2}
    assert registry.promote("tox") == 2  # default: the challenger
    assert registry.aliases("tox") == {CHAMPION: 2}
    registry.promote("tox", 3)
    assert registry.get("tox").version == 3 and registry.get("tox").aliases == [CHAMPION]
    assert registry.rollback("tox") == 2
    assert registry.rollback("tox") == 1
    with pytest.raises(RegistryError, match="no earlier champion"):
        registry.rollback("tox")
    assert registry.rollback("tox", 3) == 3
    actions = [e["action"] for e in registry.events("tox")]
    assert actions.count("register") == 3 and actions.count("rollback") == 3


def test_unknown_names_versions_and_aliases_are_explained(registry, tmp_path):
    with pytest.raises(RegistryError, match="no model named 'nope'"):
        registry.get("nope")
    registry.register("tox", _model(tmp_path / "m", 0.0))
    with pytest.raises(RegistryError, match="has no version 7"):
        registry.promote("tox", 7)
    with pytest.raises(RegistryError, match="model name"):
        registry.register("bad name!", tmp_path / "m")


def test_tampered_model_cannot_be_registered_or_loaded(registry, tmp_path):
    model = _model(tmp_path / "m", 0.5)
    weights = model / WEIGHTS_FILE
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0x01
    weights.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="checksum"):
        registry.register("tox", model)
    assert registry.versions("tox") == []


def test_registry_references_resolve_to_model_dirs(tmp_path):
    registry = open_registry(tmp_path / "reg")
    registry.register("tox", _model(tmp_path / "m1", 1.0), alias=CHAMPION)
    registry.register("tox", _model(tmp_path / "m2", 2.0), alias=CHALLENGER)
    assert parse_model_ref("registry:tox@challenger") == ("tox", "challenger")
    assert parse_model_ref("runs/tox") is None
    champion = resolve_model_dir("registry:tox", tmp_path / "reg")
    assert json.loads((champion / "model.json").read_text())["targets"] == ["a"]
    assert resolve_model_dir("registry:tox@2", tmp_path / "reg") == resolve_model_dir("registry:tox@challenger",
                                                                                       tmp_path / "reg")
    assert resolve_model_dir(tmp_path / "m1") == tmp_path / "m1"


def test_local_registry_leaves_no_staging_folder_when_copy_fails(tmp_path, monkeypatch):
    import shutil

    registry = open_registry(tmp_path / "reg")
    model = _model(tmp_path / "m", 1.0)

    def broken_copy(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(shutil, "copytree", broken_copy)
    with pytest.raises(OSError, match="disk full"):
        registry.register("tox", model)
    assert list((tmp_path / "reg" / "tox" / "versions").iterdir()) == []
