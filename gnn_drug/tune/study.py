"""``gnn-drug tune``: an Optuna study over the config's search space, on validation metrics only.

Storage is a URL: ``sqlite:///TUNE_DIR/study.db`` by default, any SQLAlchemy URL (PostgreSQL) for several
workers. Workers on one study cooperate: the trial budget counts finished (complete or pruned) trials of the whole
study, and a worker's heartbeat lets the others mark a killed worker's trial as failed. Rerunning the command
resumes the study. Each trial is an ordinary training run in ``TUNE_DIR/trials/STUDY/NNNN`` whose per-epoch validation
score is reported to the pruner.
"""

from __future__ import annotations

import copy
import json
import math
import os
import random
import socket
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from gnn_drug.data.atomic import atomic_path, atomic_write_text
from gnn_drug.errors import ConfigError
from gnn_drug.tasks.config import load_config
from gnn_drug.train.metrics import selection_score
from gnn_drug.tune.space import base_values, check_space_against_config, overrides_for, parse_search_space

if TYPE_CHECKING:
    import optuna

Log = Callable[[str], None]
PRUNERS = ("median", "hyperband", "none")


@dataclass
class TuneResult:
    study_name: str
    storage: str
    best_value: float | None
    best_params: dict
    finished_trials: int
    outputs: dict[str, str]


def _optuna():
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    return optuna


def make_pruner(name: str, epochs: int) -> optuna.pruners.BasePruner:
    optuna = _optuna()
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=max(1, epochs // 5))
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=max(1, epochs // 10), max_resource=epochs)
    if name == "none":
        return optuna.pruners.NopPruner()
    raise ConfigError(f"unknown pruner {name!r}; one of {', '.join(PRUNERS)}")


def make_storage(url: str, heartbeat_s: int) -> optuna.storages.RDBStorage:
    """An RDB storage with a heartbeat: a trial whose worker stops beating is failed by the next worker."""
    optuna = _optuna()
    if url.startswith("sqlite:///"):
        Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    engine_kwargs = {"pool_pre_ping": True} if not url.startswith("sqlite") else {"connect_args": {"timeout": 60}}
    from sqlalchemy.exc import SQLAlchemyError

    for attempt in range(8):
        try:
            return optuna.storages.RDBStorage(url, heartbeat_interval=heartbeat_s, grace_period=3 * heartbeat_s,
                                              engine_kwargs=engine_kwargs)
        except SQLAlchemyError:
            # two workers starting on an empty database race to create its tables; the loser retries
            if attempt == 7:
                raise
            time.sleep(0.5 + random.random() * (attempt + 1))
    raise AssertionError("unreachable")


def _finished(study) -> int:
    from optuna.trial import TrialState

    return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)))


def run_study(config_path: str | os.PathLike, out_dir: str | os.PathLike, trials: int, study_name: str,
              storage: str | None = None, timeout_s: float | None = None, pruner: str = "median",
              seed: int = 0, overrides: list[str] | None = None, data_dir: str | os.PathLike | None = None,
              heartbeat_s: int = 60, log: Log = print) -> TuneResult:
    """Run (or join, or resume) a study until it has ``trials`` finished trials or ``timeout_s`` passes."""
    optuna = _optuna()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    task = _task_of(config_path, overrides)
    base = task.load(config_path, overrides)
    base_raw = base.model_dump(mode="json")
    dims = parse_search_space(base_raw.pop("search"), str(config_path))
    check_space_against_config(base_raw, dims, str(config_path), load=task.load)
    storage_url = storage or f"sqlite:///{(out / 'study.db').resolve()}"
    study = optuna.create_study(
        study_name=study_name, storage=make_storage(storage_url, heartbeat_s), direction="maximize",
        load_if_exists=True, pruner=make_pruner(pruner, base.train.epochs),
        sampler=optuna.samplers.TPESampler(seed=seed, constant_liar=True, n_startup_trials=min(8, trials)))
    worker = f"{socket.gethostname()}:{os.getpid()}"
    already = _finished(study)
    if not study.get_trials(deepcopy=False):  # a fresh study: its first trial is the base config itself
        defaults = base_values(base_raw, dims)
        if defaults:
            study.enqueue_trial(defaults, user_attrs={"base_config": True}, skip_if_exists=True)
    log(f"study {study_name!r} on {_redact(storage_url)}: {already} finished trial(s), budget {trials}")

    def objective(trial) -> float:
        values = {d.key: d.suggest(trial) for d in dims}
        config = task.load(None, overrides_for(values), raw=copy.deepcopy(base_raw))
        run_dir = out / "trials" / study_name / f"{trial.number:04d}"
        if run_dir.exists():  # trial numbers are unique in a study: anything here is stale
            import shutil

            shutil.rmtree(run_dir)
        trial.set_user_attr("worker", worker)
        trial.set_user_attr("run_dir", str(run_dir))
        step = 0

        def report(epoch: int, record: dict) -> None:
            nonlocal step
            if math.isfinite(record["val_score"]):
                trial.report(record["val_score"], step)
            step += 1
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned after epoch {epoch + 1}")

        metrics = task.train(config, run_dir, config_path, data_dir, report)
        for part in ("val", "test"):
            if part in metrics:
                trial.set_user_attr(f"{part}_metrics", {k: v for k, v in metrics[part].items()
                                                        if isinstance(v, float)})
        value = task.score(metrics, run_dir)
        log(f"trial {trial.number}: val {value:.4f}  " + " ".join(f"{k}={v}" for k, v in values.items()))
        return value

    remaining = trials - already
    if remaining > 0:
        stop_at_budget = optuna.study.MaxTrialsCallback(trials, states=(optuna.trial.TrialState.COMPLETE,
                                                                         optuna.trial.TrialState.PRUNED))
        study.optimize(objective, n_trials=remaining, timeout=timeout_s, callbacks=[stop_at_budget],
                       catch=(ConfigError,), gc_after_trial=True)
    outputs = write_outputs(study, base_raw, out, dims_keys=[d.key for d in dims], load=task.load)
    best = _best(study)
    return TuneResult(study_name, _redact(storage_url), best.value if best else None,
                      dict(best.params) if best else {}, _finished(study), outputs)


