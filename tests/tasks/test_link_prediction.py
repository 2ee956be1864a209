"""Link prediction on a small synthetic knowledge graph whose target relation follows from its structure:
a compound treats a disease exactly when it binds a gene associated with that disease."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gnn_drug.kg.build import EdgeSet, KnowledgeGraph, save_kg
from gnn_drug.tasks.link_prediction import load_link_config, train_link_run
from tests.helpers import quiet


@pytest.fixture(scope="module")
def toy_graph(tmp_path_factory):
    rng = np.random.default_rng(0)
    n_c, n_g, n_d = 60, 40, 12
    binds = [(c, g) for c in range(n_c) for g in rng.choice(n_g, 2, replace=False)]
    assoc = [(d, g) for d in range(n_d) for g in rng.choice(n_g, 4, replace=False)]
    genes_of = {d: {g for dd, g in assoc if dd == d} for d in range(n_d)}
    treats = [(c, d) for c in range(n_c) for d in range(n_d) if {g for cc, g in binds if cc == c} & genes_of[d]]
    ids = {"Compound": [f"c{i}" for i in range(n_c)], "Gene": [f"g{i}" for i in range(n_g)],
           "Disease": [f"d{i}" for i in range(n_d)]}

    def edges(pairs):
        a = np.array(pairs)
        return EdgeSet(a[:, 0], a[:, 1], False)

    graph = KnowledgeGraph("toy", ids, {k: list(v) for k, v in ids.items()},
                           {("Compound", "binds", "Gene"): edges(binds),
                            ("Disease", "associates", "Gene"): edges(assoc),
                            ("Compound", "treats", "Disease"): edges(treats)})
    graph.structures["Compound"] = [("C" * (i % 7 + 1)) + ("O" if i % 2 else "N") for i in range(n_c)]
    graph.structure_types["Compound"] = "smiles"
    out = tmp_path_factory.mktemp("kg") / "toy"
    save_kg(graph, out)
    return out


def _config(graph_dir, decoder="distmult", compound_features="none", **train):
    return load_link_config(raw={
        "task": "repurposing", "graph": str(graph_dir), "edge_type": ["Compound", "treats", "Disease"],
        "split": {"method": "random", "sizes": [0.7, 0.15, 0.15], "seed": 0},
        "model": {"hidden_dim": 32, "layers": 2, "decoder": decoder, "compound_features": compound_features},
        "train": {"epochs": 60, "lr": 0.01, "patience": 60, **train}})


def test_the_gnn_learns_the_rule_and_beats_the_degree_prior(toy_graph, tmp_path):
    metrics = train_link_run(_config(toy_graph, decoder="mlp"), tmp_path / "run", log=quiet)
    assert metrics["test"]["n"] == metrics["split"]["test"] > 0
    # 12 diseases: a random ranking has MRR ~0.26; the degree prior ~0.22 here; the GNN ~0.44
    assert metrics["test"]["mrr"] > 1.5 * metrics["degree_prior_test"]["mrr"]
    assert metrics["test"]["auroc"] > metrics["degree_prior_test"]["auroc"] and 0 < metrics["test"]["aupr"] <= 1
    card = json.loads((tmp_path / "run" / "model" / "model.json").read_text())
    assert card["edge_type"] == ["Compound", "treats", "Disease"] and "test" in card["metrics"]


def test_interrupted_training_resumes_to_the_same_result(toy_graph, tmp_path):
    straight = train_link_run(_config(toy_graph, epochs=6), tmp_path / "a", log=quiet)
    config = _config(toy_graph, epochs=6)

    calls = []

    def stop(message):
        calls.append(message)
        if message.startswith("epoch   3/"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_link_run(config, tmp_path / "b", log=stop)
    resumed = train_link_run(config, tmp_path / "b", log=quiet, resume=True)
    assert resumed["test"]["mrr"] == pytest.approx(straight["test"]["mrr"])
    assert resumed["best_epoch"] == straight["best_epoch"]


def test_ranking_for_a_disease_lists_new_compounds_with_their_paths(toy_graph, tmp_path):
    from gnn_drug.kg.build import load_kg
    from gnn_drug.tasks.link_prediction import LinkPredictor

    train_link_run(_config(toy_graph, decoder="mlp", epochs=20), tmp_path / "run", log=quiet)
    predictor = LinkPredictor.load(tmp_path / "run")
    rows = predictor.rank("d0", top=10, explain_paths=2)
    graph = load_kg(toy_graph)
    treats = graph.edges[("Compound", "treats", "Disease")]
    known = {graph.node_ids["Compound"][s] for s, t in zip(treats.source, treats.target, strict=True) if t == 0}
    assert len(rows) == 10 and not {r["id"] for r in rows} & known  # known treatments are not "predictions"
    assert [r["rank"] for r in rows] == list(range(1, 11))
    assert all(a["score"] >= b["score"] for a, b in zip(rows, rows[1:], strict=False))
    everything = predictor.rank("d0", top=100, include_known=True, explain_paths=2)
    assert len(everything) == 60  # every compound, known ones included and flagged
    assert {r["id"] for r in everything if r["known"]} == known
    # by construction a compound treats d0 when it binds a gene associated with d0: that is its explanation
    assert all(any("–binds→" in p and "←associates– d0" in p for p in r["paths"]) for r in everything if r["known"])
    # paths are ordered by the model's gradient attribution on their edges (shown next to the DWPC weight)
    for row in everything:
        shown = [float(p.split("model attribution ")[1].split(",")[0]) for p in row["paths"]]
        assert shown == sorted(shown, reverse=True) and all("DWPC weight" in p for p in row["paths"])
    compound_view = predictor.rank("c0", top=3)
    assert all(r["id"].startswith("d") for r in compound_view)


def test_explained_paths_follow_the_metapath_and_weigh_hubs_down(toy_graph):
    from gnn_drug.kg.build import load_kg
    from gnn_drug.kg.paths import explain

    graph = load_kg(toy_graph)
    binds = graph.edges[("Compound", "binds", "Gene")]
    c, g = graph.node_ids["Compound"][binds.source[0]], graph.node_ids["Gene"][binds.target[0]]
    assoc = graph.edges[("Disease", "associates", "Gene")]
    diseases = [graph.node_ids["Disease"][d] for d, gg in zip(assoc.source, assoc.target, strict=True)
                if graph.node_ids["Gene"][gg] == g]
    if not diseases:
        pytest.skip("first binds gene has no disease in this toy graph")
    paths = explain(graph, c, diseases[0], [["Compound", "binds", "Gene", "associates", "Disease"]])
    assert paths and all(p.nodes[0][1] == c and p.nodes[-1][1] == diseases[0] for p in paths)
    assert any(p.nodes[1][1] == g for p in paths)
    assert all(a.weight >= b.weight for a, b in zip(paths, paths[1:], strict=False))
    # the text follows the stored direction: Compound binds Gene, but Disease associates Gene
    assert paths[0].text().startswith(f"{c} –binds→ ") and f"←associates– {diseases[0]}  (" in paths[0].text()


def test_kg_train_and_rank_from_the_command_line(toy_graph, tmp_path):
    import yaml
    from typer.testing import CliRunner

    from gnn_drug.cli import app

    config = _config(toy_graph, epochs=3).model_dump(mode="json")
    (tmp_path / "ctd.yaml").write_text(yaml.safe_dump(config))
    runner = CliRunner()
    result = runner.invoke(app, ["kg", "train", str(tmp_path / "ctd.yaml"), "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    assert "degree_prior_test: {" in result.stdout and '"mrr"' in result.stdout
    result = runner.invoke(app, ["kg", "rank", str(tmp_path / "run"), "--node", "d1", "--top", "5",
                                 "--include-known", "--out", str(tmp_path / "rank.json")])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("  1. ") and len(json.loads((tmp_path / "rank.json").read_text())) == 5
    missing = runner.invoke(app, ["kg", "rank", str(tmp_path / "run"), "--node", "nope"])
    assert missing.exit_code != 0


def test_a_compound_outside_the_graph_is_scored_from_its_structure(toy_graph, tmp_path):
    """(The toy compounds' SMILES are arbitrary: this checks the mechanics, not the chemistry.)"""
    from gnn_drug.tasks.link_prediction import LinkPredictor

    train_link_run(_config(toy_graph, compound_features="morgan", epochs=5), tmp_path / "run", log=quiet)
    predictor = LinkPredictor.load(tmp_path / "run")
    assert "Compound" in predictor.features  # Morgan bits from the stored SMILES
    rows = predictor.rank_new_compound("CCCCCCCCCCCO", top=4)
    assert [r["rank"] for r in rows] == [1, 2, 3, 4] and all(r["id"].startswith("d") for r in rows)
    other = predictor.rank_new_compound("c1ccccc1C(=O)O", top=12)
    assert {r["id"] for r in other} == set(predictor.graph.node_ids["Disease"])
    assert [r["score"] for r in rows] != [r["score"] for r in other[:4]]  # the structure matters


def test_hgt_encoder_trains_too(toy_graph, tmp_path):
    config = _config(toy_graph, epochs=3)
    config.model.encoder = "hgt"
    metrics = train_link_run(config, tmp_path / "run", log=quiet)
    assert 0 < metrics["test"]["mrr"] <= 1 and metrics["epochs_run"] == 3


def test_train_repurpose_and_targets_commands_with_names(toy_graph, tmp_path):
    import yaml
    from typer.testing import CliRunner

    from gnn_drug.cli import app

    (tmp_path / "ctd.yaml").write_text(yaml.safe_dump(_config(toy_graph, epochs=2).model_dump(mode="json")))
    runner = CliRunner()
    result = runner.invoke(app, ["train", str(tmp_path / "ctd.yaml"), "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "run" / "model" / "model.json").is_file()
    result = runner.invoke(app, ["repurpose", str(tmp_path / "run"), "--disease", "D3", "--top", "3"])
    assert result.exit_code == 0, result.output  # names and ids match without regard to case
    assert result.stdout.count("score") == 3
    command = ["repurpose", str(tmp_path / "run"), "--disease", "d0", "--top", "60", "--include-known"]
    plain, explained = (runner.invoke(app, command + extra) for extra in ([], ["--explain", "--paths", "2"]))
    assert plain.exit_code == 0 and explained.exit_code == 0, explained.output
    assert "–binds→" not in plain.stdout  # paths only when asked for
    # the known treatments of d0 bind a gene associated with d0 (the toy's rule): that path is listed, 2 at most each
    path_lines = [line for line in explained.stdout.splitlines() if line.startswith("       ")]
    assert any("–binds→" in line and "←associates– d0" in line for line in path_lines)
    assert len(path_lines) <= 60 * 2
    wrong = runner.invoke(app, ["repurpose", str(tmp_path / "run"), "--disease", "d99"])
    assert wrong.exit_code != 0 and "close matches" in str(wrong.exception)
    result = runner.invoke(app, ["targets", str(tmp_path / "run"), "--compound", "c5", "--top", "2"])
    assert result.exit_code == 0, result.output
    assert "(d" in result.stdout


def test_softmax_loss_with_learned_compound_embeddings_learns_the_rule(toy_graph, tmp_path):
    raw = _config(toy_graph, compound_features="morgan", loss="softmax").model_dump(mode="json")
    raw["model"]["embed_featured"] = True
    metrics = train_link_run(load_link_config(raw=raw), tmp_path / "run", log=quiet)
    assert metrics["test"]["mrr"] > 1.5 * metrics["degree_prior_test"]["mrr"]


def test_softmax_loss_needs_a_decoder_that_scores_every_target(toy_graph):
    from gnn_drug.errors import ConfigError

    with pytest.raises(ConfigError, match="softmax.*distmult"):
        _config(toy_graph, decoder="mlp", loss="softmax")


def test_a_new_compound_gets_no_learned_embedding_only_its_features():
    """Featured kinds with embed_featured: trained nodes = features + embedding; an appended (new) node = its
    features' projection alone."""
    import torch

    from gnn_drug.models.hetero_encoder import HeteroEncoder

    encoder = HeteroEncoder({"C": 3, "G": 2}, {"C": 4}, [("C", "binds", "G")], hidden_dim=8, layers=0,
                            embed_featured=True)
    with torch.no_grad():
        encoder.embeddings["C"].normal_()
    features = {"C": torch.randn(4, 4)}  # three graph compounds and one new one
    h = encoder.initial(features)["C"]
    projected = encoder.inputs["C"](features["C"])
    assert torch.allclose(h[3], projected[3])
    assert torch.allclose(h[:3], projected[:3] + encoder.embeddings["C"])


def test_pykeen_baselines_rank_the_same_held_out_edges(toy_graph):
    pytest.importorskip("pykeen", reason="the KGE baselines are an optional extra: gnn-drug[baselines]")
    from gnn_drug.kg.build import load_kg
    from gnn_drug.kg.splits import split_edges
    from gnn_drug.tasks.kge_baseline import KGEBaselineConfig, evaluate_kge_baseline, graph_triples

    graph = load_kg(toy_graph)
    ctd = ("Compound", "treats", "Disease")
    split = split_edges(graph, ctd, (0.7, 0.15, 0.15), seed=0)
    triples, offsets, relations = graph_triples(graph)
    assert len(triples) == sum(len(e) for e in graph.edges.values())
    assert offsets == {"Compound": 0, "Gene": 60, "Disease": 100}
    row = triples[triples[:, 1] == relations[ctd]][0]  # a treats edge joins a compound id to a disease id
    assert row[0] < 60 and row[2] >= 100
    for model in ("transe", "rotate"):
        metrics = evaluate_kge_baseline(graph, split, KGEBaselineConfig(model=model, dim=16, epochs=30,
                                                                        batch_size=256), log=quiet)
        assert metrics["test"]["n"] == len(split.test) and 0 < metrics["test"]["mrr"] <= 1
        assert 0 <= metrics["test"]["auroc"] <= 1
        # trained on the message graph only: the held-out treats edges are not among its triples
        assert metrics["triples"] == len(triples) - len(split.val) - len(split.test)


def test_tuning_a_knowledge_graph_config_selects_on_validation_mrr(toy_graph, tmp_path):
    import yaml

    from gnn_drug.tune.study import run_study

    raw = _config(toy_graph, epochs=8).model_dump(mode="json")
    raw["search"] = {"model.hidden_dim": {"choices": [8, 16]}, "train.lr": {"low": 0.003, "high": 0.03, "log": True}}
    config_path = tmp_path / "kg_tune.yaml"
    config_path.write_text(yaml.safe_dump(raw))
    result = run_study(config_path, tmp_path / "tune", trials=3, study_name="kg", pruner="none", log=quiet)
    assert result.finished_trials == 3 and 0 < result.best_value <= 1
    trials = sorted((tmp_path / "tune" / "trials" / "kg").iterdir())
    vals = [json.loads((t / "metrics.json").read_text())["val"]["mrr"] for t in trials]
    assert result.best_value == pytest.approx(max(vals))  # the study's value is each run's validation MRR
    best = load_link_config(tmp_path / "tune" / "best.yaml")  # ready to train
    assert best.model.hidden_dim == result.best_params["model.hidden_dim"] and best.search is None


def test_metapath_model_learns_the_rule_and_explains_with_its_metapath(toy_graph, tmp_path):
    from gnn_drug.tasks.link_prediction import LinkPredictor

    config = _config(toy_graph).model_copy(deep=True)
    config.model.kind = "metapath"
    config.model.metapath.max_length = 2
    metrics = train_link_run(config, tmp_path / "run", log=quiet)
    assert metrics["test"]["mrr"] > 1.5 * metrics["degree_prior_test"]["mrr"]
    assert metrics["test"]["auroc"] > 0.9 > metrics["degree_prior_test"]["auroc"]
    weights = {w["metapath"]: w["coefficient"] for w in metrics["metapath_weights"]}
    rule = "Compound –binds→ Gene ←associates– Disease"
    assert weights[rule] == max(weights.values()) > 0  # the generating mechanism carries the largest weight
    predictor = LinkPredictor.load(tmp_path / "run")
    rows = predictor.rank("d0", top=60, include_known=True, explain_paths=2)
    known = [r for r in rows if r["known"]]
    assert known and all(r["paths"] and "–binds→" in r["paths"][0] and "model attribution +" in r["paths"][0]
                         for r in known)
    assert rows[0]["known"]  # a true treatment ranks first
    for_compound = predictor.rank("c0", top=3)
    assert all(r["id"].startswith("d") for r in for_compound)
    with pytest.raises(Exception, match="paths between them"):
        predictor.rank_new_compound("CCO")


def test_metapath_training_rows_never_see_their_own_edge(toy_graph):
    from gnn_drug.kg.build import load_kg
    from gnn_drug.kg.metapaths import Metapath, MetapathFeatures, Step
    from gnn_drug.kg.splits import message_graph, split_edges
    from gnn_drug.tasks.metapath_links import _training_rows

    graph = load_kg(toy_graph)
    treats = ("Compound", "treats", "Disease")
    seen, _ = message_graph(graph, split_edges(graph, treats, (0.8, 0.1, 0.1), seed=0))
    train = np.stack([seen.edges[treats].source, seen.edges[treats].target], axis=1)
    loop = Metapath((Step(treats, True), Step(treats, False), Step(treats, True)))  # uses the pair's own edge
    base = MetapathFeatures(seen, [loop])
    dwpc, _, labels = _training_rows(base, seen, treats, 3, 2, np.random.default_rng(0), quiet)
    order = np.random.default_rng(0).permutation(len(train))
    row = 0
    for part in np.array_split(order, 3):
        keep = np.setdiff1d(order, part)
        masked = base.with_target_edges(treats, train[keep, 0], train[keep, 1]).pairs(train[part, 0], train[part, 1])
        assert np.allclose(dwpc[row : row + len(part), 0], masked[:, 0]) and labels[row : row + len(part)].all()
        row += len(part) + 2 * len(part)  # then its sampled non-edges
    with_own_edges = base.pairs(train[:, 0], train[:, 1])[:, 0]
    assert (with_own_edges > 0).all()  # unmasked, every training pair would see itself
