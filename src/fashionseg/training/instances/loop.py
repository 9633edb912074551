"""``train --task instances``: Mask R-CNN on an instance cache, with the semantic engine's
parts and promises (``engine.train`` hands instance configs here).

- one ``TrainConfig``; the run folder as the engine keeps it (``runfolder.py``): config.yaml,
  split.json, history.csv (``history.INSTANCE_HISTORY_COLUMNS``), last.pt, best.pt (by
  validation mask AP), metrics.json, TensorBoard;
- ``--resume`` continues bit for bit on the CPU: batches and flips come from the epoch's
  generator, torchvision's RoI sampling from the global RNG, restored from last.pt;
- DDP under torchrun (each rank its shard of the same batches, rank 0 validates and writes),
  AMP (autocast + scaler), EMA of the weights, ``--max-minutes`` (``budget.py``).
"""

from __future__ import annotations

import copy
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from fashionseg.checkpoint import restore_training, save_checkpoint, training_checkpoint
from fashionseg.config import TrainConfig
from fashionseg.evaluate.instances.validation import validate_instances
from fashionseg.files import atomic_write
from fashionseg.machine import resolve_device
from fashionseg.models import build_instance_model
from fashionseg.training.budget import fit_budget
from fashionseg.training.build import load_init_weights
from fashionseg.training.errors import TrainingError
from fashionseg.training.history import INSTANCE_HISTORY_COLUMNS, RunState, write_history
from fashionseg.training.instances.batches import attribute_vocabulary, batch
from fashionseg.training.loader import epoch_batches
from fashionseg.training.parts import (
    EMA,
    amp_dtype,
    build_optimizer,
    decide_stop,
    epoch_generator,
    init_distributed,
    lr_factor,
    pick_device,
    unwrap,
)
from fashionseg.training.runfolder import absolute_paths, open_run_data, previous_state


def train_instances(config: TrainConfig, resume=False, on_eval=None, overwrite=False) -> dict:
    """Train an instance model as ``config`` says (``engine.train``'s arguments).

    Returns:
        The final validation metrics (also in ``metrics.json``).
    """
    dist_info = init_distributed(resolve_device(config.device))
    device = pick_device(config.device, dist_info)
    out = Path(config.out)
    state = previous_state(out, resume, overwrite, dist_info.main)
    torch.manual_seed(config.seed)
    np.random.seed(config.seed)
    config, cache, train_idx, val_idx = open_run_data(
        absolute_paths(config), out, dist_info, config.instances
    )
    attribute_ids = state["attribute_ids"] if state else attribute_vocabulary(cache, train_idx)
    model = build_instance_model(
        config.model, cache.categories.num_classes, len(attribute_ids), cache.size,
        config.width, config.pretrained and state is None and not config.init, config.encoder,
        config.rois_per_image,
    )  # fmt: skip
    if config.init and state is None:
        load_init_weights(model, config.init)
    model.to(device)
    dtype = amp_dtype(config, device)
    parts = {
        "model": model,
        "optimizer": build_optimizer(config, [p for p in model.parameters() if p.requires_grad]),
        "scaler": torch.amp.GradScaler(device.type, enabled=dtype == torch.float16),
        "ema": EMA(model, config.ema) if config.ema > 0 else None,
    }
    progress = RunState(planned=config.epochs)
    if state is not None:
        progress = RunState(**restore_training(state, *parts.values()))
        if config.max_minutes <= 0 or not progress.planned:
            progress.planned = config.epochs
    train_model = model
    if dist_info.world > 1:
        from torch.nn.parallel import DistributedDataParallel

        ids = [device.index] if device.type == "cuda" else None
        train_model = DistributedDataParallel(model, device_ids=ids, find_unused_parameters=True)
    run = dict(parts, config=config, device=device, dtype=dtype, train_model=train_model)
    data = {"cache": cache, "train": train_idx, "val": val_idx, "attributes": attribute_ids}
    return _loop(run, data, progress, out, dist_info, on_eval)


def _train_epoch(run, data, gen, batches, progress, steps_total, steps_per_epoch, show, desc):
    """One epoch of optimizer steps; returns (mean loss, images seen)."""
    config, model, optimizer, scaler = (
        run["config"],
        run["train_model"],
        run["optimizer"],
        run["scaler"],
    )
    model.train()
    total, seen = 0.0, 0
    optimizer.zero_grad(set_to_none=True)
    bar = tqdm(batches, desc=desc, unit="batch", disable=not show, file=sys.stderr, leave=False)
    for i, rows in enumerate(bar):
        images, targets = batch(
            data["cache"], rows, data["attributes"], run["device"], gen, config.hflip
        )
        with torch.autocast(
            run["device"].type, dtype=run["dtype"], enabled=run["dtype"] is not None
        ):
            losses = model(images, targets)
        loss = sum(losses.values())
        value = float(loss.detach())
        if not math.isfinite(value):
            raise TrainingError(
                f"loss became {value} in epoch {desc}; stopped, the last good checkpoint is "
                "kept (lower --lr or enable --clip-grad)"
            )
        scaler.scale(loss / config.accum_steps).backward()
        if (i + 1) % config.accum_steps == 0 or i + 1 == len(batches):
            lr = config.lr * lr_factor(config, progress.step, steps_total, steps_per_epoch)
            for group in optimizer.param_groups:
                group["lr"] = lr
            if config.clip_grad > 0:
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip_grad)
            scaler.step(optimizer)
            scaler.update()
            optimizer.zero_grad(set_to_none=True)
            if run["ema"] is not None:
                run["ema"].update(unwrap(model))
            progress.step += 1
        total += value * len(rows)
        seen += len(rows)
        bar.set_postfix(loss=f"{total / seen:.3f}")
    bar.close()
    return total / max(1, seen), seen


