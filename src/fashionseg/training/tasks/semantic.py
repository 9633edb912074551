"""The semantic task: label maps from a training cache, the segmentation loss (with the mean
teacher's pseudo-labels and the long tail's repeats and pastes), validation by mIoU."""

from __future__ import annotations

import sys

import numpy as np
import torch

from fashionseg.config import TrainConfig
from fashionseg.evaluate.metrics import METRIC_KEYS
from fashionseg.models.normalize import to_float
from fashionseg.prepare.resolve import resolve_unlabelled
from fashionseg.training.augment import augment, copy_paste
from fashionseg.training.build import Run, build_run
from fashionseg.training.history import SELECTION_COLUMN, VALIDATION_COLUMNS, RunData
from fashionseg.training.loader import BatchPlan, epoch_batches, make_loader
from fashionseg.training.losses import median_frequency_weights
from fashionseg.training.parts import Dist, channels_last
from fashionseg.training.runfolder import open_run_data
from fashionseg.training.sampling import (
    class_presence,
    class_repeat_factors,
    repeat_factors,
    repeated_indices,
)
from fashionseg.training.semi import MeanTeacher, pseudo_loss
from fashionseg.training.steps import validate


class SemanticTask:
    """A semantic run's data, losses and validation (``training/tasks/__init__.py``)."""

    name = "semantic"
    selection = SELECTION_COLUMN.removeprefix("val_")  # best.pt: the highest validation mIoU
    columns = VALIDATION_COLUMNS
    scalars = ("loss", *METRIC_KEYS)  # TensorBoard's val/ curves

    def __init__(self, config: TrainConfig):
        self.config = config
        self.teacher: MeanTeacher | None = None
        self.factors: np.ndarray | None = None
        self.plan = BatchPlan()
        self.loader = None

    def open_data(self, config: TrainConfig, out, dist_info: Dist):
        config, cache, train_idx, val_idx = open_run_data(config, out, dist_info)
        self.config = config
        return config, RunData(cache, train_idx, val_idx)

    def build(self, data: RunData, device, state, dist_info: Dist) -> Run:
        config = self.config
        weight = None
        if config.class_weights == "median":
            masks = data.cache.masks[data.train_idx]
            weight = torch.from_numpy(median_frequency_weights(masks, data.num_classes)).to(device)
        return build_run(
            config, data.num_classes, device, weight, config.pretrained and state is None,
            dist_info, resumed=state is not None,
        )  # fmt: skip

    def start(self, run: Run, data: RunData, dist_info: Dist) -> None:
        """After the run's weights are in place: the mean teacher, the long tail's factors,
        the training loader."""
        config = self.config
        if config.unlabelled:
            uroot = resolve_unlabelled(
                config.unlabelled, data.cache.size, config.keep_aspect, data.num_classes,
                config.tags,
            )  # fmt: skip
            self.teacher = MeanTeacher(uroot, run.model, run.ema.state, config, run.device)
            if dist_info.main:
                print(f"unlabelled photos: {uroot}", file=sys.stderr)
        self.factors = _long_tail(run, data)
        self.loader = make_loader(data.cache, self.plan, config.workers, run.device.type == "cuda")

    def rows(self, data: RunData) -> int:
        if self.factors is None:
            return len(data.train_idx)
        return int(round(float(self.factors.sum())))

    def epoch(self, run: Run, data: RunData, epoch: int, gen, rank: int, world: int):
        rows = data.train_idx
        if self.factors is not None:  # the same draws on every rank, then each takes its shard
            rows = repeated_indices(data.train_idx, self.factors, gen)
        self.plan.batches = epoch_batches(rows, self.config.batch_size, gen, rank, world)
        if self.teacher is not None:
            self.teacher.start_epoch(epoch, len(self.plan.batches), rank, world)
        return self.loader

    def losses(self, run: Run, batch, gen, step: int, total_steps: int):
        """Augment one batch (uint8 from the loader), add the teacher's pseudo-labelled
        batch, and the losses: ``segmentation`` (and ``pseudo``)."""
        config, device, dtype = run.config, run.device, run.dtype
        images, masks = batch
        images = to_float(images.to(device, non_blocking=True))
        masks = masks.to(device, non_blocking=True).long()
        if config.copy_paste > 0:  # before the flips and zooms, which apply to the paste too
            images, masks = copy_paste(images, masks, gen, config.copy_paste, run.paste_weights)
        images, masks = augment(
            images, masks, gen, config.hflip, (config.scale_min, config.scale_max),
            config.color_jitter,
        )  # fmt: skip
        n = images.shape[0]
        if self.teacher is not None:
            u_images, u_labels = self.teacher.pseudo_batch(device, gen, dtype)
            images = torch.cat([images, u_images])
        if channels_last(config, device):
            images = images.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            logits = run.train_model(images)
        losses = {"segmentation": run.loss_fn(logits[:n], masks)}
        if self.teacher is not None:
            weight = self.teacher.weight(step, total_steps)
            losses["pseudo"] = weight * pseudo_loss(logits[n:], u_labels)
        return losses, n

    def validate(self, run: Run, model, data: RunData, dist_info: Dist) -> dict:
        """Metrics at cache resolution over every rank's share of the validation photos."""
        size = self.config.batch_size
        batches = [
            sorted(data.val_idx[i : i + size].tolist()) for i in range(0, len(data.val_idx), size)
        ][dist_info.rank :: dist_info.world]
        if not len(data.val_idx):
            return {}
        loader = make_loader(data.cache, batches, 0, run.device.type == "cuda")
        return validate(
            model, run.loss_fn, loader, run.device, data.num_classes,
            data.cache.categories.names(), run.dtype, dist_info,
        )  # fmt: skip

    def history_values(self, metrics: dict) -> dict:
        """The validation columns of history.csv (NaN where not validated)."""
        return {col: metrics.get(col.removeprefix("val_"), float("nan")) for col in self.columns}

    def score(self, metrics: dict) -> float:
        return metrics.get("miou", -1.0)

    def extras(self) -> dict:
        return {}

    def announce(self, data: RunData, device, world: int, resumed: int) -> str:
        config = self.config
        return (
            f"training {config.model} on {len(data.train_idx)} images ({len(data.val_idx)} val) "
            f"at {config.size}, {data.num_classes} classes, {config.epochs} epochs, device "
            f"{device}" + (f" x{world}" if world > 1 else "")
            + (f", resuming after epoch {resumed}" if resumed else "")
        )  # fmt: skip

    def line(self, row: dict, metrics: dict) -> str:
        return (
            f"val mIoU {row['val_miou']:.4f}  pixel acc {row['val_pixel_accuracy']:.4f}  "
            f"binary IoU {row['val_binary_iou']:.4f}"
        )


def _long_tail(run: Run, data: RunData) -> np.ndarray | None:
    """The photos' repeat factors (None without ``repeat_threshold``), and copy-paste's class
    preference on ``run`` (rare garments favoured: the factors at t = 1 without a threshold)."""
    config = run.config
    if config.repeat_threshold <= 0 and config.copy_paste <= 0:
        return None
    presence = class_presence(data.cache.masks, data.train_idx, data.num_classes)
    if config.copy_paste > 0:
        weights = class_repeat_factors(presence, config.repeat_threshold or 1.0)
        run.paste_weights = torch.from_numpy(weights)
    if config.repeat_threshold <= 0:
        return None
    return repeat_factors(presence, config.repeat_threshold)
