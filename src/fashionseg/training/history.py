"""What a run records when it validates: the metrics, the history row (``history.csv``, whose
columns are defined here and nowhere else), the checkpoints, TensorBoard and the printed line;
and the run's state they update."""

from __future__ import annotations

import copy
import csv
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fashionseg.checkpoint import save_checkpoint, training_checkpoint
from fashionseg.evaluate.metrics import METRIC_KEYS
from fashionseg.files import atomic_open
from fashionseg.prepare.cache import Cache
from fashionseg.training.build import Run
from fashionseg.training.loader import make_loader
from fashionseg.training.parts import Dist
from fashionseg.training.steps import validate

# The validation columns of history.csv (the study's curves plot them), and the one that picks
# best.pt, the study's finalists and its best run.
VALIDATION_COLUMNS = ["val_loss", "val_pixel_accuracy", "val_binary_iou", "val_miou"]
SELECTION_COLUMN = "val_miou"
HISTORY_COLUMNS = ["epoch", "train_loss", *VALIDATION_COLUMNS, "lr", "seconds", "images_per_second"]
# The same for instance runs (task instances), whose best.pt is chosen by validation mask AP.
INSTANCE_VALIDATION_COLUMNS = ["val_mask_ap", "val_mask_ap50", "val_box_ap", "val_attribute_f1"]
INSTANCE_SELECTION_COLUMN = "val_mask_ap"
INSTANCE_HISTORY_COLUMNS = [
    "epoch", "train_loss", *INSTANCE_VALIDATION_COLUMNS, "lr", "seconds", "images_per_second"
]  # fmt: skip


def write_history(path: Path, history: list[dict], columns: list[str] = HISTORY_COLUMNS) -> None:
    """``history.csv``: one row per validated epoch, in ``columns``."""
    with atomic_open(path, "w", newline="") as f:
        w = csv.DictWriter(f, columns)
        w.writeheader()
        for row in history:
            w.writerow({k: row[k] for k in columns})


@dataclass
class RunData:
    """The prepared data of a run and its split (cache row indices)."""

    cache: Cache
    train_idx: np.ndarray
    val_idx: np.ndarray

    @property
    def num_classes(self) -> int:
        return self.cache.categories.num_classes


@dataclass
class RunState:
    """Where a run stands: restored from ``last.pt`` on resume."""

    epoch: int = 0
    step: int = 0
    best: float = -1.0
    planned: int = 0
    history: list[dict] = field(default_factory=list)


def record_epoch(
    run: Run,
    data: RunData,
    progress: RunState,
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
    write_history(out / "history.csv", progress.history)
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
