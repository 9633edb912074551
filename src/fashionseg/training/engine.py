"""The training engine, one for both tasks: ``train`` ties a task object
(``training/tasks/``: its data, losses and validation) and the pieces of ``steps.py``
(``train_one_epoch``, schedule, EMA) to a run folder (config, history, checkpoints,
TensorBoard) and makes it resumable.

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
from fashionseg.training.budget import fit_budget
from fashionseg.training.build import Run
from fashionseg.training.errors import TrainingError
from fashionseg.training.history import RunData, RunState, record_epoch
from fashionseg.training.loader import epoch_batches
from fashionseg.training.parts import (
    Dist,
    decide_stop,
    epoch_generator,
    init_distributed,
    pick_device,
)
from fashionseg.training.runfolder import absolute_paths, previous_state
from fashionseg.training.steps import train_one_epoch
from fashionseg.training.tasks import task_for

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
    task = task_for(config)
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
    config, data = task.open_data(absolute_paths(config), out, dist_info)
    run = task.build(data, device, state, dist_info)
    progress = RunState(planned=config.epochs)
    if state is not None:
        progress = RunState(
            **restore_training(state, run.model, run.optimizer, run.scaler, run.ema)
        )
        if config.max_minutes <= 0 or not progress.planned:
            progress.planned = config.epochs  # a budget-fitted schedule continues as fitted
    task.start(run, data, dist_info)
    return _loop(run, task, data, progress, out, dist_info, on_eval)


def _loop(
    run: Run,
    task,
    data: RunData,
    progress: RunState,
    out: Path,
    dist_info: Dist,
    on_eval: OnEval | None = None,
) -> dict:
    """Epochs until the planned number (or until ``on_eval`` says stop), validating and saving
    every ``eval_every``."""
    config, device = run.config, run.device
    rank, world = dist_info.rank, dist_info.world
    rows = np.arange(task.rows(data))
    one_epoch = epoch_batches(rows, config.batch_size, torch.Generator(), rank, world)
    steps_per_epoch = max(1, math.ceil(len(one_epoch) / config.accum_steps))
    writer = None
    if dist_info.main and config.tensorboard:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(out / "tb"), purge_step=progress.epoch + 1)
    if dist_info.main:
        print(task.announce(data, device, world, progress.epoch), file=sys.stderr)
    metrics: dict = progress.history[-1]["metrics"] if progress.history else {}
    train_start, start_epoch = time.perf_counter(), progress.epoch
    stopped = False
    while progress.epoch < progress.planned and not stopped:
        epoch = progress.epoch
        gen = epoch_generator(config.seed, epoch)
        batches = task.epoch(run, data, epoch, gen, rank, world)
        t0 = time.perf_counter()
        train_loss, seen, steps = train_one_epoch(
            run, task, batches, gen, step=progress.step,
            total_steps=steps_per_epoch * progress.planned, steps_per_epoch=steps_per_epoch,
            show=dist_info.main, desc=f"{epoch + 1}/{progress.planned}",
        )  # fmt: skip
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
                run, task, data, progress, train_loss, seconds, speed, out, dist_info, writer
            )
            if on_eval is not None:
                stopped = decide_stop(on_eval, progress.epoch, metrics, dist_info, device)
    if dist_info.main:
        final = dict(metrics, epoch=progress.epoch, **{f"best_{task.selection}": progress.best})
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
