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

from gnn_drug.data.atomic import atomic_path
from gnn_drug.errors import DatasetUnavailableError

DATA_DIR_ENV = "GNN_DRUG_DATA"
CACHE_DIR_ENV = "GNN_DRUG_CACHE"

_CHEMPROP_RAW = "https://raw.githubusercontent.com/chemprop/chemprop"
_MOLECULENET_LICENCE = (
    "MoleculeNet (Wu et al. 2018), distributed by DeepChem under the MIT licence; the underlying sources "
    "({source}) keep their own terms."
)


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
    mirror = Path(data_dir) if data_dir is not None else default_data_dir()
    if mirror is not None:
        candidate = mirror / source.mirror_path
        if candidate.is_file():
            return candidate
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    cached = cache / "datasets" / source.mirror_path
    if cached.is_file():
        return cached
    hint = (
        f"dataset {source.name!r} is not available locally (looked in "
        f"{mirror / source.mirror_path if mirror else f'${DATA_DIR_ENV} (unset)'} and {cached})"
    )
    if not download:
        raise DatasetUnavailableError(f"{hint}; set {DATA_DIR_ENV} or --data-dir to a mirror, or fetch {source.url}")
    try:
        with atomic_path(cached) as tmp:
            with urllib.request.urlopen(source.url, timeout=60) as response, open(tmp, "wb") as out:
                for block in iter(lambda: response.read(1 << 20), b""):
                    out.write(block)
            actual = sha256_of(tmp)
            if actual != source.sha256:
                raise DatasetUnavailableError(
                    f"download of {source.url} has sha256 {actual}, expected {source.sha256}; not kept"
                )
    except DatasetUnavailableError:
        raise
    except OSError as exc:
        raise DatasetUnavailableError(
            f"{hint}, and downloading {source.url} failed ({exc}); set {DATA_DIR_ENV} or --data-dir to a "
            "folder laid out like the public mirror"
        ) from None
    return cached
