"""One pass of training (augment, forward, loss, backward, optimizer step) or of validation
over a loader; ``engine.train`` ties them to a run folder, benchmarks call them directly.
"""

from __future__ import annotations

import math
import sys
import time

import torch
from torch import nn
from tqdm import tqdm

from fashionseg.evaluate.metrics import ConfusionMatrix
from fashionseg.models.normalize import to_float
from fashionseg.training.augment import augment, copy_paste
from fashionseg.training.build import Run
from fashionseg.training.errors import TrainingError
from fashionseg.training.parts import Dist, channels_last, lr_factor, unwrap
from fashionseg.training.semi import pseudo_loss


def _forward_backward(
    run: Run, images, masks, gen: torch.Generator, teacher, step: int, total_steps: int
) -> torch.Tensor:
    """Augment one batch (uint8 from the loader), add the teacher's pseudo-labelled batch,
    and back-propagate the loss (scaled for accumulation). Returns the loss."""
    config, device, dtype = run.config, run.device, run.dtype
    images = to_float(images.to(device, non_blocking=True))
    masks = masks.to(device, non_blocking=True).long()
    if config.copy_paste > 0:  # before the flips and zooms, which then apply to the paste too
        images, masks = copy_paste(images, masks, gen, config.copy_paste, run.paste_weights)
    images, masks = augment(
        images, masks, gen, config.hflip, (config.scale_min, config.scale_max), config.color_jitter
    )
    n = images.shape[0]
    if teacher is not None:
        u_images, u_labels = teacher.pseudo_batch(device, gen, dtype)
        images = torch.cat([images, u_images])
    if channels_last(config, device):
        images = images.contiguous(memory_format=torch.channels_last)
    with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
        logits = run.train_model(images)
    loss = run.loss_fn(logits[:n], masks)
    if teacher is not None:
        loss = loss + teacher.weight(step, total_steps) * pseudo_loss(logits[n:], u_labels)
    run.scaler.scale(loss / config.accum_steps).backward()
    return loss


def _optimizer_step(run: Run, lr: float) -> None:
    """One optimizer step at ``lr`` (clipping, AMP scaler, EMA update)."""
    optimizer, scaler = run.optimizer, run.scaler
    for group in optimizer.param_groups:
        group["lr"] = lr
    if run.config.clip_grad > 0:
        scaler.unscale_(optimizer)
        nn.utils.clip_grad_norm_(run.train_model.parameters(), run.config.clip_grad)
    scaler.step(optimizer)
    scaler.update()
    optimizer.zero_grad(set_to_none=True)
    if run.ema is not None:
        run.ema.update(unwrap(run.train_model))


def train_one_epoch(
    run: Run,
    loader,
    gen: torch.Generator,
    *,
    step: int,
    total_steps: int,
    steps_per_epoch: int,
    teacher=None,
    show: bool = False,
    desc: str = "",
) -> tuple[float, int, int]:
    """One pass over the batches of ``loader``.

    Args:
        run: the run's parts (``run.Run``).
        loader: yields uint8 images (N, H, W, 3) and uint8 masks (N, H, W).
        gen: CPU generator for the augmentation draws.
        step: optimizer steps done before this epoch (for the schedule).
        total_steps: optimizer steps of the whole schedule.
        steps_per_epoch: for the warm-up, given in epochs.
        teacher: a ``semi.MeanTeacher``: each labelled batch is joined by a batch of
            pseudo-labelled unlabelled photos in the same forward pass.
        show: draw a progress bar.
        desc: the bar's label.

    Returns:
        ``(mean loss, images seen, optimizer steps done)``.
    """
    model, optimizer, config, device = run.train_model, run.optimizer, run.config, run.device
    step0 = step
    model.train()
    running = torch.zeros((), device=device)
    seen = 0
    bar = tqdm(
        loader,
        desc=desc,
        unit="batch",
        disable=not show,
        dynamic_ncols=True,
        file=sys.stderr,
        leave=False,
    )
    start = time.perf_counter()
    optimizer.zero_grad(set_to_none=True)
    for i, (images, masks) in enumerate(bar):
        n = images.shape[0]
        loss = _forward_backward(run, images, masks, gen, teacher, step, total_steps)
        if (i + 1) % config.accum_steps == 0 or i + 1 == len(loader):
            _optimizer_step(run, config.lr * lr_factor(config, step, total_steps, steps_per_epoch))
            step += 1
        running += loss.detach() * n
        seen += n
        if i % 10 == 0 or i + 1 == len(loader):
            value = float(running) / max(1, seen)
            if not math.isfinite(value):
                raise TrainingError(
                    f"loss became {value} in epoch {desc}; stopped, the last good checkpoint is kept "
                    "(lower --lr or enable --clip-grad)"
                )
            bar.set_postfix(
                loss=f"{value:.4f}", img_s=f"{seen / (time.perf_counter() - start):.1f}"
            )
    bar.close()
    return float(running) / max(1, seen), seen, step - step0


@torch.no_grad()
def validate(
    model, loss_fn, loader, device, num_classes: int, names, dtype, dist_info: Dist
) -> dict:
    """Validation metrics at cache resolution, summed over ranks."""
    model.eval()
    cm = ConfusionMatrix(num_classes, device)
    loss_sum = torch.zeros(2, device=device, dtype=torch.float64)
    for images, masks in loader:
        images = to_float(images.to(device, non_blocking=True))
        masks = masks.to(device, non_blocking=True).long()
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            logits = model(images)
        loss_sum[0] += loss_fn(logits, masks).double() * images.shape[0]
        loss_sum[1] += images.shape[0]
        cm.update(logits.argmax(1), masks)
    if dist_info.world > 1:
        import torch.distributed as dist

        dist.all_reduce(loss_sum)
    cm.all_reduce()
    out = cm.compute(names)
    out["loss"] = float(loss_sum[0] / loss_sum[1].clamp(min=1))
    return out
