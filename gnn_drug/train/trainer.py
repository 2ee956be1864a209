"""Training loop shared by every task: masked multi-task loss, warm-up + exponential-decay learning rate,
model selection and early stopping on the validation set only, an atomic checkpoint after every epoch, and
exact resumption (batch order is a function of (seed, epoch); the RNG state is checkpointed)."""

from __future__ import annotations

import math
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from gnn_drug.data.graph_dataset import MolGraphDataset
from gnn_drug.data.tables import CLASSIFICATION
from gnn_drug.train.checkpoint import load_checkpoint, save_checkpoint
from gnn_drug.train.compiled import run_compiled
from gnn_drug.train.distributed import DistributedContext
from gnn_drug.train.losses import MaskedMultiTaskLoss, positive_class_weights
from gnn_drug.train.metrics import evaluate_predictions, selection_score


@dataclass
class TrainSettings:
    """Optimisation settings; learning rates are per step, epochs count passes over the training set."""

    epochs: int = 50
    batch_size: int = 50
    lr: float = 1e-3
    warmup_epochs: float = 2.0
    init_lr_ratio: float = 0.1
    final_lr_ratio: float = 0.1
    weight_decay: float = 0.0
    patience: int = 20
    class_weighting: bool = False
    grad_clip: float = 10.0
    device: str = "cpu"
    selection: str = "metric"  # "metric": macro ROC-AUC / -RMSE on validation; "loss": validation loss

    @property
    def eval_batch_size(self) -> int:
        """Prediction batches are at least as large as training batches: a pair batch encodes every distinct
        compound it holds, so 256-pair batches re-encoded all 223 GDSC drugs ~70 times per validation pass."""
        return max(256, self.batch_size)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


@dataclass
class TargetScaler:
    """Standardises regression columns (fitted on training labels); classification columns pass through."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, labels: np.ndarray, task_types: Sequence[str]) -> TargetScaler:
        mean = np.zeros(labels.shape[1], np.float32)
        std = np.ones(labels.shape[1], np.float32)
        for j, kind in enumerate(task_types):
            if kind != CLASSIFICATION:
                column = labels[:, j][~np.isnan(labels[:, j])]
                if column.size:
                    mean[j] = column.mean()
                    std[j] = column.std() if column.std() > 1e-8 else 1.0
        return cls(mean, std)

    def transform(self, labels: np.ndarray) -> np.ndarray:
        return ((labels - self.mean) / self.std).astype(np.float32)

    def inverse(self, outputs: np.ndarray) -> np.ndarray:
        return outputs * self.std + self.mean


@dataclass
class FitResult:
    best_epoch: int
    best_score: float
    epochs_run: int
    history: list[dict] = field(default_factory=list)


PRECISIONS = ("fp32", "bf16")


def predict_outputs(model: nn.Module, dataset: MolGraphDataset, task_types: Sequence[str],
                    scaler: TargetScaler, batch_size: int = 256, device: torch.device | str = "cpu",
                    precision: str = "fp32", compile: bool = False) -> np.ndarray:
    """Predictions in label units: probabilities for classification, unscaled values for regression.
    ``precision="bf16"`` runs the matrix products in bfloat16 (autocast; CPUs with AMX / AVX-512 BF16 and GPUs
    run them several times faster; outputs differ from fp32 by ~1e-4 in probability). ``compile`` runs the
    model through ``torch.compile`` (see :mod:`gnn_drug.train.compiled`)."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose from {PRECISIONS}")
    model.eval()
    outputs = []
    device_type = torch.device(device).type
    # bf16 on CPU keeps kernels and scratch memory per matrix shape, and every batch of molecules has its own
    # shape: padded to multiples of 256 rows, a screen of any length sees a few dozen shapes (flat memory)
    pad = 256 if precision == "bf16" and device_type == "cpu" else 0
    with torch.no_grad(), torch.autocast(device_type, dtype=torch.bfloat16, enabled=precision == "bf16"):
        for batch in dataset.batches(batch_size):
            inputs = batch.padded(pad) if pad else batch
            output = (run_compiled(model, inputs.to(device)) if compile else model(inputs.to(device)))
            output = output[: batch.num_graphs]
            outputs.append(output.float().cpu().numpy())
    raw = np.concatenate(outputs) if outputs else np.zeros((0, len(task_types)), np.float32)
    is_class = np.array([t == CLASSIFICATION for t in task_types])
    probs = 1.0 / (1.0 + np.exp(-np.clip(raw, -50, 50)))
    return np.where(is_class, probs, scaler.inverse(raw)).astype(np.float32)


