"""Dataset registry: mirror, cache and checksum-verified download, with actionable errors."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import urllib.request

import pytest

from gnn_drug.data import registry
from gnn_drug.data.registry import DATASETS, get_source, resolve_dataset, sha256_of
from gnn_drug.errors import DatasetUnavailableError


class FakeResponse(io.BytesIO):
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


@pytest.fixture
def no_mirror(monkeypatch):
    monkeypatch.delenv("GNN_DRUG_DATA", raising=False)


def files_under(path):
    return [p for p in path.rglob("*") if p.is_file()]


def test_tox21_resolves_to_the_mirror_and_matches_the_registry_checksum(data_dir):
    path = resolve_dataset("tox21", data_dir=data_dir)
    assert path == data_dir / "moleculenet" / "tox21.csv"
    assert sha256_of(path) == DATASETS["tox21"].sha256


def test_every_mirrored_registry_file_matches_its_checksum(data_dir):
    checked = 0
    for source in DATASETS.values():
        path = data_dir / source.mirror_path
        if path.is_file():
            assert sha256_of(path) == source.sha256, source.name
            checked += 1
    assert checked >= 2  # tox21 and clintox at least


def test_mirror_from_environment_variable(data_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("GNN_DRUG_DATA", str(data_dir))
    assert resolve_dataset("ClinTox", cache_dir=tmp_path) == data_dir / "moleculenet" / "clintox.csv"


def test_unavailable_dataset_message_names_dataset_url_and_variable(no_mirror, tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    with pytest.raises(DatasetUnavailableError) as info:
        resolve_dataset("tox21", cache_dir=tmp_path)
    message = str(info.value)
    assert "'tox21'" in message
    assert DATASETS["tox21"].url in message
    assert "GNN_DRUG_DATA" in message
    assert "network is unreachable" in message
    assert files_under(tmp_path) == []


def test_no_download_requested(no_mirror, tmp_path, monkeypatch):
    monkeypatch.setattr(urllib.request, "urlopen", pytest.fail)
    with pytest.raises(DatasetUnavailableError) as info:
        resolve_dataset("sider", cache_dir=tmp_path, download=False)
    assert "'sider'" in str(info.value) and DATASETS["sider"].url in str(info.value)
    assert "GNN_DRUG_DATA" in str(info.value)


def test_checksum_mismatch_is_refused_and_nothing_is_kept(no_mirror, tmp_path, monkeypatch):
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout=None: FakeResponse(b"smiles,y\nCCO,1\n"))
    with pytest.raises(DatasetUnavailableError) as info:
        resolve_dataset("tox21", cache_dir=tmp_path)
    assert "sha256" in str(info.value) and "not kept" in str(info.value)
    assert DATASETS["tox21"].sha256 in str(info.value)
    assert files_under(tmp_path) == []
    # and a later call does not find a half-kept file: it tries to download again
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout=None: FakeResponse(b"other"))
    with pytest.raises(DatasetUnavailableError, match="not kept"):
        resolve_dataset("tox21", cache_dir=tmp_path)


def test_verified_download_is_kept_in_the_cache_and_reused(no_mirror, tmp_path, monkeypatch):
    payload = b"smiles,y\nCCO,1\nCCC,0\n"
    fake = dataclasses.replace(DATASETS["esol"], sha256=hashlib.sha256(payload).hexdigest())
    monkeypatch.setitem(registry.DATASETS, "esol", fake)
    urls = []

    def serve(url, timeout=None):
        urls.append(url)
        return FakeResponse(payload)

    monkeypatch.setattr(urllib.request, "urlopen", serve)
    path = resolve_dataset("esol", cache_dir=tmp_path)
    assert path == tmp_path / "datasets" / fake.mirror_path
    assert path.read_bytes() == payload
    assert urls == [fake.url]
    assert resolve_dataset("esol", cache_dir=tmp_path) == path
    assert len(urls) == 1  # second call served from the cache
    assert [p.name for p in files_under(tmp_path)] == ["delaney.csv"]  # no temporary file left behind


def test_cache_used_when_no_mirror(no_mirror, tmp_path, monkeypatch):
    cached = tmp_path / "datasets" / DATASETS["clintox"].mirror_path
    cached.parent.mkdir(parents=True)
    cached.write_text("smiles,FDA_APPROVED,CT_TOX\nCCO,1,0\n")
    monkeypatch.setattr(urllib.request, "urlopen", pytest.fail)
    assert resolve_dataset("clintox", cache_dir=tmp_path) == cached


def test_cache_dir_from_environment(no_mirror, tmp_path, monkeypatch):
    monkeypatch.setenv("GNN_DRUG_CACHE", str(tmp_path))
    assert registry.default_cache_dir() == tmp_path


def test_unknown_dataset_lists_the_known_ones():
    with pytest.raises(DatasetUnavailableError) as info:
        get_source("tox22")
    assert "'tox22'" in str(info.value)
    assert "tox21" in str(info.value) and "clintox" in str(info.value)


def test_registry_entries_are_complete():
    for name, source in DATASETS.items():
        assert name == source.name
        assert source.url.startswith("https://")
        assert len(source.sha256) == 64 and int(source.sha256, 16) >= 0
        assert source.licence
        assert source.task_type in ("classification", "regression")


def test_every_file_of_multi_file_datasets_matches_its_checksum(data_dir):
    for name in ("davis", "kiba"):
        files = registry.resolve_dataset_files(name, data_dir)
        assert set(files) == {"matrix", "ligands", "proteins", "train_folds", "test_fold"}
        for spec in DATASETS[name].files:
            assert sha256_of(files[spec.key]) == spec.sha256, (name, spec.key)


def test_upstream_pickled_matrix_is_converted_without_running_code(data_dir, no_mirror, tmp_path, monkeypatch):
    """Davis's upstream ``Y`` is a pickled array: the download path rebuilds it with an array-only unpickler and
    keeps it only if the re-saved .npy has the registered checksum."""
    import pickle

    import numpy as np

    matrix = np.load(data_dir / "dta" / "davis" / "affinity.npy")
    served = {}

    def serve(url, timeout=None):
        served[url] = True
        if url.endswith("/Y"):
            return FakeResponse(pickle.dumps(matrix, protocol=2))
        relative = url.split("/data/", 1)[1]
        return FakeResponse((data_dir / "dta" / relative).read_bytes())

    monkeypatch.setattr(urllib.request, "urlopen", serve)
    files = registry.resolve_dataset_files("davis", cache_dir=tmp_path)
    assert files["matrix"] == tmp_path / "datasets" / "dta" / "davis" / "affinity.npy"
    np.testing.assert_array_equal(np.load(files["matrix"], allow_pickle=False), matrix)
    assert len(served) == 5


def test_a_pickle_that_runs_code_is_refused(no_mirror, tmp_path, monkeypatch):
    import pickle

    class Exploit:
        def __reduce__(self):
            return (print, ("pwned",))

    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout=None: FakeResponse(pickle.dumps(Exploit())))
    with pytest.raises(DatasetUnavailableError, match="refuses to unpickle builtins.print"):
        registry.resolve_dataset_files("davis", cache_dir=tmp_path)
    assert files_under(tmp_path) == []
