"""The search space, declared in the task config's ``search:`` block — the tuner hard-codes nothing::

    search:
      model.encoder: {choices: [dmpnn, gine]}
      model.depth: {low: 2, high: 6}                  # integers when low and high are integers
      model.hidden_dim: {low: 128, high: 512, step: 64}
      model.dropout: {low: 0.0, high: 0.4}
      train.lr: {low: 1.0e-4, high: 3.0e-3, log: true}
      featurization.extra_features: {choices: [[], [rdkit2d]]}

Each key is a dotted path into the task config; a trial's values become ``--set``-style overrides, so every
trial config is validated exactly as a hand-written one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import yaml

from gnn_drug.errors import ConfigError
from gnn_drug.tasks.config import load_config

if TYPE_CHECKING:
    import optuna


@dataclass(frozen=True)
class Dimension:
    key: str
    choices: tuple | None = None
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None

    @property
    def is_int(self) -> bool:
        return isinstance(self.low, int) and isinstance(self.high, int) and not isinstance(self.step, float)

    def suggest(self, trial: optuna.trial.Trial) -> Any:
        if self.choices is not None:
            # Optuna stores categorical values as scalars: lists are offered as their JSON text
            encoded = [json.dumps(c) if isinstance(c, list | dict) else c for c in self.choices]
            picked = trial.suggest_categorical(self.key, encoded)
            return json.loads(picked) if isinstance(picked, str) and picked[:1] in "[{" else picked
        if self.is_int:
            return trial.suggest_int(self.key, self.low, self.high, step=int(self.step or 1), log=self.log)
        return trial.suggest_float(self.key, float(self.low), float(self.high), log=self.log,
                                   step=None if self.step is None else float(self.step))


def base_values(base_raw: dict, dims: list[Dimension]) -> dict[str, Any]:
    """The base config's own value of each dimension that the space contains, in Optuna's encoding (lists as
    JSON text): enqueued as the study's first trial, so the tuned config is never worse than the base on the
    tuning split's validation set."""
    out: dict[str, Any] = {}
    for dim in dims:
        node: Any = base_raw
        for part in dim.key.split("."):
            if not isinstance(node, dict) or part not in node:
                node = None
                break
            node = node[part]
        if node is None:
            continue
        if dim.choices is not None:
            if node in dim.choices:
                out[dim.key] = json.dumps(node) if isinstance(node, list | dict) else node
        elif isinstance(node, int | float) and not isinstance(node, bool) and dim.low <= node <= dim.high:
            on_step = dim.step is None or abs((node - dim.low) / dim.step - round((node - dim.low) / dim.step)) < 1e-9
            if on_step and (not dim.is_int or float(node).is_integer()):
                out[dim.key] = int(node) if dim.is_int else float(node)
    return out


def parse_search_space(search: dict | None, source: str = "config") -> list[Dimension]:
    """Validate the ``search:`` block; errors name the key and what is wrong with it."""
    if not search:
        raise ConfigError(f"{source}: no 'search:' block — declare the search space in the task config")
    dims = []
    for key, spec in search.items():
        where = f"{source}: search.{key}"
        if not isinstance(spec, dict):
            raise ConfigError(f"{where}: expected {{choices: [...]}} or {{low: .., high: .., log: .., step: ..}}")
        unknown = set(spec) - {"choices", "low", "high", "log", "step"}
        if unknown:
            raise ConfigError(f"{where}: unknown field(s) {sorted(unknown)}")
        if "choices" in spec:
            if not isinstance(spec["choices"], list) or not spec["choices"]:
                raise ConfigError(f"{where}: choices must be a non-empty list")
            dims.append(Dimension(key, choices=tuple(spec["choices"])))
            continue
        if "low" not in spec or "high" not in spec:
            raise ConfigError(f"{where}: needs choices, or low and high")
        low, high = spec["low"], spec["high"]
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (low, high)) or low >= high:
            raise ConfigError(f"{where}: low and high must be numbers with low < high")
        if spec.get("log") and low <= 0:
            raise ConfigError(f"{where}: a log scale needs low > 0")
        dims.append(Dimension(key, low=low, high=high, log=bool(spec.get("log", False)), step=spec.get("step")))
    return dims


def overrides_for(values: dict[str, Any]) -> list[str]:
    """``{"model.depth": 4}`` -> ``["model.depth=4"]`` (values as YAML, so lists and floats survive)."""
    return [f"{key}={yaml.safe_dump(value, default_flow_style=True).strip().removesuffix('...').strip()}"
            for key, value in values.items()]


def check_space_against_config(base_raw: dict, dims: list[Dimension], source: str, load=None) -> None:
    """Every dimension must name a real config field: try the lowest/first value of each. ``load(path, overrides,
    raw=...)`` validates a config (default: the molecule/pair task loader)."""
    for dim in dims:
        value = dim.choices[0] if dim.choices is not None else dim.low
        raw = json.loads(json.dumps(base_raw))
        try:
            if load is None:
                load_config(raw=raw, overrides=overrides_for({dim.key: value}))
            else:
                load(None, overrides_for({dim.key: value}), raw=raw)
        except ConfigError as exc:
            raise ConfigError(f"{source}: search.{dim.key} does not give a valid config: {exc}") from None