@dataclass
class _TunedTask:
    """How the tuner loads, trains and scores one kind of task (molecule/pair tasks or knowledge-graph links)."""

    load: Callable
    train: Callable
    score: Callable

    @staticmethod
    def load_task_config(path, overrides, raw=None):
        return load_config(path, overrides, raw=raw)


def _task_of(config_path, overrides) -> _TunedTask:
    from gnn_drug.tasks.link_prediction import LINK_TASKS
    from gnn_drug.yaml_files import read_yaml_mapping

    if read_yaml_mapping(config_path, "config file").get("task") in LINK_TASKS:
        from gnn_drug.tasks.link_prediction import load_link_config, train_link_run

        def train_link(config, run_dir, path, data_dir, report):
            return train_link_run(config, run_dir, config_path=path, data_dir=data_dir, log=lambda _m: None,
                                  on_epoch_end=report)

        return _TunedTask(lambda path, overrides, raw=None: load_link_config(path, raw=raw, overrides=overrides),
                          train_link, lambda metrics, _run_dir: float(metrics["val"][metrics.get("selection", "mrr")]))

    def train_property(config, run_dir, _path, data_dir, report):
        from gnn_drug.tasks.molecule_property import train_run
        from gnn_drug.tasks.pairs import PAIR_TASKS, train_pair_run

        train = train_pair_run if config.task in PAIR_TASKS else train_run
        return train(config, run_dir, data_dir=data_dir, resume=False, log=lambda _m: None, on_epoch_end=report)

    def score(metrics, run_dir):
        types = list(json.loads((Path(run_dir) / "model" / "model.json").read_text())["task_types"])
        return selection_score(metrics["val"], types)

    return _TunedTask(_TunedTask.load_task_config, train_property, score)


def _best(study):
    from optuna.trial import TrialState

    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    return max(complete, key=lambda t: t.value) if complete else None


def _redact(url: str) -> str:
    """Hide a password in a storage URL before it is logged."""
    if "://" in url and "@" in url:
        scheme, rest = url.split("://", 1)
        credentials, host = rest.rsplit("@", 1)
        user = credentials.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}" if ":" in credentials else url
    return url


def write_outputs(study: optuna.Study, base_raw: dict, out: Path, dims_keys: list[str],
                  load: Callable = None) -> dict[str, str]:
    """best.yaml (ready to train), trials.csv, and PNG plots; each written atomically. ``load(path, overrides,
    raw=...)`` validates the best config (default: the molecule/pair task loader)."""
    load = load or _TunedTask.load_task_config
    outputs: dict[str, str] = {}
    best = _best(study)
    frame = study.trials_dataframe(attrs=("number", "value", "state", "params", "user_attrs", "duration",
                                          "datetime_start", "datetime_complete"))
    with atomic_path(out / "trials.csv") as tmp:
        frame.to_csv(tmp, index=False)
    outputs["trials"] = str(out / "trials.csv")
    if best is not None:
        raw = copy.deepcopy(base_raw)
        params = {k: v for k, v in best.params.items() if k in dims_keys}
        decoded = {k: json.loads(v) if isinstance(v, str) and v[:1] in "[{" else v for k, v in params.items()}
        config = load(None, overrides_for(decoded), raw=raw)
        header = (f"# best trial {best.number} of study {study.study_name!r}: validation score {best.value:.4f}\n"
                  f"# train it: gnn-drug train {out / 'best.yaml'} --out RUN_DIR\n")
        body = yaml.safe_dump({k: v for k, v in config.model_dump(mode="json").items() if k != "search"},
                              sort_keys=False)
        atomic_write_text(out / "best.yaml", header + body)
        outputs["best"] = str(out / "best.yaml")
    outputs.update(_plots(study, out))
    return outputs


def _plots(study, out: Path) -> dict[str, str]:
    """Optimisation history, parameter importances, parallel coordinates (matplotlib, PNG)."""
    from optuna.trial import TrialState

    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not complete:
        return {}
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as optuna_plots

    made = {}
    plots = {"history": optuna_plots.plot_optimization_history, "importances": optuna_plots.plot_param_importances,
             "parallel_coordinates": optuna_plots.plot_parallel_coordinate}
    for name, plot in plots.items():
        if name == "importances" and len(complete) < 2:
            continue
        try:
            axes = plot(study)
        except (ValueError, RuntimeError) as exc:  # e.g. importances when every trial used the same values
            (out / f"{name}.txt").write_text(f"not plotted: {exc}\n")
            continue
        figure = axes.figure if hasattr(axes, "figure") else axes[0].figure
        figure.set_size_inches(9, 5)
        figure.tight_layout()
        with atomic_path(out / f"{name}.png") as tmp:
            figure.savefig(tmp, format="png", dpi=110)
        plt.close(figure)
        made[name] = str(out / f"{name}.png")
    return made
