"""One pass of training (the task's losses, backward, optimizer step) or of semantic
validation over a loader; ``engine.train`` ties them to a run folder, benchmarks call them
directly.
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
from fashionseg.training.build import Run
from fashionseg.training.errors import TrainingError
from fashionseg.training.parts import Dist, lr_factor, unwrap


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
    task,
    batches,
    gen: torch.Generator,
    *,
    step: int,
    total_steps: int,
    steps_per_epoch: int,
    show: bool = False,
    desc: str = "",
) -> tuple[float, int, int]:
    """One pass over an epoch's batches, for any task (``training/tasks/``): the task's
    losses, summed, back-propagated (scaled for accumulation), and the optimizer's steps.

    Args:
        run: the run's parts (``build.Run``).
        task: the run's task object; ``task.losses(run, batch, gen, step, total_steps)``
            gives a batch's named losses and its number of photos.
        batches: the epoch's batches (``task.epoch``).
        gen: CPU generator for the augmentation draws.
        step: optimizer steps done before this epoch (for the schedule).
        total_steps: optimizer steps of the whole schedule.
        steps_per_epoch: for the warm-up, given in epochs.
        show: draw a progress bar.
        desc: the bar's label.

    Returns:
        ``(mean loss, images seen, optimizer steps done)``.
    """
    optimizer, config, device = run.optimizer, run.config, run.device
    step0 = step
    run.train_model.train()
    running = torch.zeros((), device=device)
    seen = 0
    bar = tqdm(batches, desc=desc, unit="batch", disable=not show, dynamic_ncols=True,
               file=sys.stderr, leave=False)  # fmt: skip
    start = time.perf_counter()
    optimizer.zero_grad(set_to_none=True)
    for i, batch in enumerate(bar):
        losses, n = task.losses(run, batch, gen, step, total_steps)
        loss = sum(losses.values())
        run.scaler.scale(loss / config.accum_steps).backward()
        if (i + 1) % config.accum_steps == 0 or i + 1 == len(batches):
            _optimizer_step(run, config.lr * lr_factor(config, step, total_steps, steps_per_epoch))
            step += 1
        running += loss.detach() * n
        seen += n
        if i % 10 == 0 or i + 1 == len(batches):
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
