"""Registry of public datasets: where each comes from (URL + sha256), its licence, and where it lies locally.

Resolution order for a dataset file: the mirror given by ``--data-dir`` / ``GNN_DRUG_DATA`` (same layout as the
project's shared mirror), then the local cache (``GNN_DRUG_CACHE`` or ``~/.cache/gnn-drug``), then a download
whose checksum is verified before the file is kept.
"""

from __future__ import annotations

import hashlib
import os
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gnn_drug.data.atomic import atomic_path
from gnn_drug.errors import DataError, DatasetUnavailableError

DATA_DIR_ENV = "GNN_DRUG_DATA"
CACHE_DIR_ENV = "GNN_DRUG_CACHE"

_CHEMPROP_RAW = "https://raw.githubusercontent.com/chemprop/chemprop"
_MOLECULENET_LICENCE = (
    "MoleculeNet (Wu et al. 2018), distributed by DeepChem under the MIT licence; the underlying sources "
    "({source}) keep their own terms."
)


@dataclass(frozen=True)
class DatasetFile:
    """A further file of a multi-file dataset (e.g. Davis: matrix, ligands, proteins, folds), resolved like the
    main file. ``unpickle_numpy``: the upstream file is a pickled NumPy array; it is read with an unpickler that
    only rebuilds plain arrays, re-saved as ``.npy`` and the result checked against ``sha256``."""

    key: str
    mirror_path: str
    url: str
    sha256: str
    unpickle_numpy: bool = False


@dataclass(frozen=True)
class DatasetSource:
    """One public dataset: identity, provenance, and how its table is laid out."""

    name: str
    description: str
    mirror_path: str
    url: str
    sha256: str
    licence: str
    smiles_column: str = "smiles"
    target_columns: tuple[str, ...] | None = None
    task_type: str = "classification"
    citation: str = ""
    extra: dict = field(default_factory=dict)
    kind: str = "molecules"  # "molecules": one table of SMILES + labels; "pairs": compound x entity values
    files: tuple[DatasetFile, ...] = ()


def _moleculenet(name: str, description: str, path: str, url_path: str, sha256: str, source: str, **kw):
    return DatasetSource(
        name=name,
        description=description,
        mirror_path=f"moleculenet/{path}",
        url=f"{_CHEMPROP_RAW}/{url_path}",
        sha256=sha256,
        licence=_MOLECULENET_LICENCE.format(source=source),
        citation="Wu et al., MoleculeNet: a benchmark for molecular machine learning, Chem. Sci. 2018",
        **kw,
    )


_B836 = "b83635bcddaddcdb91d453128edec9f2be0d25cf"
DATASETS: dict[str, DatasetSource] = {
    s.name: s
    for s in (
        _moleculenet(
            "tox21", "Tox21 challenge: 12 nuclear-receptor and stress-response assays (binary, sparse)",
            "tox21.csv", f"{_B836}/data/tox21.csv",
            "b58cc1f683e78e3c7a1bf7116e9aac0119804018d100f7b8cdb0857941c31aca", "Tox21 challenge, NIH/EPA",
        ),
        _moleculenet(
            "toxcast", "ToxCast: 617 in-vitro high-throughput assays (binary, sparse)",
            "toxcast.csv.gz", f"{_B836}/data/toxcast.csv.gz",
            "4b9b4366b02ce7ec7a0831d60f8c46f153c53c5e122376df887476240496abd4", "US EPA ToxCast",
        ),
        _moleculenet(
            "clintox", "ClinTox: FDA approval and clinical-trial toxicity failure (2 binary tasks)",
            "clintox.csv", f"{_B836}/data/clintox.csv",
            "cc561402d058a0d996a9f5e5d02bc20f6652b7003525b32c3598b8da4b24e9b7", "FDA, ClinicalTrials.gov",
        ),
        _moleculenet(
            "sider", "SIDER: 27 side-effect organ classes of marketed drugs (binary)",
            "sider.csv", f"{_B836}/data/sider.csv",
            "71efc6ac4ca82d6545bc512509863281be0f17234afd7adaf71a71899988302e",
            "SIDER, non-commercial use (CC BY-NC-SA 4.0)",
        ),
        _moleculenet(
            "hiv", "HIV: inhibition of HIV replication (DTP AIDS antiviral screen, binary)",
            "HIV.csv.gz", "a68ade20f227862fe6265c46f021c78217a324ab/data/hiv.csv.gz",
            "0a4a7390d6f22035c293e8e0d500655d76233b35f0f68ab128f3ceccdd97a297", "NCI DTP AIDS antiviral screen",
        ),
        _moleculenet(
            "muv", "MUV: 17 maximum-unbiased validation tasks from PubChem (binary, very sparse)",
            "muv.csv.gz", "f814b63ee66d574d9357366bf6c08c11a1b24478/data/muv.csv.gz",
            "ee68d1fad0b10440dc494ac3a74cf99168a0b0da9683556b2b48220b88172135", "PubChem BioAssay",
        ),
        _moleculenet(
            "esol", "ESOL (Delaney): aqueous solubility, log mol/L (regression)",
            "delaney.csv", f"{_B836}/data/delaney.csv",
            "887aa5930b0a7e7fcb76a2d25dc0ebe11c23878ca2d8d1e2204ca2c46b175140", "Delaney 2004",
            task_type="regression",
        ),
        _moleculenet(
            "freesolv", "FreeSolv: hydration free energy, kcal/mol (regression)",
            "freesolv.csv", f"{_B836}/data/freesolv.csv",
            "97d74c86228d4c16c0fbbf063bb8280354d8152db09a85ade8517a2f43bd9824", "Mobley & Guthrie 2014",
            task_type="regression",
        ),
    )
}

