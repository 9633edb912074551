"""What a run records when it validates, for either task (``training/tasks/``): the metrics,
the history row (``history.csv``, whose columns are defined here and nowhere else), the
checkpoints, TensorBoard and the printed line; and the run's state they update."""

from __future__ import annotations

import copy
import csv
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fashionseg.checkpoint import save_checkpoint, training_checkpoint
from fashionseg.files import atomic_open
from fashionseg.prepare.cache import Cache
from fashionseg.training.build import Run
from fashionseg.training.parts import Dist

# The validation columns of history.csv (the study's curves plot them), and the one that picks
# best.pt, the study's finalists and its best run.
VALIDATION_COLUMNS = ["val_loss", "val_pixel_accuracy", "val_binary_iou", "val_miou"]
SELECTION_COLUMN = "val_miou"
# The same for instance runs (task instances), whose best.pt is chosen by validation mask AP.
INSTANCE_VALIDATION_COLUMNS = ["val_mask_ap", "val_mask_ap50", "val_box_ap", "val_attribute_f1"]
INSTANCE_SELECTION_COLUMN = "val_mask_ap"


def write_history(path: Path, history: list[dict], columns: list[str]) -> None:
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
    task,
    data: RunData,
    progress: RunState,
    train_loss: float,
    seconds: float,
    speed: float,
    out: Path,
    dist_info: Dist,
    writer,
) -> dict:
    """Validate (the EMA weights when on) by the task's own measure, append to the history,
    write the checkpoints (``best.pt`` by the task's selection metric), history.csv and
    TensorBoard, and print the epoch's line."""
    eval_model = run.model
    if run.ema is not None:
        eval_model = copy.deepcopy(run.model)
        eval_model.load_state_dict(run.ema.state)
    metrics = task.validate(run, eval_model, data, dist_info)
    row = {
        "epoch": progress.epoch,
        "train_loss": train_loss,
        **task.history_values(metrics),
        "lr": run.optimizer.param_groups[0]["lr"],
        "seconds": round(seconds, 3),
        "images_per_second": speed,
        "metrics": metrics,
    }
    progress.history.append(row)
    if not dist_info.main:
        return metrics
    score = task.score(metrics)
    is_best = score > progress.best
    progress.best = max(progress.best, score)
    ckpt = training_checkpoint(
        run.model, run.optimizer, run.scaler, run.ema, run.config,
        categories=data.cache.categories.to_json(), epoch=progress.epoch, step=progress.step,
        best=progress.best, selection=f"val_{task.selection}", history=progress.history,
        epochs_planned=progress.planned,
    )  # fmt: skip
    ckpt.update(task.extras())
    save_checkpoint(ckpt, out / "last.pt")
    if is_best:
        save_checkpoint(ckpt, out / "best.pt")
    write_history(out / "history.csv", progress.history, history_columns(task.columns))
    if writer is not None:
        writer.add_scalar("loss/train", train_loss, progress.epoch)
        for k in task.scalars:
            if metrics.get(k) is not None:
                writer.add_scalar(f"val/{k}", metrics[k], progress.epoch)
        writer.add_scalar("lr", row["lr"], progress.epoch)
        writer.add_scalar("images_per_second", row["images_per_second"], progress.epoch)
        writer.flush()
    print(
        f"epoch {progress.epoch}/{progress.planned}: loss {train_loss:.4f}  "
        f"{task.line(row, metrics)}  {row['images_per_second']:.1f} img/s",
        file=sys.stderr,
    )
    return metrics


def history_columns(validation: list[str]) -> list[str]:
    """history.csv's columns around a task's validation columns."""
    return ["epoch", "train_loss", *validation, "lr", "seconds", "images_per_second"]
