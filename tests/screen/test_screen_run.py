"""``gnn-drug screen`` end to end on real MOSES molecules with a trained Tox21 model: outputs, rejects, ranking,
resume after an interruption, and the HTML report (rendered in headless Chromium where it is installed)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from gnn_drug.cli import app

RANKING = {
    "objectives": [{"column": "tox21:max", "direction": "minimize", "range": [0.05, 0.6], "weight": 2},
                   {"column": "qed", "direction": "maximize", "range": [0.3, 0.9]}],
    "filters": [{"column": "lipinski_violations", "op": "<=", "value": 1},
                {"column": "pains", "op": "==", "value": ""}],
    "top": 25, "shortlist": 150, "dedupe": "inchikey",
    "diversity": {"method": "sphere", "min_distance": 0.3}, "pareto": ["tox21:max", "qed"],
}


@pytest.fixture(scope="module")
def library(data_dir, tmp_path_factory):
    frame = pd.read_csv(data_dir / "library" / "moses_train.csv.gz", nrows=400)
    frame.columns = ["smiles"]
    frame["compound_id"] = [f"MOSES-{i:05d}" for i in range(len(frame))]
    extra = pd.DataFrame({"smiles": ["C1CC(", frame["smiles"][3].replace("c1ccccc1", "C1=CC=CC=C1")],
                          "compound_id": ["BROKEN-1", "DUPLICATE-OF-3"]})
    path = tmp_path_factory.mktemp("library") / "library.csv.gz"
    pd.concat([frame, extra], ignore_index=True).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def screened(library, trained_run, tmp_path_factory):
    folder = tmp_path_factory.mktemp("screen")
    (folder / "rank.yaml").write_text(yaml.safe_dump(RANKING))
    out = folder / "out"
    args = ["screen", "--library", str(library), "--model", f"tox21={trained_run}", "--rank",
            str(folder / "rank.yaml"), "--out", str(out), "--id-column", "compound_id", "--chunk-size", "100",
            "--workers", "2"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return out, args


def test_every_molecule_is_scored_or_rejected(screened):
    out, _ = screened
    scores = pd.read_parquet(out / "scores.parquet")
    rejects = pd.read_csv(out / "rejects.csv")
    assert len(scores) + len(rejects) == 402
    assert rejects["row"].tolist() == [401] and rejects["input"].tolist() == ["C1CC("]
    assert "SMILES Parse Error" in rejects["reason"][0]
    assert {"tox21:NR-AR", "tox21:max", "mol_wt", "clogp", "tpsa", "qed", "preliminary_score"} <= set(scores.columns)
    probabilities = scores[[c for c in scores.columns if c.startswith("tox21:SR")
                            and not c.endswith("_std")]].to_numpy()
    assert np.all((probabilities >= 0) & (probabilities <= 1))
    shortlisted = scores.dropna(subset=["qed"])
    assert len(shortlisted) == RANKING["shortlist"]  # detailed properties only for the shortlist
    assert shortlisted["inchikey"].str.len().eq(27).all()
    assert shortlisted["tox21:nearest_similarity"].between(0, 1).all()


def test_top_list_is_ranked_filtered_deduplicated_and_diverse(screened):
    out, _ = screened
    top = pd.read_csv(out / "top.csv", keep_default_na=False)
    assert 0 < len(top) <= RANKING["top"]
    assert top["rank"].tolist() == list(range(1, len(top) + 1))
    assert (np.diff(top["score"].to_numpy()) <= 1e-12).all()
    assert (top["lipinski_violations"] <= 1).all() and (top["pains"] == "").all()
    assert top["inchikey"].is_unique
    assert not ({"MOSES-00003", "DUPLICATE-OF-3"} <= set(top["id"]))  # one InChIKey, one entry
    from rdkit import Chem, DataStructs

    from gnn_drug.screen.domain import morgan_fingerprint

    fps = [morgan_fingerprint(Chem.MolFromSmiles(s)) for s in top["smiles"]]
    for i in range(len(fps)):
        assert max(DataStructs.BulkTanimotoSimilarity(fps[i], fps[:i]) or [0]) <= 0.7 + 1e-9
    assert top["pareto_front"].astype(str).isin(["True"]).any()


def test_interrupted_screen_resumes_from_finished_chunks(screened, tmp_path):
    out, args = screened
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    for name in ("scores.parquet", "top.csv", "report.html", "summary.json"):
        (copy / name).unlink()
    (copy / ".chunks" / "chunk_000004.parquet").unlink()  # the last chunk was not finished
    resumed = CliRunner().invoke(app, [*args[:-6], "--out", str(copy), *args[-6:][2:]])
    assert resumed.exit_code == 0, resumed.output
    assert "resuming: 4 finished chunk(s)" in resumed.output
    pd.testing.assert_frame_equal(pd.read_csv(copy / "top.csv"), pd.read_csv(out / "top.csv"))


def test_report_is_self_contained_with_structures(screened):
    out, _ = screened
    text = (out / "report.html").read_text()
    top = pd.read_csv(out / "top.csv")
    assert text.count("<tr class='compound'") == len(top)
    assert text.count("<svg") >= len(top) + 2  # structures plus the two plots
    import re

    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", text)  # nothing fetched from the network
    assert "molecules scored" in text and "lipinski_violations &lt;= 1" in text


def _browser():
    import os

    chromium, driver = shutil.which("chromium") or shutil.which("chromium-browser"), shutil.which("chromedriver")
    if not chromium or not driver:
        pytest.skip("headless Chromium not installed (Debian chromium + chromium-driver; .ci/run installs them)")
    webdriver = pytest.importorskip("selenium.webdriver")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1400,1000"):
        options.add_argument(flag)
    from selenium.webdriver.chrome.service import Service

    return webdriver.Chrome(service=Service(driver, env={**os.environ}), options=options)


def test_report_renders_sorts_and_filters_in_headless_chromium(screened, tmp_path):
    from selenium.webdriver.common.by import By

    out, _ = screened
    top = pd.read_csv(out / "top.csv")
    browser = _browser()
    try:
        browser.get((out / "report.html").resolve().as_uri())
        rows = browser.find_elements(By.CSS_SELECTOR, "#top tbody tr.compound")
        assert len(rows) == len(top)
        structures = browser.find_elements(By.CSS_SELECTOR, "#top td.structure svg")
        assert len(structures) == len(top) and all(s.size["width"] > 100 for s in structures[:3])
        headers = [h.text for h in browser.find_elements(By.CSS_SELECTOR, "#top th")]
        score_column = headers.index("score")

        def scores():
            return [float(r.find_elements(By.TAG_NAME, "td")[score_column].text or "nan")
                    for r in browser.find_elements(By.CSS_SELECTOR, "#top tbody tr.compound")]

        assert scores() == sorted(scores(), reverse=True)  # as ranked
        browser.find_elements(By.CSS_SELECTOR, "#top th")[score_column].click()
        assert scores() == sorted(scores())  # ascending after one click
        browser.find_elements(By.CSS_SELECTOR, "#top th")[score_column].click()
        assert scores() == sorted(scores(), reverse=True)
        first = browser.find_elements(By.CSS_SELECTOR, "#top tbody tr.compound")[0]
        detail = browser.find_element(By.ID, f"detail-{first.get_attribute('data-row')}")
        assert not detail.is_displayed()
        first.click()
        assert detail.is_displayed() and "tox21:NR-AR" in detail.text
        wanted = str(top["id"][0])
        browser.find_element(By.ID, "filter").send_keys(wanted)
        visible = [r for r in browser.find_elements(By.CSS_SELECTOR, "#top tbody tr.compound") if r.is_displayed()]
        assert 1 <= len(visible) < len(top) and wanted in visible[0].text
        shot = tmp_path / "report.png"
        browser.save_screenshot(str(shot))
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
        shutil.copy(shot, out / "report_screenshot.png")
    finally:
        browser.quit()


def test_rerun_with_another_ranking_reranks_without_rescoring(screened, tmp_path):
    out, args = screened
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    ranking = dict(RANKING, top=10, objectives=[{"column": "qed", "direction": "maximize", "range": [0.3, 0.9]}])
    (tmp_path / "qed.yaml").write_text(yaml.safe_dump(ranking))
    rerun = CliRunner().invoke(app, ["screen", "--library", args[2], "--model", args[4], "--rank",
                                     str(tmp_path / "qed.yaml"), "--out", str(copy), *args[9:]])
    assert rerun.exit_code == 0, rerun.output
    assert "resuming: 5 finished chunk(s)" in rerun.output and "molecules/s" not in rerun.output.split("resuming")[1]
    top = pd.read_csv(copy / "top.csv")
    assert len(top) <= 10 and (np.diff(top["score"].to_numpy()) <= 1e-12).all()
    np.testing.assert_allclose(top["score"], np.clip((top["qed"] - 0.3) / 0.6, 0, 1))  # ranked by QED alone now


def _screen_again(args: list[str], out, *options: str):
    """The fixture's screen into another folder with more options; returns the CLI result."""
    at = args.index("--out")
    return CliRunner().invoke(app, [*args[: at + 1], str(out), *args[at + 2:], *options])


