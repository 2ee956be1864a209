"""End-to-end molecule-property (toxicity) runs on a 300-molecule Tox21 subset from the mirror: learning, run
directory contents, rejects, prediction round trip, evaluation, resumption, determinism and split reuse."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from gnn_drug.errors import ConfigError, DataError
from gnn_drug.tasks.molecule_property import MoleculePropertyPredictor, evaluate_file, predict_file, train_run
from gnn_drug.tasks.toxicity import TOXICITY_DATASETS
from tests.helpers import INVALID_SMILES, SUBSET_ROWS, make_config, quiet

TOX21_TASKS = ["NR-AR", "NR-AR-LBD", "NR-AhR", "NR-Aromatase", "NR-ER", "NR-ER-LBD", "NR-PPAR-gamma", "SR-ARE",
               "SR-ATAD5", "SR-HSE", "SR-MMP", "SR-p53"]


def read_json(path):
    return json.loads(path.read_text())


def canonical(metrics: dict) -> str:
    """Metrics as canonical JSON text, so that NaN (a single-class task) compares equal to NaN."""
    return json.dumps(metrics, sort_keys=True)


@pytest.fixture(scope="module")
def metrics(trained_run):
    return read_json(trained_run / "metrics.json")


@pytest.fixture(scope="module")
def test_predictions(trained_run):
    return pd.read_csv(trained_run / "test_predictions.csv")


def test_tiny_dmpnn_beats_a_constant_predictor(metrics):
    """A constant predictor scores 0.5 macro ROC-AUC; the tiny model reaches ~0.7 (val) / ~0.8 (test)."""
    print("val", metrics["val"]["roc_auc"], "test", metrics["test"]["roc_auc"])
    assert metrics["val"]["roc_auc"] > 0.6
    assert metrics["test"]["roc_auc"] > 0.6


def test_run_directory_contents(trained_run, metrics):
    for name in ("config.resolved.yaml", "metrics.json", "splits.json", "rejects.csv", "summary.json",
                 "test_predictions.csv", "model/weights.safetensors", "model/model.json", "checkpoints/seed_0.pt"):
        assert (trained_run / name).is_file(), name
    for part in ("val", "test"):
        assert {"roc_auc", "pr_auc", "per_task"} <= set(metrics[part])
        assert set(metrics[part]["per_task"]) == set(TOX21_TASKS)
        assert 0.0 <= metrics[part]["pr_auc"] <= 1.0
    assert metrics["training"][0]["seed"] == 0 and metrics["training"][0]["epochs_run"] == 40


def test_resolved_config_reloads_to_the_run_config(trained_run, tiny_config):
    from gnn_drug.tasks.config import load_config

    assert load_config(trained_run / "config.resolved.yaml").model_dump() == tiny_config.model_dump()


def test_invalid_smiles_is_in_rejects_with_its_row(trained_run):
    rejects = pd.read_csv(trained_run / "rejects.csv")
    bad = rejects[rejects["input"] == INVALID_SMILES]
    assert len(bad) == 1
    assert bad["row"].item() == SUBSET_ROWS + 1  # 1-based data row: it is the 301st row
    assert bad["line"].item() == SUBSET_ROWS + 2  # the header is line 1
    assert "unclosed ring" in bad["reason"].item()


def test_splits_cover_the_valid_rows_once(trained_run, tox21_subset):
    (split,) = read_json(trained_run / "splits.json")
    rows = split["train"] + split["val"] + split["test"]
    rejected = set(pd.read_csv(trained_run / "rejects.csv")["row"] - 1)
    assert len(rows) == len(set(rows))
    assert set(rows) == set(range(SUBSET_ROWS + 1)) - rejected
    assert SUBSET_ROWS not in rows  # the invalid last row
    assert len(split["test"]) == pytest.approx(0.2 * len(rows), abs=1)
    summary = read_json(trained_run / "summary.json")
    assert summary["rows"] == SUBSET_ROWS + 1 and summary["valid"] == len(rows)


def test_test_predictions_hold_the_test_rows_and_their_labels(trained_run, test_predictions, tox21_subset):
    (split,) = read_json(trained_run / "splits.json")
    assert sorted((test_predictions["row"] - 1).tolist()) == sorted(split["test"])
    source = pd.read_csv(tox21_subset)
    rows = test_predictions["row"] - 1
    assert test_predictions["input_smiles"].tolist() == source["smiles"][rows].tolist()
    for task in TOX21_TASKS:
        np.testing.assert_array_equal(test_predictions[f"{task}_true"].to_numpy(), source[task][rows].to_numpy())
        assert test_predictions[task].between(0, 1).all()


def test_model_card_records_data_provenance(trained_run, tox21_subset):
    from gnn_drug.data.registry import sha256_of

    card = read_json(trained_run / "model" / "model.json")
    assert card["targets"] == TOX21_TASKS
    assert card["task_types"] == ["classification"] * 12
    assert card["training_data"]["sha256"] == sha256_of(tox21_subset)
    assert card["training_data"]["rejects"] >= 1
    written = read_json(trained_run / "metrics.json")
    assert card["metrics"]["test"]["roc_auc"] == pytest.approx(written["test"]["roc_auc"])


def test_loaded_predictor_reproduces_test_predictions(trained_run, test_predictions):
    predictor = MoleculePropertyPredictor.load(trained_run)
    result = predictor.predict_smiles(test_predictions["input_smiles"].tolist())
    assert result.featurized.smiles == test_predictions["smiles"].tolist()
    np.testing.assert_allclose(result.mean, test_predictions[TOX21_TASKS].to_numpy(), rtol=1e-5, atol=1e-6)


def test_predict_file_writes_the_same_values(trained_run, test_predictions, tmp_path):
    inputs = tmp_path / "molecules.csv"
    frame = pd.DataFrame({"name": [f"m{i}" for i in range(len(test_predictions))],
                          "SMILES": test_predictions["input_smiles"]})
    frame = pd.concat([frame, pd.DataFrame({"name": ["broken"], "SMILES": ["C(C)(C)(C)(C)C"]})], ignore_index=True)
    frame.to_csv(inputs, index=False)
    out = tmp_path / "pred.csv"
    predict_file(trained_run, inputs, out, smiles_column="SMILES", id_column="name", log=quiet)
    written = pd.read_csv(out)
    assert list(written.columns[:4]) == ["row", "name", "input_smiles", "smiles"]
    assert written["name"].tolist() == frame["name"][:-1].tolist()
    np.testing.assert_allclose(written[TOX21_TASKS].to_numpy(), test_predictions[TOX21_TASKS].to_numpy(),
                               rtol=1e-5, atol=1e-6)
    rejects = pd.read_csv(tmp_path / "pred.rejects.csv")
    assert rejects["row"].tolist() == [len(frame)] and "valence" in rejects["reason"][0].lower()


def test_predict_file_parquet_output(trained_run, test_predictions, tmp_path):
    inputs = tmp_path / "molecules.smi"
    inputs.write_text("\n".join(test_predictions["input_smiles"][:5]) + "\n")
    out = tmp_path / "pred.parquet"
    predict_file(trained_run, inputs, out, log=quiet)
    written = pd.read_parquet(out)
    np.testing.assert_allclose(written[TOX21_TASKS].to_numpy(), test_predictions[TOX21_TASKS][:5].to_numpy(),
                               rtol=1e-5, atol=1e-6)


def test_evaluate_file_on_the_test_molecules_gives_the_test_metrics(trained_run, test_predictions, metrics, tmp_path):
    labelled = test_predictions[["input_smiles", *(f"{t}_true" for t in TOX21_TASKS)]]
    labelled.columns = ["smiles", *TOX21_TASKS]
    path = tmp_path / "labelled.csv"
    labelled.to_csv(path, index=False)
    result = evaluate_file(trained_run, path)
    assert result["molecules"] == len(labelled) and result["rejects"] == 0
    assert result["roc_auc"] == pytest.approx(metrics["test"]["roc_auc"], abs=1e-6)
    assert result["pr_auc"] == pytest.approx(metrics["test"]["pr_auc"], abs=1e-6)


def test_evaluate_file_without_the_label_columns(trained_run, tmp_path):
    path = tmp_path / "unlabelled.csv"
    path.write_text("smiles,other\nCCO,1\n")
    with pytest.raises(DataError, match="not found"):
        evaluate_file(trained_run, path)


def test_finished_run_is_not_overwritten(trained_run, tiny_config):
    with pytest.raises(ConfigError, match="already holds a finished run"):
        train_run(tiny_config, trained_run, log=quiet)


def test_resume_after_interruption_gives_the_uninterrupted_metrics(tiny_config, trained_run, tmp_path):
    out = tmp_path / "interrupted"
    epochs_seen = []

    def interrupt(epoch, record):
        epochs_seen.append(epoch)
        if epoch == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_run(tiny_config, out, log=quiet, on_epoch_end=interrupt)
    assert epochs_seen == [0, 1]
    assert (out / "checkpoints" / "seed_0.pt").is_file()
    assert not (out / "metrics.json").exists()

    epochs_after = []
    metrics = train_run(tiny_config, out, resume=True, log=quiet, on_epoch_end=lambda e, r: epochs_after.append(e))
    assert epochs_after == list(range(2, 40))  # continued, not restarted
    assert canonical(metrics) == canonical(read_json(trained_run / "metrics.json"))
    assert (out / "metrics.json").read_text() == (trained_run / "metrics.json").read_text()
    assert read_json(out / "splits.json") == read_json(trained_run / "splits.json")


def test_same_seed_gives_identical_metrics(tiny_config, trained_run, tmp_path):
    train_run(tiny_config, tmp_path / "again", log=quiet)
    assert (tmp_path / "again" / "metrics.json").read_text() == (trained_run / "metrics.json").read_text()
    again = pd.read_csv(tmp_path / "again" / "test_predictions.csv")
    pd.testing.assert_frame_equal(again, pd.read_csv(trained_run / "test_predictions.csv"))


def test_split_file_reuse_gives_the_same_split(tox21_subset, feature_cache, trained_run, tmp_path):
    config = make_config(
        tox21_subset, feature_cache,
        split={"method": "scaffold", "seed": 7, "split_file": str(trained_run / "splits.json")},
        train={"epochs": 1, "batch_size": 32, "seeds": [0]},
    )
    train_run(config, tmp_path / "reuse", log=quiet)
    assert read_json(tmp_path / "reuse" / "splits.json") == read_json(trained_run / "splits.json")
    # without the file, the scaffold split with seed 7 is a different split
    other = make_config(tox21_subset, feature_cache, split={"method": "scaffold", "seed": 7},
                        train={"epochs": 1, "batch_size": 32, "seeds": [0]})
    train_run(other, tmp_path / "fresh", log=quiet)
    assert read_json(tmp_path / "fresh" / "splits.json") != read_json(trained_run / "splits.json")


def test_regression_run_and_ensemble_on_esol(data_dir, feature_cache, tmp_path):
    frame = pd.read_csv(data_dir / "moleculenet" / "delaney.csv").head(150)
    source = tmp_path / "esol.csv"
    frame.to_csv(source, index=False)
    config = make_config(source, feature_cache, task="property",
                         train={"epochs": 15, "batch_size": 16, "lr": 0.003, "seeds": [0, 1]},
                         featurization={"n_workers": 1, "cache_dir": str(feature_cache),
                                        "extra_features": ["rdkit2d"]})
    metrics = train_run(config, tmp_path / "run", log=quiet)
    assert {"rmse", "mae", "r2", "pearson"} <= set(metrics["test"])
    assert len(metrics["test"]["members"]) == 2
    assert metrics["test"]["rmse"] < frame["logp"].std()  # better than predicting the mean
    preds = pd.read_csv(tmp_path / "run" / "test_predictions.csv")
    assert {"logp", "logp_std", "logp_true"} <= set(preds.columns)
    assert (preds["logp_std"] > 0).all()  # two different members
    predictor = MoleculePropertyPredictor.load(tmp_path / "run")
    result = predictor.predict_smiles(preds["input_smiles"].tolist())
    np.testing.assert_allclose(result.mean[:, 0], preds["logp"], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(result.std[:, 0], preds["logp_std"], rtol=1e-4, atol=1e-5)


def test_registry_name_as_source(data_dir, monkeypatch):
    from gnn_drug.tasks.molecule_property import load_task_table

    monkeypatch.setenv("GNN_DRUG_DATA", str(data_dir))
    config = make_config("clintox", data_dir)
    table, info = load_task_table(config)
    assert info.name == "clintox" and info.licence and "MoleculeNet" in info.licence
    assert len(table) == 1478 and table.targets == ["FDA_APPROVED", "CT_TOX"]
    assert "clintox" in TOXICITY_DATASETS


def test_unknown_source_is_a_data_error(tmp_path, feature_cache):
    config = make_config(tmp_path / "missing.csv", feature_cache)
    with pytest.raises(DataError, match="neither a known dataset"):
        train_run(config, tmp_path / "run", log=quiet)


def test_scaffold_groups_use_the_standardised_parent():
    from gnn_drug.chem import Standardizer
    from gnn_drug.tasks.molecule_property import parent_scaffold

    parent = Standardizer()
    salt = parent_scaffold("[NH3+]CCc1ccc(O)cc1.[Cl-]", "[NH3+]CCc1ccc(O)cc1.[Cl-]", parent)
    free_base = parent_scaffold("NCCc1ccc(O)cc1", "NCCc1ccc(O)cc1", parent)
    assert salt == free_base == "c1ccccc1"
