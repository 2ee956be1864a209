"""The affinity task end to end on a small slice of Davis written as a user's long table (SMILES, protein id,
sequence, Kd in nM), with one unparseable SMILES and one corrupt sequence."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from gnn_drug.data.splits import load_split
from gnn_drug.tasks.config import load_config
from gnn_drug.tasks.pairs import PairPredictor, predict_pairs_file, train_pair_run
from tests.helpers import INVALID_SMILES, quiet

N_DRUGS, N_PROTEINS = 12, 25


@pytest.fixture(scope="module")
def davis_slice(data_dir, tmp_path_factory):
    root = data_dir / "dta" / "davis"
    ligands = json.loads((root / "ligands_can.txt").read_text())
    proteins = json.loads((root / "proteins.txt").read_text())
    matrix = np.load(root / "affinity.npy")
    drug_ids, prot_ids = list(ligands)[:N_DRUGS], list(proteins)[:N_PROTEINS]
    rows = [{"smiles": ligands[d], "protein": p, "sequence": proteins[p], "kd_nm": matrix[i, j]}
            for i, d in enumerate(drug_ids) for j, p in enumerate(prot_ids)]
    rows.append({"smiles": INVALID_SMILES, "protein": prot_ids[0], "sequence": proteins[prot_ids[0]], "kd_nm": 10})
    rows.append({"smiles": "CCO", "protein": "BROKEN", "sequence": "MKV#L", "kd_nm": 10})
    path = tmp_path_factory.mktemp("davis-slice") / "davis_slice.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def _config(source, feature_cache, **over):
    raw = {
        "task": "affinity",
        "data": {"source": str(source), "pairs": {"compound_column": "smiles", "entity_column": "protein",
                                                  "value_column": "kd_nm", "sequence_column": "sequence",
                                                  "transform": "pkd_from_nm"}},
        "split": {"method": "random", "sizes": [0.7, 0.15, 0.15], "seed": 0},
        "featurization": {"n_workers": 1, "cache_dir": str(feature_cache)},
        "model": {"encoder": "dmpnn", "hidden_dim": 48, "depth": 2, "head_hidden_dim": 64, "head_layers": 2,
                  "entity": {"kind": "kmer", "hidden_dim": 64, "out_dim": 32}},
        "train": {"epochs": 25, "batch_size": 32, "lr": 0.002, "patience": 100, "seeds": [0, 1]},
    }
    for key, value in over.items():
        raw[key] = {**raw[key], **value}
    return load_config(raw=raw)


@pytest.fixture(scope="module")
def affinity_run(davis_slice, feature_cache, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "affinity"
    metrics = train_pair_run(_config(davis_slice, feature_cache), out, log=quiet)
    return out, metrics


def test_run_reports_dta_metrics_and_learns(affinity_run):
    out, metrics = affinity_run
    for part in ("val", "test"):
        assert {"mse", "ci", "pearson", "rm2"} <= set(metrics[part])
        assert len(metrics[part]["members"]) == 2
    test = pd.read_csv(out / "test_predictions.csv")
    baseline = float(np.mean((test["pKd_true"] - test["pKd_true"].mean()) ** 2))
    assert metrics["test"]["mse"] < 0.9 * baseline  # better than predicting the mean of the test set itself
    assert metrics["test"]["ci"] > 0.6


def test_rejects_name_rows_and_reasons(affinity_run):
    out, _ = affinity_run
    rejects = pd.read_csv(out / "rejects.csv")
    n = N_DRUGS * N_PROTEINS
    assert rejects["row"].tolist() == [n + 1, n + 2]
    assert "MKV#L" in rejects["reason"].iloc[1] or "'#'" in rejects["reason"].iloc[1]
    assert INVALID_SMILES in rejects["reason"].iloc[0]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["valid"] == n and summary["rejects"] == 2


def test_split_file_lists_input_rows_and_predictions_reload(affinity_run, davis_slice):
    out, _ = affinity_run
    split = json.loads((out / "splits.json").read_text())[0]
    assert sorted(split["train"] + split["val"] + split["test"]) == list(range(N_DRUGS * N_PROTEINS))
    test = pd.read_csv(out / "test_predictions.csv")
    assert (test["row"] - 1).tolist() == split["test"]
    frame = pd.read_csv(davis_slice).iloc[test["row"] - 1]
    frame.to_csv(out.parent / "test_pairs.csv", index=False)
    again = predict_pairs_file(out, out.parent / "test_pairs.csv", out.parent / "again.csv", entity_column="protein",
                               log=quiet)
    np.testing.assert_allclose(again["pKd"].to_numpy(), test["pKd"].to_numpy(), rtol=1e-5, atol=1e-5)
    assert "pKd_std" in again  # two members: the spread is reported


def test_predict_with_sequences_unknown_ids_and_the_full_ranking(affinity_run, tmp_path):
    out, _ = affinity_run
    predictor = PairPredictor.load(out)
    query = pd.DataFrame({"smiles": ["CC(=O)Nc1ccc(O)cc1", "CC(=O)Nc1ccc(O)cc1", INVALID_SMILES],
                          "protein": [predictor.entity_ids[0], "NOT_A_KINASE", predictor.entity_ids[1]]})
    query.to_csv(tmp_path / "q.csv", index=False)
    by_id = predict_pairs_file(out, tmp_path / "q.csv", tmp_path / "by_id.csv", entity_column="protein", log=quiet)
    assert by_id["row"].tolist() == [1]
    rejects = pd.read_csv(tmp_path / "by_id.rejects.csv")
    assert rejects["row"].tolist() == [2, 3] and "NOT_A_KINASE" in rejects["reason"].iloc[0]

    # any protein, given its sequence (here: the first kinase's sequence under a new name gives the same value)
    query["sequence"] = [predictor.sequences[0]] * 3
    query.to_csv(tmp_path / "q2.csv", index=False)
    by_seq = predict_pairs_file(out, tmp_path / "q2.csv", tmp_path / "by_seq.csv", sequence_column="sequence",
                                log=quiet)
    assert by_seq["pKd"].iloc[0] == pytest.approx(by_id["pKd"].iloc[0], rel=1e-5)

    # no entity column: every compound against every kinase of the model, strongest binder first
    ranked = predict_pairs_file(out, tmp_path / "q.csv", tmp_path / "ranked.parquet", log=quiet)
    assert len(ranked) == 2 * N_PROTEINS
    first = ranked[ranked["row"] == 1]
    assert first["rank"].tolist() == list(range(1, N_PROTEINS + 1))
    assert first["pKd"].is_monotonic_decreasing
    assert pd.read_parquet(tmp_path / "ranked.parquet").shape == ranked.shape

    matrix = predict_pairs_file(out, tmp_path / "q.csv", tmp_path / "matrix.csv", wide=True, log=quiet)
    assert matrix.shape == (2, 2 + N_PROTEINS) and list(matrix.columns[2:]) == predictor.entity_ids
    assert matrix.loc[0, first["entity"].iloc[0]] == pytest.approx(first["pKd"].iloc[0])


def test_cold_both_split_holds_out_compounds_and_proteins(davis_slice, feature_cache, tmp_path):
    config = _config(davis_slice, feature_cache, split={"method": "cold_both", "sizes": [0.5, 0.25, 0.25]},
                     train={"epochs": 1, "seeds": [0]})
    train_pair_run(config, tmp_path / "run", log=quiet)
    split = json.loads((tmp_path / "run" / "splits.json").read_text())[0]
    frame = pd.read_csv(davis_slice)
    for part in ("val", "test"):
        assert split[part]
        assert not set(frame["smiles"].iloc[split[part]]) & set(frame["smiles"].iloc[split["train"]])
        assert not set(frame["protein"].iloc[split[part]]) & set(frame["protein"].iloc[split["train"]])


def test_interrupted_run_resumes_to_the_same_result(davis_slice, feature_cache, tmp_path):
    config = _config(davis_slice, feature_cache, model={"entity": {"kind": "cnn", "embed_dim": 8, "channels": [8],
                                                                    "kernel_size": 4, "out_dim": 8,
                                                                    "max_length": 200}},
                     train={"epochs": 4, "seeds": [0]})
    straight = train_pair_run(config, tmp_path / "straight", log=quiet)

    def stop_after_two(epoch, _record):
        if epoch == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_pair_run(config, tmp_path / "resumed", log=quiet, on_epoch_end=stop_after_two)
    assert not (tmp_path / "resumed" / "metrics.json").exists()
    resumed = train_pair_run(config, tmp_path / "resumed", log=quiet, resume=True)
    assert resumed["test"]["mse"] == pytest.approx(straight["test"]["mse"], rel=1e-5)


def test_the_same_config_and_data_give_the_same_metrics(davis_slice, feature_cache, tmp_path):
    config = _config(davis_slice, feature_cache, model={"embed_known": True}, train={"epochs": 3, "seeds": [0]})
    first = train_pair_run(config, tmp_path / "first", log=quiet)
    second = train_pair_run(config, tmp_path / "second", log=quiet)
    assert first["val"]["mse"] == second["val"]["mse"] and first["test"] == second["test"]


def test_a_pair_model_is_not_mistaken_for_a_molecule_model(affinity_run):
    from gnn_drug.errors import DataError
    from gnn_drug.tasks.molecule_property import MoleculePropertyPredictor

    out, _ = affinity_run
    with pytest.raises(DataError, match="affinity model scores"):
        MoleculePropertyPredictor.load(out)


def test_tuning_an_affinity_config(davis_slice, feature_cache, tmp_path):
    """The tuner trains pair tasks through their own recipe and writes a ready-to-train best.yaml."""
    import yaml

    from gnn_drug.tune.study import run_study

    raw = _config(davis_slice, feature_cache, train={"epochs": 2, "seeds": [0]}).model_dump(mode="json")
    raw["search"] = {"model.entity.out_dim": {"choices": [16, 32]}, "model.fusion": {"choices": ["concat", "product"]}}
    (tmp_path / "tune.yaml").write_text(yaml.safe_dump(raw))
    result = run_study(tmp_path / "tune.yaml", tmp_path / "out", trials=2, study_name="aff", log=quiet)
    assert result.finished_trials == 2
    best = load_config(tmp_path / "out" / "best.yaml")
    assert best.task == "affinity" and best.model.fusion == result.best_params["model.fusion"]


def test_a_model_that_remembers_known_items_scores_new_ones_from_features(davis_slice, feature_cache, tmp_path):
    config = _config(davis_slice, feature_cache, model={"embed_known": True}, train={"epochs": 8, "seeds": [0]})
    out = tmp_path / "run"
    train_pair_run(config, out, log=quiet)
    card = json.loads((out / "model" / "model.json").read_text())
    assert card["known"]["entities"] == N_PROTEINS and 0 < card["known"]["compounds"] <= N_DRUGS
    test = pd.read_csv(out / "test_predictions.csv")
    pairs = pd.read_csv(davis_slice).iloc[test["row"] - 1]
    pairs.to_csv(tmp_path / "pairs.csv", index=False)
    # known compounds and proteins are recognised at prediction time exactly as in training
    again = predict_pairs_file(out, tmp_path / "pairs.csv", tmp_path / "again.csv", entity_column="protein",
                               log=quiet)
    np.testing.assert_allclose(again["pKd"].to_numpy(), test["pKd"].to_numpy(), rtol=1e-5, atol=1e-5)
    # the same sequences under new names are new proteins: scored from the sequence alone, so they differ
    pairs.assign(protein="NEW_" + pairs["protein"]).to_csv(tmp_path / "renamed.csv", index=False)
    renamed = predict_pairs_file(out, tmp_path / "renamed.csv", tmp_path / "renamed_out.csv",
                                 entity_column="protein", sequence_column="sequence", log=quiet)
    assert not np.allclose(renamed["pKd"].to_numpy(), again["pKd"].to_numpy(), atol=1e-4)


@pytest.fixture(scope="module")
def evidence_run(davis_slice, feature_cache, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "evidence"
    config = _config(davis_slice, feature_cache, model={"embed_known": True, "neighbour_evidence": True,
                                                        "neighbour_ks": [2, 5],
                                                        "evidence_share": 0.5, "factorization": True,
                                                        "factorization_rank": 8},
                     train={"epochs": 8, "seeds": [0, 1]})
    return out, train_pair_run(config, out, log=quiet)


def test_a_model_with_neighbour_evidence_rebuilds_it_when_loaded(evidence_run, davis_slice, tmp_path):
    """The model directory alone gives the test pairs the evidence (and so the predictions) they had in training;
    a new protein, given by sequence, is scored from its nearest known kinases."""
    out, metrics = evidence_run
    card = json.loads((out / "model" / "model.json").read_text())
    # a mixed ensemble: the first member reads the evidence, the second structure and sequence alone
    assert card["evidence"] == {"features": 4 + 4 * 2 * 2, "ks": [2, 5], "members": [True, False]}
    test = pd.read_csv(out / "test_predictions.csv")
    pd.read_csv(davis_slice).iloc[test["row"] - 1].to_csv(tmp_path / "test_pairs.csv", index=False)
    again = predict_pairs_file(out, tmp_path / "test_pairs.csv", tmp_path / "again.csv", entity_column="protein",
                               log=quiet)
    np.testing.assert_allclose(again["pKd"].to_numpy(), test["pKd"].to_numpy(), rtol=1e-5, atol=1e-5)
    assert metrics["test"]["ci"] > 0.6

    predictor = PairPredictor.load(out)
    renamed = pd.DataFrame({"smiles": ["CC(=O)Nc1ccc(O)cc1"] * 2, "protein": [predictor.entity_ids[0], "RENAMED"],
                            "sequence": [predictor.sequences[0], predictor.sequences[0][:-40]]})
    renamed.to_csv(tmp_path / "new.csv", index=False)
    messages = []
    scored = predict_pairs_file(out, tmp_path / "new.csv", tmp_path / "new_out.csv", entity_column="protein",
                                sequence_column="sequence", log=messages.append)
    assert np.isfinite(scored["pKd"]).all() and len(scored) == 2
    assert any("compounds were not in training" in m for m in messages)  # the user is told
    # the known kinase has measured evidence, the shortened copy is a new protein: they are scored differently
    assert scored["pKd"].iloc[0] != pytest.approx(scored["pKd"].iloc[1], abs=1e-6)


def test_the_matrix_factorisation_blend_is_chosen_on_validation_and_reloads(evidence_run, davis_slice, tmp_path,
                                                                            monkeypatch):
    """The networks' mean and the factorisation are blended with the share that scores best on validation, so the
    blend is at least as good there as either part; the saved model blends test pairs the same way, and a
    compound that was not in training is scored by the networks alone."""
    out, metrics = evidence_run
    card = json.loads((out / "model" / "model.json").read_text())
    weights = card["factorization"]["weights"]
    assert card["factorization"]["rank"] == 8 and card["factorization"]["l2"] in (1.0, 2.0, 4.0, 8.0)
    # chosen on training pairs, then refit on training + validation pairs with the chosen sweeps
    assert card["factorization"]["refit"] and 1 <= card["factorization"]["sweeps"] <= 30

    val = metrics["val"]
    assert val["mse"] <= min(val["networks"]["mse"], val["factorization"]["mse"]) + 1e-9
    assert len(val["members"]) == 2
    test = pd.read_csv(out / "test_predictions.csv")
    predictor = PairPredictor.load(out)
    assert predictor.factorization_weights == weights
    weight = weights["known"]  # a random split of a small matrix: every validation pair is familiar
    assert set(weights) == {"known", "new_compound", "new_entity", "both_new"}
    assert weights["new_compound"] == 0.0
    # on real Davis pairs the factorisation alone beats predicting each drug's and kinase's training mean
    test_mf = metrics["test"]["factorization"]["mse"]
    assert test_mf < np.mean((test["pKd_true"] - test["pKd_true"].mean()) ** 2)
    pairs = pd.read_csv(davis_slice).iloc[test["row"] - 1]
    pairs.to_csv(tmp_path / "pairs.csv", index=False)
    blended = predict_pairs_file(out, tmp_path / "pairs.csv", tmp_path / "b.csv", entity_column="protein",
                                 log=quiet)
    np.testing.assert_allclose(blended["pKd"].to_numpy(), test["pKd"].to_numpy(), rtol=1e-5, atol=1e-5)
    new = pd.DataFrame({"smiles": ["CC(=O)Nc1ccc(O)cc1"], "protein": [pairs["protein"].iloc[0]]})
    new.to_csv(tmp_path / "new.csv", index=False)
    scored = predict_pairs_file(out, tmp_path / "new.csv", tmp_path / "n.csv", entity_column="protein", log=quiet)

    original = PairPredictor.load.__func__

    def networks_only(cls, run_dir):
        loaded = original(cls, run_dir)
        loaded.factorization = None
        return loaded

    monkeypatch.setattr(PairPredictor, "load", classmethod(networks_only))
    plain = predict_pairs_file(out, tmp_path / "pairs.csv", tmp_path / "p.csv", entity_column="protein", log=quiet)
    plain_new = predict_pairs_file(out, tmp_path / "new.csv", tmp_path / "pn.csv", entity_column="protein",
                                   log=quiet)
    assert scored["pKd"].iloc[0] == pytest.approx(plain_new["pKd"].iloc[0], abs=1e-6)
    moved = np.abs(blended["pKd"].to_numpy() - plain["pKd"].to_numpy()).max()
    assert (moved > 1e-3) if weight > 0 else (moved < 1e-6)

    # the saved factorisation was refit with the validation pairs: it now fits them better than the one that was
    # chosen without them (whose validation MSE the metrics report)
    val = pd.read_csv(davis_slice).iloc[load_split(out / "splits.json").val]
    val.to_csv(tmp_path / "val.csv", index=False)
    net = predict_pairs_file(out, tmp_path / "val.csv", tmp_path / "vn.csv", entity_column="protein", log=quiet)
    monkeypatch.undo()
    both = predict_pairs_file(out, tmp_path / "val.csv", tmp_path / "vb.csv", entity_column="protein", log=quiet)
    if weight > 0:
        factorized = (both["pKd"].to_numpy() - (1 - weight) * net["pKd"].to_numpy()) / weight
        true = -np.log10(val["kd_nm"].to_numpy() / 1e9)
        assert np.mean((factorized - true) ** 2) < metrics["val"]["factorization"]["mse"]