def _model_scores(reference, other) -> tuple[np.ndarray, np.ndarray]:
    """The model columns of two screens' scores.parquet, rows aligned."""
    first = pd.read_parquet(reference / "scores.parquet").set_index("row")
    second = pd.read_parquet(other / "scores.parquet").set_index("row").loc[first.index]
    columns = [c for c in first.columns if c.startswith("tox21:") and pd.api.types.is_float_dtype(first[c])
               and "nearest" not in c]
    return first[columns].to_numpy(), second[columns].to_numpy()


def test_bf16_screen_scores_match_fp32_closely_and_is_not_mixed_with_fp32_chunks(screened, tmp_path):
    out, args = screened
    bf16_out = tmp_path / "bf16"
    shutil.copytree(out, bf16_out)  # fp32 chunks present: a bf16 rerun must not reuse them
    result = _screen_again(args, bf16_out, "--precision", "bf16")
    assert result.exit_code == 0, result.output
    assert "starting afresh" in result.output
    fp32, bf16 = _model_scores(out, bf16_out)
    difference = np.abs(fp32 - bf16)
    assert difference.max() < 0.02 and difference.mean() < 2e-3
    assert not np.array_equal(fp32, bf16)  # it did run in bfloat16
    bad = CliRunner().invoke(app, [*args, "--precision", "fp8"])
    assert bad.exit_code == 2 and "choose fp32 or bf16" in bad.output