def _loop(run, data, progress: RunState, out: Path, dist_info, on_eval) -> dict:
    config, device = run["config"], run["device"]
    rank, world = dist_info.rank, dist_info.world
    one = epoch_batches(data["train"], config.batch_size, torch.Generator(), rank, world)
    steps_per_epoch = max(1, math.ceil(len(one) / config.accum_steps))
    writer = None
    if dist_info.main and config.tensorboard:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(out / "tb"), purge_step=progress.epoch + 1)
    if dist_info.main:
        print(
            f"training {config.model} ({config.encoder or 'efficientnet_lite0'}) on "
            f"{len(data['train'])} images ({len(data['val'])} val) at {config.size}, "
            f"{len(data['attributes'])} attributes, {config.epochs} epochs, device {device}",
            file=sys.stderr,
        )
    metrics = progress.history[-1]["metrics"] if progress.history else {}
    start, first = time.perf_counter(), progress.epoch
    stopped = False
    while progress.epoch < progress.planned and not stopped:
        epoch = progress.epoch
        gen = epoch_generator(config.seed, epoch)
        batches = epoch_batches(data["train"], config.batch_size, gen, rank, world)
        t0 = time.perf_counter()
        loss, seen = _train_epoch(
            run, data, gen, batches, progress, steps_per_epoch * progress.planned,
            steps_per_epoch, dist_info.main, f"{epoch + 1}/{progress.planned}",
        )  # fmt: skip
        seconds = time.perf_counter() - t0
        if config.max_minutes > 0 and epoch == first + 1:
            progress.planned = fit_budget(
                config, progress.planned, epoch + 1, start, seconds, dist_info, device
            )
        progress.epoch += 1
        if progress.epoch >= progress.planned or progress.epoch % max(1, config.eval_every) == 0:
            speed = round(seen * world / seconds, 2)
            metrics = _record(run, data, progress, loss, seconds, speed, out, dist_info, writer)
            if on_eval is not None:
                stopped = decide_stop(on_eval, progress.epoch, metrics, dist_info, device)
    if dist_info.main:
        final = dict(metrics, epoch=progress.epoch, best_mask_ap=progress.best)
        if stopped:
            final["stopped_at"] = progress.epoch
        atomic_write(out / "metrics.json", json.dumps(final, indent=1))
    if writer is not None:
        writer.close()
    return metrics


def _record(run, data, progress, loss, seconds, speed, out, dist_info, writer) -> dict:
    """Validate (rank 0, the EMA weights when on), then history, checkpoints, TensorBoard."""
    config = run["config"]
    if dist_info.world > 1:
        torch.distributed.barrier()
    if not dist_info.main:
        return {}
    model = run["model"]
    if run["ema"] is not None:
        model = copy.deepcopy(run["model"])
        model.load_state_dict(run["ema"].state)
    metrics = {}
    if len(data["val"]):
        metrics = validate_instances(
            model, data["cache"], data["val"], data["attributes"], run["device"],
            config.batch_size, run["dtype"],
        )  # fmt: skip
        metrics.pop("instances")
    row = {
        "epoch": progress.epoch,
        "train_loss": loss,
        "val_mask_ap": metrics.get("mask_ap"),
        "val_mask_ap50": metrics.get("mask_ap50"),
        "val_box_ap": metrics.get("box_ap"),
        "val_attribute_f1": metrics.get("attribute_f1"),
        "lr": run["optimizer"].param_groups[0]["lr"],
        "seconds": round(seconds, 3),
        "images_per_second": speed,
        "metrics": metrics,
    }
    progress.history.append(row)
    ap = metrics.get("mask_ap") or 0.0
    is_best = ap > progress.best
    progress.best = max(progress.best, ap)
    ckpt = training_checkpoint(
        run["model"], run["optimizer"], run["scaler"], run["ema"], config,
        categories=data["cache"].categories.to_json(), epoch=progress.epoch, step=progress.step,
        best_miou=progress.best, history=progress.history, epochs_planned=progress.planned,
    )  # fmt: skip
    ckpt["attribute_ids"] = data["attributes"]
    save_checkpoint(ckpt, out / "last.pt")
    if is_best:
        save_checkpoint(ckpt, out / "best.pt")
    write_history(out / "history.csv", progress.history, INSTANCE_HISTORY_COLUMNS)
    if writer is not None:
        writer.add_scalar("loss/train", loss, progress.epoch)
        for key in ("mask_ap", "mask_ap50", "box_ap", "attribute_f1"):
            if metrics.get(key) is not None:
                writer.add_scalar(f"val/{key}", metrics[key], progress.epoch)
        writer.flush()
    f1 = metrics.get("attribute_f1")
    print(
        f"epoch {progress.epoch}/{progress.planned}: loss {loss:.4f}  val mask AP "
        f"{ap:.4f}  AP50 {metrics.get('mask_ap50') or 0:.4f}  attribute F1 "
        f"{'-' if f1 is None else f'{f1:.4f}'}  {speed:.1f} img/s",
        file=sys.stderr,
    )
    return metrics
