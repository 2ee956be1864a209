"""Task configuration: strict YAML validation with errors that name the file and the key; overrides."""

from __future__ import annotations

import pytest
import yaml

from gnn_drug.errors import ConfigError
from gnn_drug.tasks.config import dump_config, load_config

MINIMAL = {"data": {"source": "tox21"}}


def write(path, data):
    path.write_text(yaml.safe_dump(data))
    return path


def test_defaults_from_a_minimal_config(tmp_path):
    config = load_config(write(tmp_path / "c.yaml", MINIMAL))
    assert config.task == "toxicity"
    assert config.model.encoder == "dmpnn"
    assert config.split.method == "scaffold" and config.split.sizes == (0.8, 0.1, 0.1)
    assert config.train.seeds == [0]


def test_typo_key_names_file_and_key(tmp_path):
    path = write(tmp_path / "typo.yaml", {"data": {"source": "tox21"}, "train": {"epochz": 3}})
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert str(path) in message
    assert "train.epochz" in message
    assert "\n" not in message


def test_invalid_value_names_the_key(tmp_path):
    path = write(tmp_path / "c.yaml", {"data": {"source": "x"}, "model": {"encoder": "transformer"}})
    with pytest.raises(ConfigError, match="model.encoder"):
        load_config(path)


def test_split_sizes_must_sum_to_one(tmp_path):
    with pytest.raises(ConfigError, match="split.sizes"):
        load_config(write(tmp_path / "c.yaml", {"data": {"source": "x"}, "split": {"sizes": [0.5, 0.1, 0.1]}}))


def test_overrides_apply_dotted_keys_with_yaml_values(tmp_path):
    path = write(tmp_path / "c.yaml", MINIMAL)
    config = load_config(path, ["model.depth=5", "train.seeds=[1, 2]", "featurization.extra_features=[rdkit2d]",
                                "split.method=random"])
    assert config.model.depth == 5
    assert config.train.seeds == [1, 2]
    assert config.featurization.extra_features == ["rdkit2d"]
    assert config.split.method == "random"


def test_override_typo_and_malformed_override(tmp_path):
    path = write(tmp_path / "c.yaml", MINIMAL)
    with pytest.raises(ConfigError, match="model.dept"):
        load_config(path, ["model.dept=5"])
    with pytest.raises(ConfigError, match="key.subkey=value"):
        load_config(path, ["model.depth"])


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="config file not found") as info:
        load_config(tmp_path / "absent.yaml")
    assert "absent.yaml" in str(info.value)


def test_top_level_must_be_a_mapping(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(path)


def test_yaml_syntax_error_is_one_line_naming_file_and_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("task: toxicity\ndata:\n  source: x.csv\n train: {epochs: 2\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert str(path) in message and "line 4" in message
    assert "\n" not in message


def test_dump_and_reload_round_trip(tmp_path):
    config = load_config(raw={"data": {"source": "x.csv", "targets": ["a"]}, "model": {"hidden_dim": 64}})
    path = tmp_path / "resolved.yaml"
    path.write_text(dump_config(config))
    assert load_config(path).model_dump() == config.model_dump()
