"""A registry in a local (or shared network) directory — nothing to start, readable with ``ls`` and ``cat``::

    ROOT/NAME/versions/<n>/model/      the model directory, copied in and verified
    ROOT/NAME/versions/<n>/version.json
    ROOT/NAME/aliases.json             {"champion": 3, "challenger": 4}
    ROOT/NAME/events.jsonl             one JSON object per registration, promotion, rollback

A version appears by renaming a fully written staging folder, and alias files are replaced atomically, so a
killed process never leaves a half-registered model. Writers of one model serialise on an ``fcntl`` lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from gnn_drug.data.atomic import atomic_write_text
from gnn_drug.errors import RegistryError
from gnn_drug.registry.base import ModelRegistry, ModelVersion, check_model_name, now_iso


class LocalRegistry(ModelRegistry):
    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root).expanduser()
        self.uri = str(self.root)

    def _model_root(self, name: str) -> Path:
        return self.root / check_model_name(name)

    @contextlib.contextmanager
    def _locked(self, name: str) -> Iterator[None]:
        folder = self._model_root(name)
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / ".lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _store(self, name: str, model_dir: Path, data_fingerprint: str | None, metrics: dict,
               description: str, meta: dict) -> ModelVersion:
        versions_dir = self._model_root(name) / "versions"
        with self._locked(name):
            versions_dir.mkdir(parents=True, exist_ok=True)
            for stale in versions_dir.glob(".staging-*"):  # left by a killed process; we hold the lock now
                shutil.rmtree(stale, ignore_errors=True)
            number = max((v.version for v in self.versions(name)), default=0) + 1
            staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=versions_dir))
            try:
                shutil.copytree(model_dir, staging / "model")
                version = ModelVersion(name, number, versions_dir / str(number) / "model", now_iso(),
                                       data_fingerprint, metrics, description, meta=meta)
                record = version.to_dict()
                record.pop("path")
                record.pop("aliases")
                record["source"] = str(model_dir.resolve())
                (staging / "version.json").write_text(json.dumps(record, indent=2))
                os.chmod(staging, 0o755)
                os.rename(staging, versions_dir / str(number))
            finally:
                if staging.exists():
                    shutil.rmtree(staging)
        return version

    def models(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if (p / "versions").is_dir())

    def _read_version(self, folder: Path) -> ModelVersion:
        record = json.loads((folder / "version.json").read_text())
        return ModelVersion(record["name"], int(record["version"]), folder / "model", record["created_at"],
                            record.get("data_fingerprint"), record.get("metrics", {}), record.get("description", ""),
                            meta=record.get("meta", {}))

    def versions(self, name: str) -> list[ModelVersion]:
        folder = self._model_root(name) / "versions"
        if not folder.is_dir():
            return []
        found = [self._read_version(p) for p in folder.iterdir() if p.name.isdigit() and (p / "version.json").is_file()]
        return sorted(found, key=lambda v: v.version)

    def _fetch(self, name: str, version: int) -> ModelVersion:
        folder = self._model_root(name) / "versions" / str(version)
        if not (folder / "version.json").is_file():
            raise RegistryError(f"registry {self.uri}: {name} version {version} is missing on disk ({folder})")
        return self._read_version(folder)

    def aliases(self, name: str) -> dict[str, int]:
        path = self._model_root(name) / "aliases.json"
        return {k: int(v) for k, v in json.loads(path.read_text()).items()} if path.is_file() else {}

    def _set_alias(self, name: str, alias: str, version: int | None) -> None:
        with self._locked(name):
            aliases = self.aliases(name)
            if version is None:
                aliases.pop(alias, None)
            else:
                aliases[alias] = version
            atomic_write_text(self._model_root(name) / "aliases.json", json.dumps(aliases, indent=2, sort_keys=True))

    def events(self, name: str) -> list[dict]:
        path = self._model_root(name) / "events.jsonl"
        if not path.is_file():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def _record(self, name: str, event: dict) -> None:
        with self._locked(name), open(self._model_root(name) / "events.jsonl", "a") as handle:
            handle.write(json.dumps(event) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
