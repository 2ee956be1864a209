"""Steps every training recipe shares: open (or resume) a run directory, and train the seeded ensemble members
with the shared trainer, collecting their weights and validation/test predictions."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from gnn_drug.data.atomic import atomic_write_text
from gnn_drug.errors import ConfigError
from gnn_drug.tasks.config import TaskConfig, dump_config, load_config
from gnn_drug.train.distributed import DistributedContext
from gnn_drug.train.metrics import evaluate_predictions
from gnn_drug.train.trainer import FitResult, TargetScaler, Trainer, TrainSettings, predict_outputs

Log = Callable[[str], None]


def silent(_msg: str) -> None:
    """Log of non-zero ranks in distributed training."""


def print_log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def open_run_dir(config: TaskConfig, out: Path, resume: bool, log: Log, main: bool = True) -> TaskConfig:
    """Create ``out`` and write the resolved config; on ``resume`` the saved config wins. Refuses to overwrite
    a finished run."""
    resolved_path = out / "config.resolved.yaml"
    if resume and resolved_path.exists():
        previous = load_config(resolved_path)
        if previous.model_dump() != config.model_dump():
            log(f"--resume: using the configuration saved in {resolved_path}")
        config = previous
    elif (out / "metrics.json").exists() and not resume:
        raise ConfigError(f"{out}: already holds a finished run; choose another --out or pass --resume")
    if main:
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(resolved_path, dump_config(config))
    return config


def train_settings(config: TaskConfig) -> TrainSettings:
    t = config.train
    return TrainSettings(epochs=t.epochs, batch_size=t.batch_size, lr=t.lr, warmup_epochs=t.warmup_epochs,
                         init_lr_ratio=t.init_lr_ratio, final_lr_ratio=t.final_lr_ratio,
                         weight_decay=t.weight_decay, patience=t.patience, class_weighting=t.class_weighting,
                         grad_clip=t.grad_clip, device=t.device, selection=t.selection)


@dataclass
class Members:
    """The trained ensemble: weights (``member{k}.`` prefixed) and per-member predictions in label units."""

    tensors: dict[str, torch.Tensor] = field(default_factory=dict)
    val_preds: list[np.ndarray] = field(default_factory=list)
    test_preds: list[np.ndarray] = field(default_factory=list)
    fits: list[FitResult] = field(default_factory=list)


def train_members(config: TaskConfig, build_model: Callable[[int], nn.Module], train_ds, val_ds, test_ds,
                  task_types: list[str], targets: list[str], scaler: TargetScaler, out: Path, log: Log,
                  resume: bool = False, on_epoch_end: Callable[[int, dict], None] | None = None,
                  distributed: DistributedContext | None = None, label: str = "") -> Members:
    """One model per seed in ``config.train.seeds`` (``build_model(k)`` builds member k), each checkpointed in
    ``out/checkpoints``; datasets are anything with the :class:`MolGraphDataset` shape (molecules or pairs)."""
    main = distributed is None or distributed.is_main
    settings = train_settings(config)
    members = Members()
    for k, seed in enumerate(config.train.seeds):
        log(f"training member {k + 1}/{len(config.train.seeds)} (seed {seed}{label})")
        torch.manual_seed(seed)
        model = build_model(k)
        trainer = Trainer(settings, task_types, targets, out / "checkpoints" / f"seed_{seed}.pt", log=log,
                          on_epoch_end=on_epoch_end if main else None, distributed=distributed)
        members.fits.append(trainer.fit(model, train_ds, val_ds, scaler, seed=seed, resume=resume))
        model.cpu()
        if not main:
            continue
        members.tensors.update({f"member{k}.{name}": v for name, v in model.state_dict().items()})
        members.val_preds.append(predict_outputs(model, val_ds, task_types, scaler, settings.eval_batch_size))
        if len(test_ds):
            members.test_preds.append(predict_outputs(model, test_ds, task_types, scaler, settings.eval_batch_size))
    return members


def summarise_members(preds: list[np.ndarray], labels: np.ndarray, task_types: list[str], targets: list[str],
                      metric_fn: Callable[[np.ndarray, np.ndarray], dict] | None = None) -> dict:
    """Metrics of the ensemble mean, plus each member's (without per-task detail)."""
    def score(p: np.ndarray) -> dict:
        if metric_fn is not None:
            return metric_fn(labels, p)
        return evaluate_predictions(labels, p, task_types, targets)

    metrics = score(np.mean(preds, axis=0))
    metrics["members"] = [{k: v for k, v in score(p).items() if k != "per_task"} for p in preds]
    return metrics


def load_members(tensors: dict[str, torch.Tensor], count: int, build_model: Callable[[int], nn.Module]) -> list[
        nn.Module]:
    """The ensemble saved by :func:`train_members` (``member{k}.`` prefixed weights), in eval mode."""
    models = []
    for k in range(count):
        model = build_model(k)
        prefix = f"member{k}."
        model.load_state_dict({n[len(prefix):]: v for n, v in tensors.items() if n.startswith(prefix)})
        models.append(model.eval())
    return models


def model_dir_of(run_dir: str | Path) -> Path:
    """A run directory's ``model/`` folder, or the folder itself when it is a model directory."""
    path = Path(run_dir)
    return path / "model" if (path / "model").is_dir() else path


def training_record(seeds: list[int], fits: list[FitResult]) -> list[dict]:
    return [{"seed": s, "best_epoch": f.best_epoch, "epochs_run": f.epochs_run, "best_val_score": f.best_score}
            for s, f in zip(seeds, fits, strict=True)]
