"""The training engine: ``train`` ties the pieces of ``steps.py`` (``train_one_epoch``,
``validate``, schedule, EMA) to a run folder (config, history, checkpoints, TensorBoard) and
makes it resumable.

Runs on the CPU, one GPU, or many through ``torchrun`` (DistributedDataParallel: every rank
reads its own shard, metrics are summed across ranks, only rank 0 writes).
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from fashionseg.checkpoint import CheckpointError, restore_training
from fashionseg.config import TrainConfig, load_config
from fashionseg.files import atomic_write
from fashionseg.machine import resolve_device
from fashionseg.prepare.resolve import resolve_unlabelled
from fashionseg.training.budget import fit_budget
from fashionseg.training.build import Run, build_run
from fashionseg.training.errors import TrainingError
from fashionseg.training.history import RunData, RunState, record_epoch
from fashionseg.training.loader import (
    BatchPlan,
    epoch_batches,
    make_loader,
)
from fashionseg.training.losses import median_frequency_weights
from fashionseg.training.parts import (
    Dist,
    decide_stop,
    epoch_generator,
    init_distributed,
    pick_device,
)
from fashionseg.training.runfolder import absolute_paths, open_run_data, previous_state
from fashionseg.training.sampling import (
    class_presence,
    class_repeat_factors,
    repeat_factors,
    repeated_indices,
)
from fashionseg.training.semi import MeanTeacher
from fashionseg.training.steps import train_one_epoch

# on_eval(epoch, metrics) -> stop?
OnEval = Callable[[int, dict], bool]


def train(
    config: TrainConfig,
    resume: bool = False,
    on_eval: OnEval | None = None,
    overwrite: bool = False,
) -> dict:
    """Train a model as ``config`` says, in ``config.out``; with ``resume`` continue from the
    last completed epoch in that folder.

    Args:
        config: the run's settings.
        resume: continue the run folder ``config.out`` from its ``last.pt``.
        on_eval: called as ``on_eval(epoch, metrics)`` after each validation (on rank 0);
            returning True stops the run there (a tuner's pruning). ``metrics.json`` then
            has ``stopped_at``. Under torchrun every rank passes one (or none): rank 0's
            answer is broadcast.
        overwrite: start a new run in a folder that holds one (its checkpoints, history and
            TensorBoard events are removed first); without it such a folder is refused.

    Returns:
        The final validation metrics (also written to ``metrics.json``).
    """
    config.validate()
    if config.task == "instances":
        from fashionseg.training.instances.loop import train_instances

        return train_instances(config, resume, on_eval, overwrite)
    dist_info = init_distributed(resolve_device(config.device))
    device = pick_device(config.device, dist_info)
    if device.type == "cuda":
        # TF32 for what autocast leaves in fp32 (and for --amp off); fixed input sizes let
        # cuDNN pick the fastest convolution algorithms once.
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    out = Path(config.out)
    state = previous_state(out, resume, overwrite, dist_info.main)
    if config.init and state is None and not Path(config.init).is_file():
        raise CheckpointError(f"{config.init}: no such checkpoint (--init)")
    torch.manual_seed(config.seed)
    np.random.seed(config.seed)
    config, data = _open_data(absolute_paths(config), out, dist_info)
    weight = None
    if config.class_weights == "median":
        masks = data.cache.masks[data.train_idx]
        weight = torch.from_numpy(median_frequency_weights(masks, data.num_classes)).to(device)
    run = build_run(
        config, data.num_classes, device, weight, config.pretrained and state is None, dist_info,
        resumed=state is not None,
    )  # fmt: skip
    progress = RunState(planned=config.epochs)
    if state is not None:
        progress = RunState(
            **restore_training(state, run.model, run.optimizer, run.scaler, run.ema)
        )
        if config.max_minutes <= 0 or not progress.planned:
            progress.planned = config.epochs  # a budget-fitted schedule continues as fitted
    teacher = None
    if config.unlabelled:
        size = data.cache.size
        uroot = resolve_unlabelled(
            config.unlabelled, size, config.keep_aspect, data.num_classes, config.tags
        )
        teacher = MeanTeacher(uroot, run.model, run.ema.state, config, device)
        if dist_info.main:
            print(f"unlabelled photos: {uroot}", file=sys.stderr)
    return _loop(run, data, progress, teacher, out, dist_info, on_eval)


def _open_data(config: TrainConfig, out: Path, dist_info: Dist) -> tuple[TrainConfig, RunData]:
    """``runfolder.open_run_data`` as the semantic engine's config and RunData."""
    config, cache, train_idx, val_idx = open_run_data(config, out, dist_info)
    return config, RunData(cache, train_idx, val_idx)


def _announce(config: TrainConfig, data: RunData, device, world: int, resumed: int) -> None:
    print(
        f"training {config.model} on {len(data.train_idx)} images ({len(data.val_idx)} val) "
        f"at {config.size}, {data.num_classes} classes, {config.epochs} epochs, device "
        f"{device}" + (f" x{world}" if world > 1 else "")
        + (f", resuming after epoch {resumed}" if resumed else ""),
        file=sys.stderr,
    )  # fmt: skip


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


def _loop(
    run: Run,
    data: RunData,
    progress: RunState,
    teacher,
    out: Path,
    dist_info: Dist,
    on_eval: OnEval | None = None,
) -> dict:
    """Epochs until the planned number (or until ``on_eval`` says stop), validating and saving
    every ``eval_every``."""
    config, device = run.config, run.device
    rank, world = dist_info.rank, dist_info.world
    factors = _long_tail(run, data)
    rows = len(data.train_idx) if factors is None else int(round(float(factors.sum())))
    one_epoch = epoch_batches(np.arange(rows), config.batch_size, torch.Generator(), rank, world)
    steps_per_epoch = max(1, math.ceil(len(one_epoch) / config.accum_steps))
    writer = None
    if dist_info.main and config.tensorboard:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(out / "tb"), purge_step=progress.epoch + 1)
    if dist_info.main:
        _announce(config, data, device, world, progress.epoch)
    metrics: dict = progress.history[-1]["metrics"] if progress.history else {}
    plan = BatchPlan()
    train_loader = make_loader(data.cache, plan, config.workers, device.type == "cuda")
    train_start, start_epoch = time.perf_counter(), progress.epoch
    stopped = False
    while progress.epoch < progress.planned and not stopped:
        epoch = progress.epoch
        gen = epoch_generator(config.seed, epoch)
        train_rows = data.train_idx
        if factors is not None:  # the same draws on every rank, then each takes its shard
            train_rows = repeated_indices(data.train_idx, factors, gen)
        plan.batches = epoch_batches(train_rows, config.batch_size, gen, rank, world)
        if teacher is not None:
            teacher.start_epoch(epoch, len(plan.batches), rank, world)
        t0 = time.perf_counter()
        train_loss, seen, steps = train_one_epoch(
            run,
            train_loader,
            gen,
            step=progress.step,
            total_steps=steps_per_epoch * progress.planned,
            steps_per_epoch=steps_per_epoch,
            teacher=teacher,
            show=dist_info.main,
            desc=f"{epoch + 1}/{progress.planned}",
        )
        progress.step += steps
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - t0
        if config.max_minutes > 0 and epoch == start_epoch + 1:
            progress.planned = fit_budget(
                config, progress.planned, epoch + 1, train_start, seconds, dist_info, device
            )
        progress.epoch += 1
        last = progress.epoch >= progress.planned
        if last or progress.epoch % max(1, config.eval_every) == 0:
            speed = round(seen * world / seconds, 2)
            metrics = record_epoch(
                run, data, progress, train_loss, seconds, speed, out, dist_info, writer
            )
            if on_eval is not None:
                stopped = decide_stop(on_eval, progress.epoch, metrics, dist_info, device)
    if dist_info.main:
        final = dict(metrics, epoch=progress.epoch, best_miou=progress.best)
        if stopped:
            final["stopped_at"] = progress.epoch
        atomic_write(out / "metrics.json", json.dumps(final, indent=1))
    if writer is not None:
        writer.close()
    if world > 1:
        torch.distributed.barrier()
    return metrics


def resume_config(run: str | Path) -> TrainConfig:
    """The config a run folder was started with."""
    path = Path(run) / "config.yaml"
    if not path.exists():
        raise TrainingError(f"{run}: no config.yaml, not a run folder")
    return load_config(path)