_GRAPHDTA_RAW = "https://raw.githubusercontent.com/thinng/GraphDTA/6162245c6776684b391d30610850fe7077478435/data"
_DTA_SHA = {
    "davis": ("1a19aaa833991d6ef3528e942a06cde75a6caf9f26cb1fc2c6a77dacc302edea",
              "141094d99510a52091d2ea1b05be7c1f66b2c5fcaeeeb261eaf4cbf2128bde6d",
              "187cedeee10cd3b58af915a2861a5ed0c4ff42a2d728f4dea5e0b47e3d75b291",
              "bb7a63b2178c40a4e2417bc701b95511407787fa5eabb6a43a695fe6bd722f56",
              "c97589fa2fae318b01870854af0ab6fdd155dd38524cc6ac1d0319418ac6d568"),
    "kiba": ("a900704f0cc6621ee1bf3cbce8e4f05c4fc93534039103f4d6459ad5b46e1973",
             "a95797abaf31b17bd2471dbf3e3476f588d5a79797903cc156528f66e55c963b",
             "2ba9dbc2959d88b0740aaf28828c4c611c2dbd1c2019547eb2ec1c3daa192604",
             "da74eeeb2c3e7d52a2fd6daac0dc105bba097c222337230eec69d9fd7e1c301e",
             "92801eec2caddf950235c6c6a46d999d2eeeaa6d35cbeffd68c72a5cf54b208d"),
}


def _deepdta(name: str, description: str, citation: str, extra: dict) -> DatasetSource:
    matrix, ligands, proteins, train, test = _DTA_SHA[name]
    base = f"dta/{name}"
    return DatasetSource(
        name=name, description=description, mirror_path=f"{base}/affinity.npy",
        url=f"{_GRAPHDTA_RAW}/{name}/Y", sha256=matrix, kind="pairs", citation=citation, extra=extra,
        licence="DeepDTA data (Öztürk et al. 2018, GPL-3.0 repository); measurements from the cited study",
        smiles_column="", task_type="regression",
        files=(
            DatasetFile("matrix", f"{base}/affinity.npy", f"{_GRAPHDTA_RAW}/{name}/Y", matrix, unpickle_numpy=True),
            DatasetFile("ligands", f"{base}/ligands_can.txt", f"{_GRAPHDTA_RAW}/{name}/ligands_can.txt", ligands),
            DatasetFile("proteins", f"{base}/proteins.txt", f"{_GRAPHDTA_RAW}/{name}/proteins.txt", proteins),
            DatasetFile("train_folds", f"{base}/folds/train_fold_setting1.txt",
                        f"{_GRAPHDTA_RAW}/{name}/folds/train_fold_setting1.txt", train),
            DatasetFile("test_fold", f"{base}/folds/test_fold_setting1.txt",
                        f"{_GRAPHDTA_RAW}/{name}/folds/test_fold_setting1.txt", test),
        ),
    )


DATASETS.update({
    "davis": _deepdta(
        "davis", "Davis kinase inhibitor affinities: 68 drugs x 442 kinases, all 30,056 Kd (nM) measured",
        "Davis et al., Comprehensive analysis of kinase inhibitor selectivity, Nat. Biotechnol. 2011",
        {"value_name": "pKd", "transform": "pkd_from_nm"},
    ),
    "kiba": _deepdta(
        "kiba", "KIBA kinase inhibitor bioactivity scores: 2,111 drugs x 229 kinases, 118,254 measured",
        "Tang et al., Making sense of large-scale kinase inhibitor bioactivity data sets, JCIM 2014",
        {"value_name": "kiba_score", "transform": "none"},
    ),
})


