"""The gnn-drug command line: dataset commands, one-line errors, and train -> predict -> evaluate end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from gnn_drug import cli
from gnn_drug.cli import app
from gnn_drug.data.registry import DATASETS
from gnn_drug.errors import ConfigError
from tests.helpers import tiny_raw_config

runner = CliRunner()


def run_cli(*args: str, cwd=None) -> subprocess.CompletedProcess:
    """The real entry point in a fresh interpreter (errors become one line in ``main()``)."""
    return subprocess.run([sys.executable, "-m", "gnn_drug.cli", *args], capture_output=True, text=True,
                          cwd=cwd, env=os.environ.copy(), timeout=300)


def write_config(path, source, feature_cache, **changes):
    train = {"epochs": 3, "batch_size": 16, "lr": 0.003, "seeds": [0]}
    raw = tiny_raw_config(source, feature_cache, **{"train": train, **changes})
    path.write_text(yaml.safe_dump(raw))
    return path


def test_data_list_names_every_dataset():
    result = runner.invoke(app, ["data", "list"])
    assert result.exit_code == 0, result.output
    names = [line.split()[0] for line in result.stdout.splitlines()]
    assert names == list(DATASETS)
    assert "tox21" in names
    assert "Tox21 challenge" in result.stdout


def test_data_info_tox21(data_dir):
    result = runner.invoke(app, ["data", "info", "tox21", "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "rows:        7831" in out
    assert DATASETS["tox21"].licence in out
    assert DATASETS["tox21"].url in out and DATASETS["tox21"].sha256 in out
    assert "columns:     13" in out
    # per-task measured counts, e.g. NR-AR has 7265 labelled molecules in the MoleculeNet file
    frame = pd.read_csv(data_dir / "moleculenet" / "tox21.csv")
    nr_ar = next(line for line in out.splitlines() if line.strip().startswith("NR-AR "))
    assert nr_ar.split()[1] == "classification" and int(nr_ar.split()[2]) == frame["NR-AR"].notna().sum()


def test_data_info_reads_the_mirror_from_the_environment(data_dir, monkeypatch):
    monkeypatch.setenv("GNN_DRUG_DATA", str(data_dir))
    result = runner.invoke(app, ["data", "info", "clintox"])
    assert result.exit_code == 0, result.output
    assert "rows:        1478" in result.stdout


def test_config_typo_gives_one_line_error_and_nonzero_exit(tmp_path, feature_cache):
    config = write_config(tmp_path / "typo.yaml", tmp_path / "data.csv", feature_cache,
                          train={"epochs": 1, "learning_rate": 0.01})
    result = run_cli("train", str(config), "--out", str(tmp_path / "run"))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert str(config) in lines[0] and "train.learning_rate" in lines[0]
    assert "Traceback" not in result.stderr + result.stdout
    assert not (tmp_path / "run").exists()


def test_missing_config_file_gives_one_line_naming_it(tmp_path):
    missing = tmp_path / "nowhere.yaml"
    result = run_cli("train", str(missing), "--out", str(tmp_path / "run"))
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {missing}: config file not found"


def test_missing_input_file_gives_one_line_naming_it(trained_run, tmp_path, capsys, monkeypatch):
    missing = tmp_path / "library.csv"
    monkeypatch.setattr(sys, "argv", ["gnn-drug", "predict", str(trained_run), "--input", str(missing),
                                      "--out", str(tmp_path / "p.csv")])
    with pytest.raises(SystemExit) as info:
        cli.main()
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [f"error: {missing}: file not found"]
    assert not (tmp_path / "p.csv").exists()


def test_main_turns_library_errors_into_one_line(monkeypatch, capsys, tmp_path):
    config = write_config(tmp_path / "c.yaml", tmp_path / "d.csv", tmp_path)

    def fail(*args, **kwargs):
        raise ConfigError("somewhere: something precise went wrong")

    monkeypatch.setattr("gnn_drug.tasks.molecule_property.train_run", fail)
    monkeypatch.setattr(sys, "argv", ["gnn-drug", "train", str(config), "--out", str(tmp_path / "r")])
    with pytest.raises(SystemExit) as info:
        cli.main()
    assert info.value.code == 2
    assert capsys.readouterr().err == "error: somewhere: something precise went wrong\n"


def test_interrupted_training_tells_how_to_resume(monkeypatch, capsys, tmp_path):
    config = write_config(tmp_path / "c.yaml", tmp_path / "d.csv", tmp_path)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("gnn_drug.tasks.molecule_property.train_run", interrupted)
    monkeypatch.setattr(sys, "argv", ["gnn-drug", "train", str(config), "--out", str(tmp_path / "r")])
    with pytest.raises(SystemExit) as info:
        cli.main()
    assert info.value.code == 130
    assert "--resume" in capsys.readouterr().err


def test_train_predict_evaluate_end_to_end(tox21_subset, feature_cache, trained_run, tmp_path):
    config = write_config(tmp_path / "tiny.yaml", tox21_subset, feature_cache)
    run = tmp_path / "run"
    result = runner.invoke(app, ["train", str(config), "--out", str(run), "--set", "model.hidden_dim=32",
                                 "--set", "train.epochs=2", "--split-file", str(trained_run / "splits.json")])
    assert result.exit_code == 0, result.output
    assert "val: {" in result.stdout and '"roc_auc"' in result.stdout
    assert f"run written to {run}" in result.stdout
    resolved = yaml.safe_load((run / "config.resolved.yaml").read_text())
    assert resolved["model"]["hidden_dim"] == 32 and resolved["train"]["epochs"] == 2
    assert json.loads((run / "splits.json").read_text()) == json.loads((trained_run / "splits.json").read_text())
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["training"][0]["epochs_run"] == 2

    test_preds = pd.read_csv(run / "test_predictions.csv")
    inputs = tmp_path / "candidates.csv"
    pd.DataFrame({"id": range(len(test_preds)), "smiles": test_preds["input_smiles"]}).to_csv(inputs, index=False)
    out = tmp_path / "predictions.tsv"
    result = runner.invoke(app, ["predict", str(run), "--input", str(inputs), "--out", str(out),
                                 "--id-column", "id"])
    assert result.exit_code == 0, result.output
    written = pd.read_csv(out, sep="\t")
    assert written["id"].tolist() == list(range(len(test_preds)))
    tasks = [c for c in test_preds.columns if c not in ("row", "input_smiles", "smiles") and not c.endswith("_true")]
    pd.testing.assert_frame_equal(written[tasks], test_preds[tasks], rtol=1e-5)
    assert (tmp_path / "predictions.rejects.csv").is_file()

    labelled = tmp_path / "labelled.csv"
    frame = test_preds[["input_smiles", *(f"{t}_true" for t in tasks)]]
    frame.columns = ["smiles", *tasks]
    frame.to_csv(labelled, index=False)
    result = runner.invoke(app, ["evaluate", str(run), "--input", str(labelled), "--out", str(tmp_path / "m.json")])
    assert result.exit_code == 0, result.output
    evaluated = json.loads((tmp_path / "m.json").read_text())
    assert evaluated["molecules"] == len(test_preds)
    assert evaluated["roc_auc"] == pytest.approx(metrics["test"]["roc_auc"], abs=1e-6)
    assert json.loads(result.stdout)["roc_auc"] == evaluated["roc_auc"]


def test_finished_run_needs_resume_and_resuming_it_changes_nothing(tox21_subset, feature_cache, tmp_path):
    config = write_config(tmp_path / "tiny.yaml", tox21_subset, feature_cache,
                          train={"epochs": 2, "batch_size": 32, "seeds": [0]})
    run = tmp_path / "run"
    first = runner.invoke(app, ["train", str(config), "--out", str(run)])
    assert first.exit_code == 0, first.output
    metrics = (run / "metrics.json").read_text()
    again = runner.invoke(app, ["train", str(config), "--out", str(run)])
    assert isinstance(again.exception, ConfigError) and "--resume" in str(again.exception)
    resumed = runner.invoke(app, ["train", str(config), "--out", str(run), "--resume"])
    assert resumed.exit_code == 0, resumed.output
    assert (run / "metrics.json").read_text() == metrics
    assert resumed.stdout.splitlines()[:2] == first.stdout.splitlines()[:2]  # the same val/test summary lines


def test_affinity_train_predict_evaluate_from_the_command_line(data_dir, feature_cache, tmp_path):
    """A user's long table of (SMILES, kinase, sequence, Kd nM) through train -> predict -> evaluate."""
    root = data_dir / "dta" / "davis"
    ligands = json.loads((root / "ligands_can.txt").read_text())
    proteins = json.loads((root / "proteins.txt").read_text())
    import numpy as np

    matrix = np.load(root / "affinity.npy")
    rows = [{"smiles": s, "kinase": p, "sequence": proteins[p], "kd_nm": matrix[i, j]}
            for i, s in enumerate(list(ligands.values())[:6]) for j, p in enumerate(list(proteins)[:10])]
    pd.DataFrame(rows).to_csv(tmp_path / "pairs.csv", index=False)
    raw = {"task": "affinity",
           "data": {"source": str(tmp_path / "pairs.csv"),
                    "pairs": {"compound_column": "smiles", "entity_column": "kinase", "value_column": "kd_nm",
                              "sequence_column": "sequence", "transform": "pkd_from_nm"}},
           "split": {"method": "random", "sizes": [0.6, 0.2, 0.2]},
           "featurization": {"n_workers": 1, "cache_dir": str(feature_cache)},
           "model": {"hidden_dim": 16, "head_hidden_dim": 16, "entity": {"hidden_dim": 16, "out_dim": 8}},
           "train": {"epochs": 2, "batch_size": 8, "seeds": [0]}}
    (tmp_path / "aff.yaml").write_text(yaml.safe_dump(raw))
    run = tmp_path / "run"
    result = runner.invoke(app, ["train", str(tmp_path / "aff.yaml"), "--out", str(run)])
    assert result.exit_code == 0, result.output
    assert '"ci"' in result.stdout and '"rm2"' in result.stdout
    refused = runner.invoke(app, ["train", str(tmp_path / "aff.yaml"), "--out", str(tmp_path / "r2"), "--nproc", "2"])
    assert refused.exit_code != 0 and "one process" in str(refused.exception or refused.output)

    result = runner.invoke(app, ["predict", str(run), "--input", str(tmp_path / "pairs.csv"), "--out",
                                 str(tmp_path / "p.csv"), "--entity-column", "kinase"])
    assert result.exit_code == 0, result.output
    assert len(pd.read_csv(tmp_path / "p.csv")) == 60
    result = runner.invoke(app, ["evaluate", str(run), "--input", str(tmp_path / "pairs.csv"), "--value-column",
                                 "kd_nm", "--transform", "pkd_from_nm", "--sequence-column", "sequence"])
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout)
    assert metrics["pairs"] == 60 and 0 <= metrics["ci"] <= 1
    missing = runner.invoke(app, ["evaluate", str(run), "--input", str(tmp_path / "pairs.csv")])
    assert missing.exit_code != 0 and "--value-column" in missing.output


def test_data_info_of_a_pair_dataset(data_dir):
    result = runner.invoke(app, ["data", "info", "kiba", "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    assert "pairs:       118254 measured" in result.stdout
    assert "compounds:   2111" in result.stdout and "proteins:    229" in result.stdout
