"""The end of an epoch that validates: the metrics, the history row, the checkpoints,
``history.csv``, TensorBoard and the printed line; and the run's state they update."""

from __future__ import annotations

import copy
import csv
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..checkpoint import save_checkpoint, training_checkpoint
from ..data.prepare import Cache
from .loader import make_loader
from .metrics import METRIC_KEYS
from .run import Run
from .steps import Dist, validate

HISTORY_COLUMNS = [
    "epoch",
    "train_loss",
    "val_loss",
    "val_pixel_accuracy",
    "val_binary_iou",
    "val_miou",
    "lr",
    "seconds",
    "images_per_second",
]


def _write_history(path: Path, history: list[dict]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, HISTORY_COLUMNS)
        w.writeheader()
        for row in history:
            w.writerow({k: row[k] for k in HISTORY_COLUMNS})
    os.replace(tmp, path)


@dataclass
class Data:
    """The prepared data of a run and its split (cache row indices)."""

    cache: Cache
    train_idx: np.ndarray
    val_idx: np.ndarray

    @property
    def num_classes(self) -> int:
        return self.cache.categories.num_classes


@dataclass
class Progress:
    """Where a run stands: restored from ``last.pt`` on resume."""

    epoch: int = 0
    step: int = 0
    best: float = -1.0
    planned: int = 0
    history: list[dict] = field(default_factory=list)


def validate_and_save(
    run: Run,
    data: Data,
    progress: Progress,
    train_loss: float,
    seconds: float,
    speed: float,
    out: Path,
    dist_info: Dist,
    writer,
) -> dict:
    """Validate (the EMA weights when on), append to the history, write checkpoints,
    history.csv and TensorBoard, and print the epoch's line."""
    config = run.config
    eval_model = run.model
    if run.ema is not None:
        eval_model = copy.deepcopy(run.model)
        eval_model.load_state_dict(run.ema.state)
    batches = [
        sorted(data.val_idx[i : i + config.batch_size].tolist())
        for i in range(0, len(data.val_idx), config.batch_size)
    ][dist_info.rank :: dist_info.world]
    metrics = {}
    if len(data.val_idx):
        loader = make_loader(data.cache, batches, 0, run.device.type == "cuda")
        names = data.cache.categories.names()
        metrics = validate(
            eval_model,
            run.loss_fn,
            loader,
            run.device,
            data.num_classes,
            names,
            run.dtype,
            dist_info,
        )
    row = {
        "epoch": progress.epoch,
        "train_loss": train_loss,
        "val_loss": metrics.get("loss", float("nan")),
        "val_pixel_accuracy": metrics.get("pixel_accuracy", float("nan")),
        "val_binary_iou": metrics.get("binary_iou", float("nan")),
        "val_miou": metrics.get("miou", float("nan")),
        "lr": run.optimizer.param_groups[0]["lr"],
        "seconds": round(seconds, 3),
        "images_per_second": speed,
        "metrics": metrics,
    }
    progress.history.append(row)
    if not dist_info.main:
        return metrics
    miou = metrics.get("miou", -1.0)
    is_best = miou > progress.best
    progress.best = max(progress.best, miou)
    ckpt = training_checkpoint(
        run.model, run.optimizer, run.scaler, run.ema, run.config,
        categories=data.cache.categories.to_json(), epoch=progress.epoch, step=progress.step,
        best_miou=progress.best, history=progress.history, epochs_planned=progress.planned,
    )  # fmt: skip
    save_checkpoint(ckpt, out / "last.pt")
    if is_best:
        save_checkpoint(ckpt, out / "best.pt")
    _write_history(out / "history.csv", progress.history)
    if writer is not None:
        writer.add_scalar("loss/train", train_loss, progress.epoch)
        for k in ("loss",) + METRIC_KEYS:
            if k in metrics:
                writer.add_scalar(f"val/{k}", metrics[k], progress.epoch)
        writer.add_scalar("lr", row["lr"], progress.epoch)
        writer.add_scalar("images_per_second", row["images_per_second"], progress.epoch)
        writer.flush()
    print(
        f"epoch {progress.epoch}/{progress.planned}: loss {train_loss:.4f}  val mIoU "
        f"{row['val_miou']:.4f}  pixel acc {row['val_pixel_accuracy']:.4f}  binary IoU "
        f"{row['val_binary_iou']:.4f}  {row['images_per_second']:.1f} img/s",
        file=sys.stderr,
    )
    return metrics