def get_source(name: str) -> DatasetSource:
    try:
        return DATASETS[name.lower()]
    except KeyError:
        known = ", ".join(sorted(DATASETS))
        raise DatasetUnavailableError(f"unknown dataset {name!r}; known datasets: {known}") from None


def default_data_dir() -> Path | None:
    value = os.environ.get(DATA_DIR_ENV)
    return Path(value) if value else None


def default_cache_dir() -> Path:
    value = os.environ.get(CACHE_DIR_ENV)
    return Path(value) if value else Path.home() / ".cache" / "gnn-drug"


def resolve_data_path(text: str, data_dir: str | os.PathLike | None = None,
                      relative_to: str | os.PathLike | None = None) -> Path:
    """A file named in a config: ``data:REL`` is relative to the data directory (``--data-dir`` /
    ``GNN_DRUG_DATA``), other relative paths to ``relative_to`` (a config's folder) or the working directory."""
    if text.startswith("data:"):
        base = Path(data_dir) if data_dir is not None else default_data_dir()
        if base is None:
            raise DatasetUnavailableError(f"{text}: a 'data:' path needs --data-dir or {DATA_DIR_ENV}")
        path = base / text[5:]
    else:
        path = Path(text).expanduser()
        if not path.is_absolute() and relative_to is not None:
            path = Path(relative_to) / path
    if not path.is_file():
        raise DataError(f"{text}: file not found ({path})")
    return path


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def resolve_dataset(
    name: str,
    data_dir: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    download: bool = True,
) -> Path:
    """Return a local path to the dataset's file: mirror, then cache, then a checksum-verified download."""
    source = get_source(name)
    main = DatasetFile("main", source.mirror_path, source.url, source.sha256)
    return _resolve_file(source, main, data_dir, cache_dir, download)


def resolve_dataset_files(
    name: str,
    data_dir: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    download: bool = True,
) -> dict[str, Path]:
    """Every file of a multi-file dataset (key -> local path), each resolved like :func:`resolve_dataset`."""
    source = get_source(name)
    if not source.files:
        return {"main": resolve_dataset(name, data_dir, cache_dir, download)}
    return {f.key: _resolve_file(source, f, data_dir, cache_dir, download) for f in source.files}


def _numpy_from_pickle(path: Path) -> np.ndarray:
    """Read a pickled NumPy array without running arbitrary code: only array-rebuilding globals are allowed."""
    import pickle

    allowed = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")}  # encode: bytes in protocol 2

    class ArrayOnlyUnpickler(pickle.Unpickler):
        def find_class(self, module: str, name: str):
            if (module, name) not in allowed:
                raise DatasetUnavailableError(f"{path}: refuses to unpickle {module}.{name} (only NumPy arrays)")
            return super().find_class(module, name)

    with open(path, "rb") as handle:
        array = ArrayOnlyUnpickler(handle, encoding="latin1").load()
    if not isinstance(array, np.ndarray):
        raise DatasetUnavailableError(f"{path}: expected a NumPy array, found {type(array).__name__}")
    return array


def _resolve_file(source: DatasetSource, file: DatasetFile, data_dir: str | os.PathLike | None,
                  cache_dir: str | os.PathLike | None, download: bool) -> Path:
    mirror = Path(data_dir) if data_dir is not None else default_data_dir()
    if mirror is not None:
        candidate = mirror / file.mirror_path
        if candidate.is_file():
            return candidate
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    cached = cache / "datasets" / file.mirror_path
    if cached.is_file():
        return cached
    hint = (
        f"dataset {source.name!r} is not available locally (looked in "
        f"{mirror / file.mirror_path if mirror else f'${DATA_DIR_ENV} (unset)'} and {cached})"
    )
    if not download:
        raise DatasetUnavailableError(f"{hint}; set {DATA_DIR_ENV} or --data-dir to a mirror, or fetch {file.url}")
    try:
        with atomic_path(cached) as tmp:
            with urllib.request.urlopen(file.url, timeout=60) as response, open(tmp, "wb") as out:
                for block in iter(lambda: response.read(1 << 20), b""):
                    out.write(block)
            if file.unpickle_numpy:
                array = _numpy_from_pickle(tmp)
                with open(tmp, "wb") as out:
                    np.save(out, np.asarray(array, dtype=np.float64), allow_pickle=False)
            actual = sha256_of(tmp)
            if actual != file.sha256:
                raise DatasetUnavailableError(
                    f"download of {file.url} has sha256 {actual}, expected {file.sha256}; not kept"
                )
    except DatasetUnavailableError:
        raise
    except OSError as exc:
        raise DatasetUnavailableError(
            f"{hint}, and downloading {file.url} failed ({exc}); set {DATA_DIR_ENV} or --data-dir to a "
            "folder laid out like the public mirror"
        ) from None
    return cached
