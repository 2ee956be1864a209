"""Library readers, properties, ranking and diversity of the screening pipeline on small real inputs."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest
from rdkit import Chem

from gnn_drug.errors import ConfigError, DataError
from gnn_drug.screen.library import iter_library
from gnn_drug.screen.properties import BASIC_COLUMNS, DETAILED_COLUMNS, basic_properties, detailed_properties
from gnn_drug.screen.ranking import Diversity, Ranking, diverse_pick, load_ranking, pareto_front

SMILES = ["CCO", "c1ccccc1O", "CC(=O)Oc1ccccc1C(=O)O", "O=C(C=Cc1ccc(O)cc1)c1ccccc1", "CN1CCC[C@H]1c1cccnc1"]


def _write_all_formats(tmp_path):
    frame = pd.DataFrame({"SMILES": SMILES, "name": [f"m{i}" for i in range(len(SMILES))]})
    paths = {"csv": tmp_path / "lib.csv", "tsv.gz": tmp_path / "lib.tsv.gz", "parquet": tmp_path / "lib.parquet",
             "smi": tmp_path / "lib.smi", "sdf.gz": tmp_path / "lib.sdf.gz"}
    frame.to_csv(paths["csv"], index=False)
    frame.to_csv(paths["tsv.gz"], sep="\t", index=False)
    frame.to_parquet(paths["parquet"], index=False)
    paths["smi"].write_text("".join(f"{s} m{i}\n" for i, s in enumerate(SMILES)))
    with gzip.open(paths["sdf.gz"], "wt") as handle:
        writer = Chem.SDWriter(handle)
        for i, s in enumerate(SMILES):
            mol = Chem.MolFromSmiles(s)
            mol.SetProp("_Name", f"m{i}")
            writer.write(mol)
        writer.close()
    return paths


def test_every_library_format_gives_the_same_molecules_in_chunks(tmp_path):
    canonical = [Chem.MolToSmiles(Chem.MolFromSmiles(s)) for s in SMILES]
    for kind, path in _write_all_formats(tmp_path).items():
        smiles_column = "smiles" if kind in ("smi", "sdf.gz") else "SMILES"
        id_column = None if kind in ("smi", "sdf.gz") else "name"
        chunks = list(iter_library(path, smiles_column, id_column, chunk_size=2))
        assert [c.first_row for c in chunks] == [1, 3, 5], kind
        got = [Chem.MolToSmiles(Chem.MolFromSmiles(s)) for c in chunks for s in c.smiles]
        assert got == canonical, kind
        if kind != "smi":
            assert [i for c in chunks for i in c.ids] == [f"m{i}" for i in range(5)], kind


def test_molecule_counts_for_the_progress_bar(tmp_path):
    from gnn_drug.screen.library import count_molecules

    assert {kind: count_molecules(path) for kind, path in _write_all_formats(tmp_path).items()} == dict.fromkeys(
        ("csv", "tsv.gz", "parquet", "smi", "sdf.gz"), 5)


def test_missing_library_or_column_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="library file not found"):
        next(iter_library(tmp_path / "none.csv"))
    path = _write_all_formats(tmp_path)["csv"]
    with pytest.raises(DataError, match="no SMILES column 'smi'"):
        next(iter_library(path, "smi"))


def test_properties_and_alerts_of_known_molecules():
    aspirin = dict(zip(BASIC_COLUMNS, basic_properties(Chem.MolFromSmiles("CC(=O)Oc1ccccc1C(=O)O")), strict=True))
    assert aspirin["mol_wt"] == pytest.approx(180.16, abs=0.01)
    assert aspirin["hbd"] == 1 and aspirin["heavy_atoms"] == 13 and aspirin["tpsa"] == pytest.approx(63.6, abs=0.1)
    detailed = dict(zip(DETAILED_COLUMNS, detailed_properties(Chem.MolFromSmiles("CC(=O)Oc1ccccc1C(=O)O")),
                        strict=True))
    assert detailed["hba"] == 3 and detailed["rotatable_bonds"] == 2 and detailed["veber_ok"] is True
    logp, violations, qed, pains, inchikey = (detailed[c] for c in ("clogp", "lipinski_violations", "qed", "pains",
                                                                     "inchikey"))
    assert logp == pytest.approx(1.31, abs=0.01) and violations == 0
    assert 0.5 < qed < 0.6 and inchikey == "BSYNRYMUTXBXSQ-UHFFFAOYSA-N" and pains == ""
    # a chalcone: Michael acceptor (Brenk); an azo-catechol-like quinone triggers PAINS
    brenk = DETAILED_COLUMNS.index("brenk")
    assert "Michael_acceptor" in detailed_properties(Chem.MolFromSmiles("O=C(C=Cc1ccc(O)cc1)c1ccccc1"))[brenk]
    assert detailed_properties(Chem.MolFromSmiles("O=C1C=CC(=O)C=C1"))[DETAILED_COLUMNS.index("pains")] != ""
    # an alkane chain with 12 rotatable bonds breaks Veber's rule
    assert detailed_properties(Chem.MolFromSmiles("CCCCCCCCCCCCCCO"))[DETAILED_COLUMNS.index("veber_ok")] is False


def test_desirability_score_filters_and_pareto():
    ranking = Ranking.model_validate({
        "objectives": [{"column": "tox", "direction": "minimize", "range": [0.1, 0.5], "weight": 2},
                       {"column": "qed", "direction": "maximize", "range": [0.2, 0.8]}],
        "filters": [{"column": "pains", "op": "==", "value": ""}],
        "pareto": ["tox", "qed"]})
    frame = pd.DataFrame({"tox": [0.05, 0.3, 0.6, 0.1, 0.2], "qed": [0.8, 0.5, 0.9, 0.5, 0.9],
                          "pains": ["", "", "", "quinone", ""]})
    score = ranking.score(frame)
    assert score[0] == pytest.approx(1.0)
    assert score[1] == pytest.approx((0.5 ** 2 * 0.5) ** (1 / 3))
    assert score[2] == 0.0  # fails the toxicity objective entirely
    assert np.isnan(score[3])  # filtered out
    assert not np.isnan(ranking.score(frame, available={"tox", "qed"})[3])  # filter column not known yet
    assert pareto_front(frame, ranking).tolist() == [True, False, False, False, True]


def test_ranking_file_errors(tmp_path):
    path = tmp_path / "rank.yaml"
    path.write_text("objectives:\n  - {column: qed, direction: up, range: [0, 1]}\n")
    with pytest.raises(ConfigError, match="objectives.0.direction"):
        load_ranking(path)


def test_sphere_and_butina_diversity_keep_the_best_of_near_duplicates():
    from gnn_drug.screen.domain import morgan_fingerprint

    smiles = ["c1ccccc1CCO", "c1ccccc1CCCO", "C1CCNCC1C(=O)O", "c1ccccc1CCCCO", "CC(C)(C)OC(=O)N"]
    fps = [morgan_fingerprint(Chem.MolFromSmiles(s)) for s in smiles]
    order = np.arange(len(smiles))
    picked = diverse_pick(fps, order, top=3, diversity=Diversity(method="sphere", min_distance=0.5))
    assert picked[0] == 0 and 1 not in picked and 3 not in picked and len(picked) == 3
    butina = diverse_pick(fps, order, top=5, diversity=Diversity(method="butina", min_distance=0.5))
    assert butina[0] == 0 and 1 not in butina
    maxmin = diverse_pick(fps, order, top=3, diversity=Diversity(method="maxmin"))
    assert maxmin[0] == 0 and len(set(maxmin)) == 3 and maxmin == sorted(maxmin)
