"""The training engine: ``train`` ties the pieces of ``steps.py`` (``train_one_epoch``,
``validate``, schedule, EMA) to a run folder (config, history, checkpoints, TensorBoard) and
makes it resumable.

Runs on the CPU, one GPU, or many through ``torchrun`` (DistributedDataParallel: every rank
reads its own shard, metrics are summed across ranks, only rank 0 writes).
"""

from __future__ import annotations

import copy
import csv
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

from .checkpoint import load_checkpoint, save_checkpoint
from .config import TrainConfig, load_config, save_config
from .data.prepare import is_cache, parse_size
from .loader import (
    BatchPlan,
    epoch_batches,
    make_loader,
    resolve_data,
    resolve_unlabelled,
    split_indices,
)
from .losses import build_loss, median_frequency_weights
from .metrics import METRIC_KEYS
from .models import build_model
from .semi import MeanTeacher
from .steps import (  # noqa: F401  (re-exported: the engine's public pieces)
    EMA,
    Dist,
    TrainingError,
    amp_dtype,
    build_optimizer,
    init_distributed,
    lr_factor,
    pick_device,
    train_one_epoch,
    unwrap,
    validate,
)

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


def train(config: TrainConfig, resume: bool = False) -> dict:
    """Train a model as ``config`` says, in ``config.out``; with ``resume`` continue from the
    last completed epoch in that folder.

    Returns:
        The final validation metrics (also written to ``metrics.json``).
    """
    config.validate()
    dist_info = init_distributed(
        "cuda" if config.device in ("auto", "cuda") and torch.cuda.is_available() else "cpu"
    )
    device = pick_device(config.device, dist_info)
    if device.type == "cuda":
        # TF32 for what autocast leaves in fp32 (and for --amp off); fixed input sizes let
        # cuDNN pick the fastest convolution algorithms once.
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    out = Path(config.out)
    state = None
    if resume:
        if not (out / "last.pt").exists():
            raise TrainingError(
                f"{out}: no last.pt to resume from (no epoch finished); start the run again "
                "without --resume"
            )
        state = load_checkpoint(out / "last.pt")
    elif out.exists() and not out.is_dir():
        raise TrainingError(f"{out}: exists and is not a folder; --out names the run folder")
    # Inputs are recorded as absolute paths, so the run resumes from any working folder.
    for key in ("data", "unlabelled", "train_list", "val_list"):
        value = getattr(config, key)
        if value and Path(value).exists():
            setattr(config, key, str(Path(value).resolve()))
    if dist_info.main:
        out.mkdir(parents=True, exist_ok=True)
        save_config(config, out / "config.yaml")

    torch.manual_seed(config.seed)
    np.random.seed(config.seed)
    # Only rank 0 prepares a raw folder; the others wait and then open the finished cache.
    if dist_info.main:
        cache = resolve_data(config.data, config.size, config.keep_aspect, config.classes)
    if dist_info.world > 1:
        torch.distributed.barrier()
    if not dist_info.main:
        cache = resolve_data(config.data, config.size, config.keep_aspect, config.classes)
    adopt_cache_settings(config, cache, is_cache(config.data))
    if dist_info.main:
        save_config(config, out / "config.yaml")
    table = cache.categories
    names = table.names()
    num_classes = table.num_classes
    train_idx, val_idx = split_indices(
        cache, config.seed, config.val_fraction, config.train_list, config.val_list
    )
    if len(train_idx) < 2:
        raise TrainingError(
            f"{config.data}: needs at least 2 training images, found {len(train_idx)}"
        )
    if dist_info.main:
        ids = cache.meta["ids"]
        (out / "split.json").write_text(
            json.dumps({"train": [ids[i] for i in train_idx], "val": [ids[i] for i in val_idx]})
        )

    model = build_model(
        config.model,
        num_classes,
        width=config.width,
        pretrained=config.pretrained and state is None,
        encoder=config.encoder,
    )
    model.to(device)
    if device.type == "cuda" and config.channels_last != "off":
        model = model.to(memory_format=torch.channels_last)
    weight = None
    if config.class_weights == "median":
        weight = torch.from_numpy(median_frequency_weights(cache.masks[train_idx], num_classes)).to(
            device
        )
    loss_fn = build_loss(config.loss, num_classes, weight, config.focal_gamma)
    optimizer = build_optimizer(config, model.parameters())
    dtype = amp_dtype(config, device)
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)
    # Semi-supervised training needs a teacher: the EMA, at 0.99 unless set.
    ema_decay = config.ema or (0.99 if config.unlabelled else 0.0)
    ema = EMA(model, ema_decay) if ema_decay > 0 else None

    history: list[dict] = []
    start_epoch, step, best = 0, 0, -1.0
    if state is not None:
        # "model" holds the weights evaluation uses (the EMA when on); training goes on from the raw ones.
        model.load_state_dict(state.get("raw_model") or state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
        if ema is not None and state.get("ema"):
            ema.state = {k: v.to(device) for k, v in state["ema"].items()}
        torch.set_rng_state(state["rng_cpu"])
        start_epoch, step, best, history = (
            state["epoch"],
            state["step"],
            state["best_miou"],
            state["history"],
        )

    teacher = None
    if config.unlabelled:
        uroot = resolve_unlabelled(
            config.unlabelled, cache.size, config.keep_aspect, num_classes, config.tags
        )
        teacher = MeanTeacher(uroot, model, ema.state, config, device)
        if dist_info.main:
            print(f"unlabelled photos: {uroot}", file=sys.stderr)

    train_model = model
    if config.compile:
        train_model = torch.compile(model)
    if dist_info.world > 1:
        from torch.nn.parallel import DistributedDataParallel

        train_model = DistributedDataParallel(
            train_model, device_ids=[device.index] if device.type == "cuda" else None
        )

    val_batches = [
        sorted(val_idx[i : i + config.batch_size].tolist())
        for i in range(0, len(val_idx), config.batch_size)
    ]
    val_batches = val_batches[dist_info.rank :: dist_info.world]
    pin = device.type == "cuda"
    steps_per_epoch = max(
        1,
        math.ceil(
            len(
                epoch_batches(
                    train_idx,
                    config.batch_size,
                    torch.Generator().manual_seed(0),
                    dist_info.rank,
                    dist_info.world,
                )
            )
            / config.accum_steps
        ),
    )
    writer = None
    if dist_info.main and config.tensorboard:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(out / "tb"), purge_step=start_epoch + 1)
    if dist_info.main:
        print(
            f"training {config.model} on {len(train_idx)} images ({len(val_idx)} val) at {config.size}, "
            f"{num_classes} classes, {config.epochs} epochs, device {device}"
            + (f" x{dist_info.world}" if dist_info.world > 1 else "")
            + (f", resuming after epoch {start_epoch}" if start_epoch else ""),
            file=sys.stderr,
        )
    metrics: dict = history[-1]["metrics"] if history else {}
    planned = config.epochs
    if state and config.max_minutes > 0:  # a budget-fitted schedule continues as it was fitted
        planned = state.get("epochs_planned", planned)
    total_steps = steps_per_epoch * planned
    plan = BatchPlan()
    train_loader = make_loader(cache, plan, config.workers, pin)
    train_start = time.perf_counter()
    epoch = start_epoch
    while epoch < planned:
        gen = torch.Generator().manual_seed(config.seed * 1_000_003 + epoch)
        plan.batches = epoch_batches(
            train_idx, config.batch_size, gen, dist_info.rank, dist_info.world
        )
        if teacher is not None:
            teacher.start_epoch(epoch, len(plan.batches), dist_info.rank, dist_info.world)
        t0 = time.perf_counter()
        train_loss, seen, steps = train_one_epoch(
            train_model,
            loss_fn,
            optimizer,
            train_loader,
            config,
            device,
            gen,
            step,
            total_steps,
            steps_per_epoch,
            scaler,
            dtype,
            ema,
            dist_info.main,
            f"{epoch + 1}/{planned}",
            teacher,
        )
        step += steps
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - t0
        last = epoch + 1 == planned
        if config.max_minutes > 0 and epoch == start_epoch + 1:
            planned = _fit_budget(
                config, planned, epoch + 1, train_start, seconds, dist_info, device
            )
            total_steps = steps_per_epoch * planned
            last = epoch + 1 >= planned
        if not last and (epoch + 1) % max(1, config.eval_every):
            epoch += 1
            continue
        eval_model = model
        if ema is not None:
            eval_model = copy.deepcopy(model)
            eval_model.load_state_dict(ema.state)
        metrics = (
            validate(
                eval_model,
                loss_fn,
                make_loader(cache, val_batches, 0, pin),
                device,
                num_classes,
                names,
                dtype,
                dist_info,
            )
            if len(val_idx)
            else {}
        )
        row = {
            "epoch": epoch + 1,
            "train_loss": train_loss,
            "val_loss": metrics.get("loss", float("nan")),
            "val_pixel_accuracy": metrics.get("pixel_accuracy", float("nan")),
            "val_binary_iou": metrics.get("binary_iou", float("nan")),
            "val_miou": metrics.get("miou", float("nan")),
            "lr": optimizer.param_groups[0]["lr"],
            "seconds": round(seconds, 3),
            "images_per_second": round(seen * dist_info.world / seconds, 2),
            "metrics": metrics,
        }
        history.append(row)
        if dist_info.main:
            weights = ema.state if ema is not None else model.state_dict()
            ckpt = {
                "model": weights,
                "raw_model": model.state_dict() if ema is not None else None,
                "optimizer": optimizer.state_dict(),
                "scaler": scaler.state_dict() if scaler.is_enabled() else None,
                "ema": ema.state if ema is not None else None,
                "rng_cpu": torch.get_rng_state(),
                "epoch": epoch + 1,
                "step": step,
                "config": config.to_dict(),
                "categories": table.to_json(),
                "history": history,
                "epochs_planned": planned,
            }
            miou = metrics.get("miou", -1.0)
            is_best = miou > best
            best = max(best, miou)
            ckpt["best_miou"] = best
            save_checkpoint(ckpt, out / "last.pt")
            if is_best:
                save_checkpoint(ckpt, out / "best.pt")
            _write_history(out / "history.csv", history)
            if writer is not None:
                writer.add_scalar("loss/train", train_loss, epoch + 1)
                for k in ("loss",) + METRIC_KEYS:
                    if k in metrics:
                        writer.add_scalar(f"val/{k}", metrics[k], epoch + 1)
                writer.add_scalar("lr", row["lr"], epoch + 1)
                writer.add_scalar("images_per_second", row["images_per_second"], epoch + 1)
                writer.flush()
            print(
                f"epoch {epoch + 1}/{planned}: loss {train_loss:.4f}  val mIoU {row['val_miou']:.4f}  "
                f"pixel acc {row['val_pixel_accuracy']:.4f}  binary IoU {row['val_binary_iou']:.4f}  "
                f"{row['images_per_second']:.1f} img/s",
                file=sys.stderr,
            )
        epoch += 1
    if dist_info.main:
        final = dict(metrics, epoch=planned, best_miou=best)
        (out / "metrics.json").write_text(json.dumps(final, indent=1))
    if writer is not None:
        writer.close()
    if dist_info.world > 1:
        torch.distributed.barrier()
    return metrics


