"""What every model registry offers: numbered, immutable versions of a named model, and aliases on them.

``champion`` is what ``predict``/``screen`` use for ``registry:NAME``; ``challenger`` is a candidate under
evaluation. Promotions and rollbacks are recorded as events, so ``rollback`` knows the previous champion. Backends
(a local directory, MLflow) implement a handful of storage primitives; the policy lives here once.
"""

from __future__ import annotations

import os
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from gnn_drug.errors import RegistryError

CHAMPION = "champion"
CHALLENGER = "challenger"
ALIASES = (CHAMPION, CHALLENGER)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


def check_model_name(name: str) -> str:
    if not _NAME.match(name or ""):
        raise RegistryError(f"model name {name!r}: use letters, digits, '.', '_' or '-' (at most 100 characters)")
    return name


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class ModelVersion:
    """One registered version; ``path`` is a local model directory (downloaded first for remote backends)."""

    name: str
    version: int
    path: Path | None
    created_at: str
    data_fingerprint: str | None = None
    metrics: dict = field(default_factory=dict)
    description: str = ""
    aliases: list[str] = field(default_factory=list)
    meta: dict = field(default_factory=dict)  # e.g. the training-data profile used for drift reports

    def to_dict(self) -> dict:
        return {"name": self.name, "version": self.version, "path": str(self.path) if self.path else None,
                "created_at": self.created_at, "data_fingerprint": self.data_fingerprint, "metrics": self.metrics,
                "description": self.description, "aliases": self.aliases, "meta": self.meta}


class ModelRegistry(ABC):
    """Storage primitives are abstract; registering, promotion and rollback policy are shared."""

    uri: str

    # ---- storage primitives ----------------------------------------------------------------------------------
    @abstractmethod
    def _store(self, name: str, model_dir: Path, data_fingerprint: str | None, metrics: dict,
               description: str, meta: dict) -> ModelVersion:
        """Copy a verified model directory in as the next version (atomically) and return it."""

    @abstractmethod
    def models(self) -> list[str]:
        """Names of the registered models."""

    @abstractmethod
    def versions(self, name: str) -> list[ModelVersion]:
        """All versions of ``name``, oldest first (``path`` may be None until :meth:`get` fetches it)."""

    @abstractmethod
    def _fetch(self, name: str, version: int) -> ModelVersion:
        """The version with a local ``path``."""

    @abstractmethod
    def aliases(self, name: str) -> dict[str, int]:
        """Alias -> version number."""

    @abstractmethod
    def _set_alias(self, name: str, alias: str, version: int | None) -> None:
        """Point ``alias`` at ``version`` (None removes it)."""

    @abstractmethod
    def events(self, name: str) -> list[dict]:
        """Promotion/rollback/registration events, oldest first."""

    @abstractmethod
    def _record(self, name: str, event: dict) -> None:
        """Append one event."""

    # ---- policy ----------------------------------------------------------------------------------------------
    def register(self, name: str, model_dir: str | os.PathLike, data_fingerprint: str | None = None,
                 metrics: dict | None = None, description: str = "", alias: str | None = None,
                 meta: dict | None = None) -> ModelVersion:
        """Add a model directory (checksums verified first) as a new version, optionally under an alias."""
        from gnn_drug.train.model_files import load_model_dir

        check_model_name(name)
        model_dir = Path(model_dir)
        load_model_dir(model_dir)  # refuses a tampered or incompatible model before it enters the registry
        version = self._store(name, model_dir, data_fingerprint, metrics or {}, description, meta or {})
        self._record(name, {"at": now_iso(), "action": "register", "version": version.version})
        if alias is not None:
            self.set_alias(name, alias, version.version)
        return version

    def _require_model(self, name: str) -> None:
        if name not in self.models():
            known = ", ".join(self.models()) or "none"
            raise RegistryError(f"registry {self.uri}: no model named {name!r} (registered: {known})")

    def _require_version(self, name: str, version: int) -> None:
        self._require_model(name)
        numbers = [v.version for v in self.versions(name)]
        if version not in numbers:
            raise RegistryError(f"registry {self.uri}: model {name!r} has no version {version} "
                                f"(versions: {', '.join(map(str, numbers))})")

    def resolve(self, name: str, ref: str | int | None = None) -> int:
        """A version number from ``None`` (the champion), an alias, or a number."""
        self._require_model(name)
        if ref is None:
            ref = CHAMPION
        if isinstance(ref, int) or str(ref).isdigit():
            number = int(ref)
            self._require_version(name, number)
            return number
        aliases = self.aliases(name)
        if ref not in aliases:
            raise RegistryError(f"registry {self.uri}: model {name!r} has no {ref!r} version "
                                f"(aliases: {', '.join(f'{a}=v{v}' for a, v in aliases.items()) or 'none'})")
        return aliases[ref]

    def get(self, name: str, ref: str | int | None = None) -> ModelVersion:
        """The version (default: champion) with a local model directory."""
        number = self.resolve(name, ref)
        version = self._fetch(name, number)
        version.aliases = sorted(a for a, v in self.aliases(name).items() if v == number)
        return version

    def set_alias(self, name: str, alias: str, version: int) -> None:
        self._require_version(name, version)
        if alias == CHAMPION:
            self.promote(name, version)
            return
        self._set_alias(name, alias, version)
        self._record(name, {"at": now_iso(), "action": "alias", "alias": alias, "version": version})

    def promote(self, name: str, version: int | None = None, reason: str = "") -> int:
        """Make ``version`` (default: the challenger) the champion; the previous one is kept for rollback."""
        if version is None:
            version = self.resolve(name, CHALLENGER)
        self._require_version(name, version)
        previous = self.aliases(name).get(CHAMPION)
        self._set_alias(name, CHAMPION, version)
        if self.aliases(name).get(CHALLENGER) == version:
            self._set_alias(name, CHALLENGER, None)
        self._record(name, {"at": now_iso(), "action": "promote", "version": version, "previous": previous,
                            "reason": reason})
        return version

    def champion_stack(self, name: str) -> list[int]:
        """Champions in promotion order, as a stack: a promotion pushes, a plain rollback pops."""
        stack: list[int] = []
        for event in self.events(name):
            if event["action"] == "promote" or (event["action"] == "rollback" and event.get("explicit")):
                stack.append(event["version"])
            elif event["action"] == "rollback" and stack:
                stack.pop()
        return stack

    def rollback(self, name: str, version: int | None = None, reason: str = "") -> int:
        """Make the champion before the current one (or an explicit ``version``) the champion again."""
        self._require_model(name)
        current = self.aliases(name).get(CHAMPION)
        explicit = version is not None
        if version is None:
            stack = self.champion_stack(name)
            if len(stack) < 2:
                raise RegistryError(f"registry {self.uri}: model {name!r} has no earlier champion to roll back to")
            version = stack[-2]
        self._require_version(name, version)
        self._set_alias(name, CHAMPION, version)
        self._record(name, {"at": now_iso(), "action": "rollback", "version": version, "previous": current,
                            "explicit": explicit, "reason": reason})
        return version


_REF = re.compile(r"^registry:(?P<name>[^@]+)(?:@(?P<ref>[A-Za-z0-9_-]+))?$")


def parse_model_ref(value: str) -> tuple[str, str | None] | None:
    """``registry:NAME`` / ``registry:NAME@challenger`` / ``registry:NAME@3`` -> (name, ref); else None."""
    match = _REF.match(str(value))
    if not match:
        return None
    return check_model_name(match["name"]), match["ref"]