def test_compiled_screen_gives_the_eager_scores(screened, tmp_path):
    """``--compile on`` (the default for libraries of 50,000+ molecules) runs the models through torch.compile;
    the fixture's 402-molecule screen ran them eagerly (auto is off below that size)."""
    from gnn_drug.train.compiled import compiler_available

    if not compiler_available():
        pytest.skip("no C++ compiler for torch.compile")
    out, args = screened
    result = _screen_again(args, tmp_path / "compiled", "--compile", "on")
    assert result.exit_code == 0, result.output
    assert "models run through torch.compile" in result.output
    eager, compiled = _model_scores(out, tmp_path / "compiled")
    np.testing.assert_allclose(compiled, eager, rtol=1e-4, atol=1e-6)
    assert json.loads((tmp_path / "compiled" / "summary.json").read_text())["compiled"] is True
    assert json.loads((out / "summary.json").read_text())["compiled"] is False
    bad = CliRunner().invoke(app, [*args, "--compile", "maybe"])
    assert bad.exit_code == 2 and "choose auto, on, off" in bad.output


def test_shortlist_columns_keep_their_types_when_the_first_chunks_have_no_shortlisted_molecule(screened, tmp_path):
    """Ranked by row number, the shortlist is the last 10 rows: the first chunks of scores.parquet carry the
    shortlist columns all missing, and every chunk must still get one schema (booleans, strings, numbers)."""
    out, args = screened
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    ranking = {"objectives": [{"column": "row", "direction": "maximize", "range": [0, 401]}], "filters": [],
               "top": 5, "shortlist": 10, "dedupe": "none"}
    (tmp_path / "by_row.yaml").write_text(yaml.safe_dump(ranking))
    rerun = CliRunner().invoke(app, ["screen", "--library", args[2], "--model", args[4], "--rank",
                                     str(tmp_path / "by_row.yaml"), "--out", str(copy), *args[9:]])
    assert rerun.exit_code == 0, rerun.output
    scores = pd.read_parquet(copy / "scores.parquet")
    shortlisted = scores.dropna(subset=["qed"])
    assert sorted(shortlisted["row"]) == sorted(scores["row"])[-10:]
    first_chunk = scores["row"] <= 100
    assert scores.loc[first_chunk, ["hba", "rotatable_bonds", "veber_ok", "pains", "in_domain"]].isna().all().all()
    assert shortlisted["veber_ok"].dtype == "boolean" and shortlisted["in_domain"].dtype == "boolean"
    assert shortlisted["hba"].between(0, 20).all() and shortlisted["pains"].notna().all()
    assert pd.read_csv(copy / "top.csv")["row"].tolist() == sorted(shortlisted["row"], reverse=True)[:5]


def test_predictions_do_not_depend_on_how_a_chunk_is_packed(library, trained_run, monkeypatch):
    """The parent expands and scores one pack of a chunk at a time; splitting a chunk into many packs (and so many
    model calls) must give the same frame, row for row, as one pack."""
    from gnn_drug.screen import workers
    from gnn_drug.screen.runner import _predict_chunk, load_models

    models, featurizers = load_models({"tox21": trained_run}, lambda _m: None)
    smiles = pd.read_csv(library)["smiles"].tolist()[:120]
    frames = []
    for pack_size in (2048, 17):
        monkeypatch.setattr(workers, "PACK_SIZE", pack_size)
        chunk = workers.phase1_chunk((0, smiles), featurizers)
        assert len(chunk.graphs[0]) == (1 if pack_size == 2048 else 8)
        frames.append(_predict_chunk(models, chunk, len(featurizers)))
    pd.testing.assert_frame_equal(frames[0], frames[1], check_exact=False, rtol=1e-6)
    assert frames[0]["tox21:max"].nunique() > 50
