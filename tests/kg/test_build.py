"""Knowledge-graph build: the Hetionet and Luo presets against their published counts, and every kind of
dropped row reported on a small graph written here."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from gnn_drug.errors import ConfigError, DataError
from gnn_drug.kg.build import build_kg, load_kg, save_kg
from gnn_drug.kg.spec import load_kg_spec

PRESETS = Path(__file__).parents[2] / "experiments" / "kg"
INCOMPLETE = {"AeG", "GpBP", "GpCC", "GpMF"}  # see the mirror's PROVENANCE.md


@pytest.fixture(scope="module")
def hetionet(data_dir):
    return build_kg(load_kg_spec(PRESETS / "hetionet.yaml"), PRESETS / "hetionet.yaml", data_dir)


def test_hetionet_counts_equal_the_official_metaedges(hetionet, data_dir):
    official = pd.read_csv(data_dir / "kg" / "hetionet" / "metagraph" / "metaedges.tsv", sep="\t")
    counts = {e.abbreviation: len(e) for e in hetionet.edges.values()}
    complete = official[~official["abbreviation"].isin(INCOMPLETE)]
    assert len(complete) == 20
    for row in complete.itertuples():
        assert counts[row.abbreviation] == row.edges, row.abbreviation
        edges = next(e for e in hetionet.edges.values() if e.abbreviation == row.abbreviation)
        assert len(np.unique(edges.source)) == row.source_nodes, row.abbreviation
        assert len(np.unique(edges.target)) == row.target_nodes, row.abbreviation
    assert sum(hetionet.node_counts().values()) == 47031 and len(hetionet.node_ids) == 11
    assert hetionet.edges[("Gene", "regulates", "Gene")].directed
    # every compound has a structure from its InChI, with amides as amides (not RDKit's imidic acids)
    from rdkit import Chem

    smiles = hetionet.structures["Compound"]
    assert len(smiles) == 1552 and all(smiles)
    imidic = Chem.MolFromSmarts("[OX2H1][CX3]=[NX2]")
    assert sum(Chem.MolFromSmiles(s).HasSubstructMatch(imidic) for s in smiles) <= 10  # was 364 before the fix
    assert all(r["dangling_source"] == 0 and r["dangling_target"] == 0 for r in hetionet.report)


def test_saved_graph_reloads_identically_and_becomes_heterodata(hetionet, tmp_path):
    save_kg(hetionet, tmp_path / "kg")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging folder left behind
    again = load_kg(tmp_path / "kg")
    assert again.node_ids == hetionet.node_ids
    for edge_type, edges in hetionet.edges.items():
        assert np.array_equal(again.edges[edge_type].source, edges.source)
        assert np.array_equal(again.edges[edge_type].target, edges.target)
    data = again.to_heterodata()
    assert data["Compound"].num_nodes == 1552
    assert data["Compound", "binds", "Gene"].edge_index.shape == (2, 11571)
    manifest = json.loads((tmp_path / "kg" / "manifest.json").read_text())
    assert manifest["edges"]["Compound|treats|Disease"] == 755
    # 1 node file + 24 edge sources (the official 5k sample serves GpBP, GpCC and GpMF) + the structures
    assert again.structures["Compound"] == hetionet.structures["Compound"]
    assert len(manifest["sources"]) == 24 and all(len(v) == 64 for v in manifest["sources"].values())


def test_luo_network_from_matrices(data_dir):
    graph = build_kg(load_kg_spec(PRESETS / "luo_dtinet.yaml"), PRESETS / "luo_dtinet.yaml", data_dir)
    assert graph.node_counts()["Drug"] == 708 and graph.node_counts()["Disease"] == 5603
    # protein.txt lists 1,512 accessions of which 19 repeat: one node each, reported
    assert graph.node_counts()["Protein"] == 1493 and graph.node_report[1]["repeated_in_table"] == 19
    assert len(graph.edges[("Drug", "interacts", "Drug")]) == 5018  # symmetric matrix: each pair once
    ppi = next(r for r in graph.report if r["edge_type"] == "Protein|interacts|Protein")
    assert ppi["self_loops"] >= 591  # the diagonal is not an edge
    # the preset adds top-10 structure-similarity networks, undirected, weighted by the similarity
    for kind in ("Drug", "Protein"):
        similar = graph.edges[(kind, "similar", kind)]
        assert not similar.directed and (similar.source < similar.target).all()
        assert 5 * graph.node_counts()[kind] <= len(similar) <= 10 * graph.node_counts()[kind]
        assert (0 < similar.weight).all() and (similar.weight <= 1 + 1e-9).all()
        assert next(r for r in graph.report if r.get("similarity") == kind)["edges"] == len(similar)


def _write(tmp_path: Path, spec: dict) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


@pytest.fixture
def small(tmp_path):
    pd.DataFrame({"id": ["c1", "c2", "c3", "g1", "g2", "c1"], "kind": ["C", "C", "C", "G", "G", "C"],
                  "name": ["aspirin", "b", "c", "PTGS1", "PTGS2", "dup"]}).to_csv(tmp_path / "nodes.csv",
                                                                                   index=False)
    pd.DataFrame({"src": ["c1", "c1", "c2", "c9", "c1", "c3"], "dst": ["g1", "g1", "g2", "g1", "g7", "g2"],
                  "score": [0.5, 0.5, 2.0, 1.0, 1.0, 3.0], "kind": ["a", "a", "a", "a", "a", "b"]}).to_csv(
        tmp_path / "binds.csv", index=False)
    pd.DataFrame({"a": ["c1", "c2", "c2", "c3"], "b": ["c2", "c1", "c2", "c1"]}).to_csv(tmp_path / "sim.tsv",
                                                                                      sep="\t", index=False)
    return {"name": "small", "nodes": [{"file": "nodes.csv", "id_column": "id", "kind_column": "kind",
                                        "name_column": "name"}],
            "edges": [{"file": "binds.csv", "relation": "binds", "source": {"kind": "C", "column": "src"},
                       "target": {"kind": "G", "column": "dst"}, "weight_column": "score",
                       "where": {"kind": "a"}},
                      {"file": "sim.tsv", "relation": "resembles", "source": {"kind": "C", "column": "a"},
                       "target": {"kind": "C", "column": "b"}}]}


def test_dangling_duplicates_and_self_loops_are_dropped_and_counted(small, tmp_path):
    graph = build_kg(load_kg_spec(_write(tmp_path, small)), tmp_path / "spec.yaml")
    binds, sim = graph.report[0], graph.report[1]
    assert binds["rows"] == 5  # the 'where' filter left five rows
    assert (binds["dangling_source"], binds["dangling_target"]) == (1, 1)
    assert binds["dangling_examples"] == ["c9", "g7"]
    assert binds["duplicates_in_type"] == 1
    edges = graph.edges[("C", "binds", "G")]
    assert len(edges) == 2 and edges.weight.tolist() == [0.5, 2.0]
    # c1-c2 and c2-c1 are one undirected fact; c2-c2 is a self-loop
    assert sim["self_loops"] == 1 and len(graph.edges[("C", "resembles", "C")]) == 2
    assert graph.node_report[0]["repeated_in_table"] == 1 and graph.node_names["C"][0] == "aspirin"


def test_errors_name_the_file_and_the_column(small, tmp_path):
    small["edges"][0]["source"]["column"] = "source_id"
    with pytest.raises(DataError, match="binds.csv: no column 'source_id'"):
        build_kg(load_kg_spec(_write(tmp_path, small)), tmp_path / "spec.yaml")
    small["edges"][0]["source"] = {"kind": "Protein", "column": "src"}
    with pytest.raises(DataError, match="node kind 'Protein' has no node table"):
        build_kg(load_kg_spec(_write(tmp_path, small)), tmp_path / "spec.yaml")
    small["nodes"][0]["kind"] = "C"
    with pytest.raises(ConfigError, match="exactly one of kind and kind_column"):
        load_kg_spec(_write(tmp_path, small))


def test_command_line_build_reports_drops_and_stats_prints_counts(small, tmp_path):
    from typer.testing import CliRunner

    from gnn_drug.cli import app

    runner = CliRunner()
    result = runner.invoke(app, ["kg", "build", str(_write(tmp_path, small)), "--out", str(tmp_path / "kg")])
    assert result.exit_code == 0, result.output
    assert "binds.csv: dropped 1 dangling source ids, 1 dangling target ids" in result.stdout
    assert "(e.g. c9, g7)" in result.stdout and "1 repeated in the file" in result.stdout
    stats = runner.invoke(app, ["kg", "stats", str(tmp_path / "kg")])
    assert stats.exit_code == 0, stats.output
    assert "C - binds - G" in stats.stdout and "total: 5 nodes, 4 edges" in stats.stdout
    missing = runner.invoke(app, ["kg", "stats", str(tmp_path / "nothing")])
    assert missing.exit_code != 0


def test_merged_hetionet_luo_joins_compounds_and_genes_to_proteins(data_dir):
    graph = build_kg(load_kg_spec(PRESETS / "hetionet_luo.yaml"), PRESETS / "hetionet_luo.yaml", data_dir)
    luo_drugs = next(r for r in graph.node_report if r["file"].endswith("drug.txt"))
    assert luo_drugs["joined_to_earlier_tables"] == 698 and luo_drugs["new"] == 10  # one node per DrugBank id
    assert graph.node_counts()["Compound"] == 1552 + 10
    assert graph.node_counts()["Gene"] == 20945 and graph.node_counts()["Protein"] == 1493
    encodes = next(r for r in graph.report if r["edge_type"] == "Gene|encodes|Protein")
    assert encodes["join"]["target"]["reached"] >= 1400  # UniProt proteins that reach an Entrez gene
    assert len(encodes["join"]["target"]["not_reached_examples"]) == 10
    # both sources' edges on one compound: Hetionet's binds-Gene and Luo's targets-Protein
    assert ("Compound", "binds", "Gene") in graph.edges and ("Compound", "targets", "Protein") in graph.edges


def test_similarity_edges_join_each_structure_to_its_nearest_ones(tmp_path):
    """Compounds: Tanimoto on Morgan bits; proteins: cosine of k-mer counts; nodes without structure get none."""
    pd.DataFrame({"id": ["c1", "c2", "c3", "c4", "p1", "p2", "p3"], "kind": ["C"] * 4 + ["P"] * 3}).to_csv(
        tmp_path / "nodes.csv", index=False)
    pd.DataFrame({"c": ["c1", "c2", "c3"], "smiles": ["CCCCCCO", "CCCCCCN", "c1ccccc1C(=O)O"]}).to_csv(
        tmp_path / "smiles.csv", index=False)
    pd.DataFrame({"p": ["p1", "p2", "p3"], "seq": ["MKTAYIAKQRQISFVKSHFSRQ", "MKTAYIAKQRQISFVKSHFSRW",
                                                    "GGGGPPPPWWWWDDDD"]}).to_csv(tmp_path / "seq.csv", index=False)
    pd.DataFrame({"a": ["c1"], "b": ["p1"]}).to_csv(tmp_path / "binds.csv", index=False)
    spec = _write(tmp_path, {
        "name": "sim", "nodes": [{"file": "nodes.csv", "id_column": "id", "kind_column": "kind"}],
        "edges": [{"file": "binds.csv", "relation": "binds", "source": {"kind": "C", "column": "a"},
                   "target": {"kind": "P", "column": "b"}}],
        "structures": [{"file": "smiles.csv", "kind": "C", "id_column": "c", "smiles_column": "smiles"},
                       {"file": "seq.csv", "kind": "P", "id_column": "p", "sequence_column": "seq"}],
        "similarity": [{"kind": "C", "top_k": 1}, {"kind": "P", "top_k": 1, "kmer": 3}]})
    graph = build_kg(load_kg_spec(spec), spec)
    compounds = graph.edges[("C", "similar", "C")]
    pairs = {tuple(sorted((int(a), int(b)))) for a, b in zip(compounds.source, compounds.target, strict=True)}
    assert (0, 1) in pairs and not any(3 in p for p in pairs)  # the two alkyl chains; c4 has no structure
    proteins = graph.edges[("P", "similar", "P")]
    best = {(int(a), int(b)): w for a, b, w in zip(proteins.source, proteins.target, proteins.weight, strict=True)}
    assert best[(0, 1)] > 0.8 and all(w < best[(0, 1)] for k, w in best.items() if k != (0, 1))
    bad = _write(tmp_path, {**yaml.safe_load(spec.read_text()), "similarity": [{"kind": "X"}]})
    with pytest.raises(DataError, match="X nodes have no structures"):
        build_kg(load_kg_spec(bad), bad)
