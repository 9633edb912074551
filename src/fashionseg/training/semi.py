"""Semi-supervised training on unlabelled photos: a mean teacher with confident pseudo-labels.

The teacher is the exponential moving average of the student (the run's EMA). Each step it
labels a batch of unlabelled photos as they are (the weak view); pixels whose top probability
is under ``pseudo_threshold`` are ignored, and where the photo has tags a class it is not
tagged with can never be a pseudo-label (its logit is masked before the softmax). With
``pseudo_balance`` the threshold is per class (class-balanced self-training): a class keeps at
least that share of the pixels the teacher gives it, so rare garments, of which a young teacher
is seldom sure, are not starved of pseudo-labels. The student learns those labels on a strong
view: flip, a wider scale-and-crop, stronger colour jitter and one erased box per photo, moved
with the labels. The unlabelled loss ramps up over the first fifth of training, while the
teacher is still poor.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from fashionseg.config import TrainConfig
from fashionseg.data.categories import IGNORE
from fashionseg.models.normalize import to_float
from fashionseg.training.augment import augment
from fashionseg.training.loader import BatchPlan, make_loader
from fashionseg.training.parts import UNLABELLED, epoch_generator

RAMP = 0.2  # share of the optimizer steps over which the unlabelled weight ramps up
# Per-class thresholds follow a running estimate over batches: a class seldom seen in a batch
# should not swing its threshold on a handful of pixels.
BALANCE_MOMENTUM = 0.9


class MeanTeacher:
    """The unlabelled half of each training step.

    Args:
        root: an unlabelled cache (``prepare.unlabelled.build_unlabelled``).
        student: the model being trained (its structure is copied for the teacher).
        ema_state: the EMA weights; the teacher's parameters share their memory, so every EMA
            update is the teacher's update.
        config: the run's config (batch size, threshold, weight, seed, workers).
        device: where the model runs.
    """

    def __init__(
        self, root: Path, student, ema_state: dict, config: TrainConfig, device: torch.device
    ):
        self.config = config
        self.teacher = copy.deepcopy(student)
        self.teacher.load_state_dict(ema_state, assign=True)
        self.teacher.eval().requires_grad_(False)
        self.rows = np.arange(len(np.load(root / "allowed.npy", mmap_mode="r")))
        self.plan = BatchPlan()
        self.loader = make_loader(
            root, self.plan, config.workers, device.type == "cuda", "allowed.npy"
        )
        self._batches = iter(())
        self.class_conf: torch.Tensor | None = None  # running per-class quantile (pseudo_balance)

    def start_epoch(self, epoch: int, steps: int, rank: int = 0, world: int = 1) -> None:
        """Draw this epoch's unlabelled batches (one per labelled batch), reproducibly."""
        gen = epoch_generator(self.config.seed, epoch, UNLABELLED)
        size = self.config.batch_size
        need = steps * size * world
        order = np.concatenate(
            [
                self.rows[torch.randperm(len(self.rows), generator=gen).numpy()]
                for _ in range(-(-need // len(self.rows)))
            ]
        )[:need]
        mine = order[rank::world]
        self.plan.batches = [sorted(mine[i : i + size].tolist()) for i in range(0, len(mine), size)]
        self._batches = iter(self.loader)

    def weight(self, step: int, total_steps: int) -> float:
        """The unlabelled loss weight at optimizer step ``step``."""
        ramp = max(1, int(RAMP * total_steps))
        return self.config.unlabelled_weight * min(1.0, (step + 1) / ramp)

    @torch.no_grad()
    def pseudo_batch(
        self, device: torch.device, gen: torch.Generator, dtype
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The next strong view and its pseudo-labels.

        Returns:
            images float (N, 3, H, W) normalised; labels int64 (N, H, W) with IGNORE where
            the teacher is not confident.
        """
        photos, allowed = next(self._batches)
        images = to_float(photos.to(device, non_blocking=True))
        allowed = allowed.to(device, non_blocking=True)
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            logits = self.teacher(images)
        logits = logits.float().masked_fill(~allowed[:, :, None, None], float("-inf"))
        conf, labels = logits.softmax(1).max(1)
        threshold = self.config.pseudo_threshold
        if self.config.pseudo_balance > 0:
            threshold = self._class_thresholds(conf, labels, logits.shape[1])[labels]
        labels = torch.where(conf >= threshold, labels, IGNORE)
        images, labels = augment(
            images,
            labels,
            gen,
            hflip=True,
            scale=(min(0.5, self.config.scale_min), max(2.0, self.config.scale_max)),
            jitter=max(0.5, self.config.color_jitter),
        )
        return _erase_box(images, gen), labels

    def _class_thresholds(
        self, conf: torch.Tensor, labels: torch.Tensor, num_classes: int
    ) -> torch.Tensor:
        """Each class's threshold: ``pseudo_threshold``, or lower where the running quantile
        that keeps a ``pseudo_balance`` share of the class's pixels is lower. Shape (C,)."""
        quantile, seen = class_quantiles(conf, labels, num_classes, 1 - self.config.pseudo_balance)
        if self.class_conf is None:
            self.class_conf = torch.full_like(quantile, float("nan"))
        old = self.class_conf
        blended = torch.where(
            old.isnan(), quantile, BALANCE_MOMENTUM * old + (1 - BALANCE_MOMENTUM) * quantile
        )
        self.class_conf = torch.where(seen, blended, old)
        threshold = self.config.pseudo_threshold
        return self.class_conf.nan_to_num(threshold).clamp(max=threshold)


def class_quantiles(
    conf: torch.Tensor, labels: torch.Tensor, num_classes: int, q: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``q`` quantile (lower value) of ``conf`` among the pixels of each class, in one sort
    and with no host sync (a loop over classes would wait on the device once per class).

    Args:
        conf: float (N, H, W) in [0, 1].
        labels: int64 (N, H, W) in [0, num_classes).
        num_classes: C.
        q: in [0, 1].

    Returns:
        quantiles float (C,), 0 for absent classes; present bool (C,).
    """
    labels = labels.flatten()
    # Class k's pixels sort inside [k, k + 0.5]: one sort orders classes, then confidences.
    keys = (labels.double() + conf.flatten().double() * 0.5).sort().values
    counts = torch.bincount(labels, minlength=num_classes)
    starts = counts.cumsum(0) - counts
    at = starts + (q * (counts - 1).clamp(min=0)).long()
    classes = torch.arange(num_classes, device=conf.device, dtype=torch.float64)
    values = (keys[at.clamp(max=keys.numel() - 1)] - classes) * 2
    present = counts > 0
    return torch.where(present, values, 0.0).float(), present


def _erase_box(images: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Zero one random box (a quarter of each side) per photo, labels kept (cut-out)."""
    n, _, h, w = images.shape
    bh, bw = max(1, h // 4), max(1, w // 4)
    corners = torch.rand(2, n, generator=gen) * torch.tensor([[h - bh + 1], [w - bw + 1]])
    top, left = corners.long().to(images.device, non_blocking=True)
    ys = torch.arange(h, device=images.device)[None, :, None]
    xs = torch.arange(w, device=images.device)[None, None, :]
    inside = (
        (ys >= top[:, None, None])
        & (ys < (top + bh)[:, None, None])
        & (xs >= left[:, None, None])
        & (xs < (left + bw)[:, None, None])
    )
    return images.masked_fill(inside[:, None], 0.0)


def pseudo_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy over the confident pixels (0 when there are none).

    Args:
        logits: (N, C, H, W) of the strong view.
        labels: int64 (N, H, W), IGNORE where no pseudo-label.
    """
    total = F.cross_entropy(logits.float(), labels, ignore_index=IGNORE, reduction="sum")
    return total / (labels != IGNORE).sum().clamp(min=1)