def _fit_budget(
    config: TrainConfig,
    planned: int,
    done: int,
    start: float,
    last_seconds: float,
    dist_info: Dist,
    device,
) -> int:
    """Epochs that fit ``max_minutes``: the time left, at the pace of the epoch just run (the
    first one pays for warm-up, which on a GPU can cost ten steady epochs), with a tenth kept
    for validation. The schedule then decays over exactly those epochs."""
    pace = [time.perf_counter() - start, last_seconds]
    pace = torch.tensor(pace, device=device if device.type == "cuda" else "cpu")
    if dist_info.world > 1:  # every rank must stop at the same epoch
        torch.distributed.all_reduce(pace, op=torch.distributed.ReduceOp.MAX)
    elapsed, per_epoch = (float(v) for v in pace)
    fits = done + int((config.max_minutes * 60 - elapsed) / (1.1 * per_epoch))
    new = max(done, min(planned, fits))
    if dist_info.main and new != planned:
        print(
            f"{config.max_minutes} min budget: {new} epochs instead of {planned} "
            f"({per_epoch:.1f} s per epoch after {elapsed:.0f} s of warm-up and 2 epochs)",
            file=sys.stderr,
        )
    return new


def adopt_cache_settings(config: TrainConfig, cache, prepared: bool) -> None:
    """Make the config say what the model is trained on: the cache's size, letterboxing and
    classes. These travel into the checkpoint and the ONNX metadata, and predict, serve and
    export build their canvases from them.

    A prepared cache named with ``--data`` is the truth: a setting left at its default takes
    the cache's value, one set to something else is refused in one line.
    """
    meta = cache.meta
    truth = {
        "size": "{1}x{0}".format(*meta["size"]),
        "keep_aspect": bool(meta.get("keep_aspect", False)),
        "classes": meta.get("classes", "all"),
    }
    defaults = TrainConfig()
    for key, value in truth.items():
        asked = getattr(config, key)
        same = parse_size(asked) == parse_size(value) if key == "size" else asked == value
        if not same and prepared and asked != getattr(defaults, key):
            flag = "--" + key.replace("_", "-")
            raise TrainingError(
                f"{config.data}: the cache was prepared with {key} {value}, not {flag} {asked}; "
                "prepare another cache or leave the setting out"
            )
        setattr(config, key, value)


def resume_config(run: str | Path) -> TrainConfig:
    """The config a run folder was started with."""
    path = Path(run) / "config.yaml"
    if not path.exists():
        raise TrainingError(f"{run}: no config.yaml, not a run folder")
    return load_config(path)