def masked_loss_on(loss_fn: MaskedMultiTaskLoss, predictions: np.ndarray, labels: np.ndarray,
                   task_types: Sequence[str], scaler: TargetScaler) -> float:
    """The training loss evaluated on label-unit predictions (probabilities are turned back into logits)."""
    is_class = np.array([t == CLASSIFICATION for t in task_types])
    clipped = np.clip(predictions, 1e-7, 1 - 1e-7)
    outputs = np.where(is_class, np.log(clipped / (1 - clipped)), (predictions - scaler.mean) / scaler.std)
    target = scaler.transform(labels)
    return float(loss_fn(torch.from_numpy(outputs.astype(np.float32)), torch.from_numpy(target)))


class Trainer:
    """Fits one model. ``on_epoch_end(epoch, record)`` is called after each checkpoint (tests interrupt there)."""

    def __init__(self, settings: TrainSettings, task_types: Sequence[str], task_names: Sequence[str],
                 checkpoint_path: str | Path | None = None, log: Callable[[str], None] | None = None,
                 on_epoch_end: Callable[[int, dict], None] | None = None,
                 distributed: DistributedContext | None = None) -> None:
        self.settings = settings
        self.distributed = distributed
        self.task_types = list(task_types)
        self.task_names = list(task_names)
        self.checkpoint_path = Path(checkpoint_path) if checkpoint_path else None
        self.log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
        self.on_epoch_end = on_epoch_end
        self.device = resolve_device(settings.device)
        if distributed is not None and self.device.type == "cuda":
            self.device = torch.device("cuda", distributed.local_rank)

    def _lr(self, step: int, steps_per_epoch: int) -> float:
        s = self.settings
        warmup = max(1, int(s.warmup_epochs * steps_per_epoch))
        total = max(warmup + 1, s.epochs * steps_per_epoch)
        if step < warmup:
            return s.lr * (s.init_lr_ratio + (1 - s.init_lr_ratio) * step / warmup)
        progress = (step - warmup) / (total - warmup)
        return s.lr * math.exp(math.log(s.final_lr_ratio) * min(1.0, progress))

    def fit(self, model: nn.Module, train: MolGraphDataset, val: MolGraphDataset, scaler: TargetScaler,
            seed: int = 0, resume: bool = False) -> FitResult:
        s = self.settings
        model.to(self.device)
        optimizer = torch.optim.Adam(model.parameters(), lr=s.lr, weight_decay=s.weight_decay)
        train_labels = torch.from_numpy(train.labels)
        pos_weight = positive_class_weights(train_labels, self.task_types) if s.class_weighting else None
        loss_fn = MaskedMultiTaskLoss(self.task_types, pos_weight)
        scaled_train = train.with_labels(scaler.transform(train.labels))
        steps_per_epoch = max(1, math.ceil(len(train) / s.batch_size))

        start_epoch, best_score, best_epoch, bad_epochs = 0, -math.inf, -1, 0
        history: list[dict] = []
        best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        if resume and self.checkpoint_path is not None and self.checkpoint_path.exists():
            state = load_checkpoint(self.checkpoint_path)
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            best_state = state["best_model"]
            start_epoch, best_score, best_epoch = state["epoch"] + 1, state["best_score"], state["best_epoch"]
            bad_epochs, history = state["bad_epochs"], list(state["history"])
            torch.set_rng_state(state["rng"])
            self.log(f"resumed from {self.checkpoint_path} after epoch {state['epoch'] + 1}")
            if state.get("finished"):
                start_epoch = s.epochs
        else:
            seed_everything(seed)

        dist_ctx = self.distributed
        world = dist_ctx.world_size if dist_ctx else 1
        trained = model
        if dist_ctx is not None:
            from torch.nn.parallel import DistributedDataParallel

            trained = DistributedDataParallel(
                model, device_ids=[self.device.index] if self.device.type == "cuda" else None)
        started = time.perf_counter()
        epoch = start_epoch - 1
        for epoch in range(start_epoch, s.epochs):
            if bad_epochs >= s.patience:
                break
            t0 = time.perf_counter()
            model.train()
            total, count = 0.0, 0
            order = scaled_train.index_batches(s.batch_size, shuffle=True, seed=seed * 100003 + epoch)
            for i, chunk in enumerate(order):
                if len(chunk) < 2 * world:
                    continue  # batch norm needs two molecules per process; every rank skips the same batches
                for group in optimizer.param_groups:
                    group["lr"] = self._lr(epoch * steps_per_epoch + i, steps_per_epoch)
                batch = scaled_train.collate(dist_ctx.shard(chunk) if dist_ctx else chunk).to(self.device)
                optimizer.zero_grad()
                loss_sum, labelled = loss_fn.sum_and_count(trained(batch), batch.y)
                if dist_ctx is not None:
                    # DDP averages gradients over ranks: scaling by world / global count gives the gradient
                    # of the mean over the whole global batch, exactly as one process would compute it
                    labelled = dist_ctx.all_reduce_sum(labelled.detach())
                    loss = loss_sum * world / labelled.clamp(min=1)
                else:
                    loss = loss_sum / labelled.clamp(min=1)
                loss.backward()
                if s.grad_clip:
                    nn.utils.clip_grad_norm_(model.parameters(), s.grad_clip)
                optimizer.step()
                total += float(loss.detach()) / world * len(chunk)
                count += len(chunk)
            if dist_ctx is not None:
                total = float(dist_ctx.all_reduce_sum(torch.tensor(total, dtype=torch.float64)))
            val_pred = predict_outputs(model, val, self.task_types, scaler, s.eval_batch_size, self.device)
            val_metrics = evaluate_predictions(val.labels, val_pred, self.task_types, self.task_names)
            if s.selection == "loss":
                score = -masked_loss_on(loss_fn, val_pred, val.labels, self.task_types, scaler)
            else:
                score = selection_score(val_metrics, self.task_types)
            improved = np.isfinite(score) and score > best_score
            if improved:
                best_score, best_epoch, bad_epochs = float(score), epoch, 0
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            else:
                bad_epochs += 1
            record = {"epoch": epoch + 1, "train_loss": total / max(count, 1), "val_score": float(score),
                      "seconds": time.perf_counter() - t0}
            history.append(record)
            finished = epoch + 1 >= s.epochs or bad_epochs >= s.patience
            if self.checkpoint_path is not None and (dist_ctx is None or dist_ctx.is_main):
                save_checkpoint(
                    {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "best_model": best_state,
                     "epoch": epoch, "best_score": best_score, "best_epoch": best_epoch, "bad_epochs": bad_epochs,
                     "history": history, "rng": torch.get_rng_state(), "finished": finished},
                    self.checkpoint_path,
                )
            elapsed = time.perf_counter() - started
            done = epoch + 1 - start_epoch
            eta = elapsed / done * (s.epochs - epoch - 1)
            self.log(
                f"epoch {epoch + 1:>3}/{s.epochs}  loss {record['train_loss']:.4f}  val {score:.4f}  "
                f"best {best_score:.4f} @ {best_epoch + 1}  {record['seconds']:.1f}s  ETA {eta / 60:.1f} min"
                + ("" if improved else f"  (no improvement {bad_epochs}/{s.patience})")
            )
            if self.on_epoch_end is not None:
                self.on_epoch_end(epoch, record)
        model.load_state_dict(best_state)
        return FitResult(best_epoch=best_epoch + 1, best_score=best_score, epochs_run=len(history), history=history)
