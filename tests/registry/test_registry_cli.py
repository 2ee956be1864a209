"""``gnn-drug registry …``, ``predict registry:NAME`` and MLflow logging of ``train`` from the command line."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from gnn_drug.cli import app
from gnn_drug.registry import open_registry
from tests.helpers import tiny_raw_config

runner = CliRunner()


def test_registry_commands_and_predict_from_the_champion(trained_run, tmp_path, tox21_subset):
    uri = str(tmp_path / "registry")
    registry = open_registry(uri)
    registry.register("tox21", trained_run / "model", data_fingerprint="a", metrics={"test": {"roc_auc": 0.7}})
    registry.register("tox21", trained_run / "model", data_fingerprint="b", metrics={"test": {"roc_auc": 0.72}})

    result = runner.invoke(app, ["registry", "promote", "tox21", "1", "--registry", uri])
    assert result.exit_code == 0 and "champion is now version 1" in result.stdout
    result = runner.invoke(app, ["registry", "promote", "tox21", "2"], env={"GNN_DRUG_REGISTRY": uri})
    assert result.exit_code == 0 and "version 2" in result.stdout
    listing = runner.invoke(app, ["registry", "list", "--registry", uri]).stdout
    assert "tox21" in listing and "2 version(s)" in listing and "champion=v2" in listing
    versions = runner.invoke(app, ["registry", "list", "tox21", "--registry", uri]).stdout.splitlines()
    assert versions[1].startswith("v2") and "champion" in versions[1] and "roc_auc=0.7200" in versions[1]
    shown = json.loads(runner.invoke(app, ["registry", "show", "tox21", "--registry", uri]).stdout)
    assert shown["version"] == 2 and shown["aliases"] == ["champion"]
    assert shown["card"]["targets"][:2] == ["NR-AR", "NR-AR-LBD"] and shown["card"]["schema_version"] == 2
    assert shown["card"]["units"]["NR-AR"] == "probability"
    result = runner.invoke(app, ["registry", "rollback", "tox21", "--registry", uri])
    assert result.exit_code == 0 and "champion is now version 1" in result.stdout

    molecules = tmp_path / "molecules.csv"
    pd.read_csv(tox21_subset).head(20)[["smiles"]].to_csv(molecules, index=False)
    by_path, by_ref = tmp_path / "by_path.csv", tmp_path / "by_ref.csv"
    assert runner.invoke(app, ["predict", str(trained_run), "--input", str(molecules), "--out",
                               str(by_path)]).exit_code == 0
    result = runner.invoke(app, ["predict", "registry:tox21", "--input", str(molecules), "--out", str(by_ref),
                                 "--registry", uri])
    assert result.exit_code == 0, result.output
    pd.testing.assert_frame_equal(pd.read_csv(by_path), pd.read_csv(by_ref))

    result = runner.invoke(app, ["predict", "registry:tox21@challenger", "--input", str(molecules), "--out",
                                 str(by_ref), "--registry", uri])
    assert result.exit_code != 0 and "no 'challenger' version" in str(result.exception)


def test_train_logs_params_metrics_and_files_to_mlflow(tox21_subset, feature_cache, tmp_path):
    pytest.importorskip("mlflow")
    from mlflow import MlflowClient

    raw = tiny_raw_config(tox21_subset, feature_cache, train={"epochs": 2, "batch_size": 16, "seeds": [0]})
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(raw))
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = runner.invoke(app, ["train", str(config), "--out", str(tmp_path / "run"), "--mlflow", uri])
    assert result.exit_code == 0, result.output
    run_id = result.stdout.strip().splitlines()[-1].split("run ")[-1]
    run = MlflowClient(tracking_uri=uri).get_run(run_id)
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert run.data.metrics["val.roc_auc"] == pytest.approx(metrics["val"]["roc_auc"])
    assert run.data.params["model.encoder"] == "dmpnn" and run.data.params["train.epochs"] == "2"
    artefacts = {a.path for a in MlflowClient(tracking_uri=uri).list_artifacts(run_id)}
    assert {"metrics.json", "config.resolved.yaml", "splits.json"} <= artefacts
