"""The response task on a slice of GDSC v6 (GraphDRP's data): drugs by name joined to a SMILES table, cell lines
by COSMIC id joined to their binary genomic profiles."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from gnn_drug.tasks.config import load_config
from gnn_drug.tasks.pairs import PairPredictor, predict_pairs_file, train_pair_run
from tests.helpers import quiet

N_DRUGS, N_CELLS = 10, 40


@pytest.fixture(scope="module")
def gdsc_slice(data_dir, tmp_path_factory):
    root = data_dir / "response" / "gdsc_v6_graphdrp"
    frame = pd.read_csv(root / "response.tsv.gz", sep="\t", dtype={"cosmic_id": str})
    drugs = frame["drug_name"].drop_duplicates().head(N_DRUGS)
    cells = frame["cosmic_id"].drop_duplicates().head(N_CELLS)
    part = frame[frame["drug_name"].isin(drugs) & frame["cosmic_id"].isin(cells)]
    unknown = part.iloc[[0]].assign(cosmic_id="999999999")  # a cell line without a genomic profile
    path = tmp_path_factory.mktemp("gdsc") / "slice.tsv"
    pd.concat([part, unknown]).to_csv(path, sep="\t", index=False)
    return path, root, len(part)


def _config(gdsc_slice, feature_cache, kind="mlp", method="random"):
    path, root, _ = gdsc_slice
    return load_config(raw={
        "task": "response",
        "data": {"source": str(path), "pairs": {
            "compound_column": "drug_name", "entity_column": "cosmic_id", "value_column": "ln_ic50",
            "compounds": {"file": str(root / "drug_smiles.csv"), "id_column": "name",
                          "smiles_column": "IsomericSMILES"},
            "entities": [{"file": str(root / "cell_features_735.tsv"), "id_column": "cosmic_id"}]}},
        "split": {"method": method, "sizes": [0.7, 0.15, 0.15], "seed": 0},
        "featurization": {"n_workers": 1, "cache_dir": str(feature_cache)},
        "model": {"encoder": "dmpnn", "hidden_dim": 48, "depth": 2, "head_hidden_dim": 64, "head_layers": 2,
                  "fusion": "product", "fusion_dim": 16,
                  "entity": {"kind": kind, "hidden_dim": 64, "out_dim": 32, "channels": [4, 8], "kernel_size": 5}},
        "train": {"epochs": 20, "batch_size": 32, "lr": 0.002, "patience": 100, "seeds": [0]},
    })


def test_response_run_learns_and_reports_the_unknown_cell_line(gdsc_slice, feature_cache, tmp_path):
    metrics = train_pair_run(_config(gdsc_slice, feature_cache), tmp_path / "run", log=quiet)
    _, _, n = gdsc_slice
    rejects = pd.read_csv(tmp_path / "run" / "rejects.csv")
    assert rejects["row"].tolist() == [n + 1] and "999999999" in rejects["reason"].iloc[0]
    assert "no feature profile" in rejects["reason"].iloc[0]
    # ln IC50 differs mostly between drugs: a model that learned anything ranks pairs far better than chance
    assert metrics["test"]["pearson"] > 0.5
    card = json.loads((tmp_path / "run" / "model" / "model.json").read_text())
    assert card["entity"] == {"kind": "profile", "encoder": "mlp", "count": N_CELLS, "input_dim": 735,
                              "profile_names": card["entity"]["profile_names"]}
    assert len(card["entity"]["profile_names"]) == 735

    # every compound against every known cell line: the most sensitive (lowest ln IC50) first
    pd.DataFrame({"smiles": ["CC(=O)Nc1ccc(O)cc1"]}).to_csv(tmp_path / "q.csv", index=False)
    ranked = predict_pairs_file(tmp_path / "run", tmp_path / "q.csv", tmp_path / "ranked.csv", log=quiet)
    assert len(ranked) == N_CELLS and ranked["ln_ic50"].is_monotonic_increasing
    assert ranked["rank"].tolist() == list(range(1, N_CELLS + 1))
    predictor = PairPredictor.load(tmp_path / "run")
    assert predictor.profiles.shape == (N_CELLS, 735)


def test_blind_cell_line_split_with_the_profile_cnn(gdsc_slice, feature_cache, tmp_path):
    config = _config(gdsc_slice, feature_cache, kind="profile_cnn", method="cold_entity")
    config.train.epochs = 2
    metrics = train_pair_run(config, tmp_path / "run", log=quiet)
    assert np.isfinite(metrics["test"]["mse"])
    split = json.loads((tmp_path / "run" / "splits.json").read_text())[0]
    frame = pd.read_csv(gdsc_slice[0], sep="\t", dtype={"cosmic_id": str})
    assert not set(frame["cosmic_id"].iloc[split["test"]]) & set(frame["cosmic_id"].iloc[split["train"]])


def test_kind_that_does_not_fit_the_entities_is_a_clear_error(gdsc_slice, feature_cache, tmp_path):
    from gnn_drug.errors import ConfigError

    with pytest.raises(ConfigError, match="does not fit profile entities"):
        train_pair_run(_config(gdsc_slice, feature_cache, kind="cnn"), tmp_path / "run", log=quiet)
