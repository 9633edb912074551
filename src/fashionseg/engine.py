"""The training engine: ``train_one_epoch``, ``validate``, and ``train`` which ties them to a
run folder (config, history, checkpoints, TensorBoard) and makes it resumable.

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
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from .checkpoint import load_checkpoint, save_checkpoint
from .config import TrainConfig, load_config, save_config
from .data.transforms import augment, to_float
from .loader import epoch_batches, make_loader, resolve_data, split_indices
from .losses import build_loss, median_frequency_weights
from .metrics import METRIC_KEYS, ConfusionMatrix
from .models import build_model

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


class TrainingError(RuntimeError):
    """A run that cannot go on (diverged loss, bad resume); the message says what to do."""


@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def init_distributed(device: str) -> Dist:
    """Join the process group when started by torchrun (WORLD_SIZE > 1)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("nccl" if device == "cuda" else "gloo")
    return Dist(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def pick_device(name: str, dist_info: Dist) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        torch.cuda.set_device(dist_info.local_rank)
        return torch.device("cuda", dist_info.local_rank)
    return torch.device(name)


def amp_dtype(config: TrainConfig, device: torch.device) -> torch.dtype | None:
    if config.amp == "off" or (config.amp == "auto" and device.type != "cuda"):
        return None
    if config.amp == "fp16":
        return torch.float16
    if config.amp == "bf16" or device.type != "cuda" or torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float16


def lr_factor(config: TrainConfig, step: int, total: int, steps_per_epoch: int) -> float:
    """Multiplier of the base learning rate at optimizer step ``step`` of ``total``."""
    warm = int(config.warmup_epochs * steps_per_epoch)
    if step < warm:
        return (step + 1) / warm
    t = (step - warm) / max(1, total - warm)
    if config.schedule == "constant":
        return 1.0
    if config.schedule == "poly":
        return (1 - t) ** 0.9
    if config.schedule == "cosine":
        return 0.5 * (1 + math.cos(math.pi * t))
    raise ValueError(f"unknown schedule {config.schedule!r}; choose constant, poly or cosine")


def build_optimizer(config: TrainConfig, params) -> torch.optim.Optimizer:
    if config.optimizer == "sgd":
        return torch.optim.SGD(
            params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay
        )
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay or 0.01)
    raise ValueError(f"unknown optimizer {config.optimizer!r}; choose sgd, adam or adamw")


def unwrap(model: nn.Module) -> nn.Module:
    model = getattr(model, "module", model)  # DDP
    return getattr(model, "_orig_mod", model)  # torch.compile


class EMA:
    """Exponential moving average of the weights (buffers are copied as they are)."""

    def __init__(self, model: nn.Module, decay: float):
        self.decay = decay
        self.state = {k: v.detach().clone() for k, v in model.state_dict().items()}

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        for k, v in model.state_dict().items():
            if v.dtype.is_floating_point:
                self.state[k].mul_(self.decay).add_(v.detach(), alpha=1 - self.decay)
            else:
                self.state[k].copy_(v)


def train_one_epoch(
    model,
    loss_fn,
    optimizer,
    loader,
    config: TrainConfig,
    device,
    gen,
    step0: int,
    total_steps: int,
    steps_per_epoch: int,
    scaler,
    dtype,
    ema: EMA | None,
    show: bool,
    desc: str,
) -> tuple[float, int, int]:
    """One pass over the batches. Returns ``(mean loss, images seen, optimizer steps done)``."""
    model.train()
    running = torch.zeros((), device=device)
    seen = 0
    step = step0
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
        images = to_float(images.to(device, non_blocking=True))
        masks = masks.to(device, non_blocking=True).long()
        images, masks = augment(
            images,
            masks,
            gen,
            config.hflip,
            (config.scale_min, config.scale_max),
            config.color_jitter,
        )
        if device.type == "cuda" and config.channels_last != "off":
            images = images.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            logits = model(images)
        loss = loss_fn(logits, masks)
        scaler.scale(loss / config.accum_steps).backward()
        if (i + 1) % config.accum_steps == 0 or i + 1 == len(loader):
            for group in optimizer.param_groups:
                group["lr"] = config.lr * lr_factor(config, step, total_steps, steps_per_epoch)
            if config.clip_grad > 0:
                scaler.unscale_(optimizer)
                nn.utils.clip_grad_norm_(model.parameters(), config.clip_grad)
            scaler.step(optimizer)
            scaler.update()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            if ema is not None:
                ema.update(unwrap(model))
        running += loss.detach() * images.shape[0]
        seen += images.shape[0]
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
    if resume and (out / "last.pt").exists():
        state = load_checkpoint(out / "last.pt")
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
    )
    model.to(device)
    if device.type == "cuda" and config.channels_last != "off":
        model = model.to(memory_format=torch.channels_last)
    weight = None
    if config.class_weights == "median":
        weight = torch.from_numpy(median_frequency_weights(cache.masks[train_idx], num_classes)).to(
            device
        )
    elif config.class_weights != "none":
        raise ValueError(f"unknown class_weights {config.class_weights!r}; choose none or median")
    loss_fn = build_loss(config.loss, num_classes, weight, config.focal_gamma)
    optimizer = build_optimizer(config, model.parameters())
    dtype = amp_dtype(config, device)
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)
    ema = EMA(model, config.ema) if config.ema > 0 else None

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
    total_steps = steps_per_epoch * config.epochs
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
    train_start = time.perf_counter()
    epoch = start_epoch
    while epoch < planned:
        gen = torch.Generator().manual_seed(config.seed * 1_000_003 + epoch)
        batches = epoch_batches(train_idx, config.batch_size, gen, dist_info.rank, dist_info.world)
        t0 = time.perf_counter()
        train_loss, seen, steps = train_one_epoch(
            train_model,
            loss_fn,
            optimizer,
            make_loader(cache, batches, config.workers, pin),
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
        )
        step += steps
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - t0
        last = epoch + 1 == planned
        if config.max_minutes > 0 and epoch == start_epoch + 1:
            planned = _fit_budget(config, planned, epoch + 1, train_start, dist_info, device)
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
    config: TrainConfig, planned: int, done: int, start: float, dist_info: Dist, device
) -> int:
    """Epochs that fit ``max_minutes``, from the pace of the second epoch (the first one pays
    for warm-up). The schedule then decays over exactly those epochs."""
    per_epoch = time.perf_counter() - start
    per_epoch = torch.tensor([per_epoch / done], device=device if device.type == "cuda" else "cpu")
    if dist_info.world > 1:  # every rank must stop at the same epoch
        torch.distributed.all_reduce(per_epoch, op=torch.distributed.ReduceOp.MAX)
    fits = int(config.max_minutes * 60 / float(per_epoch))
    new = max(done, min(planned, fits))
    if dist_info.main and new != planned:
        print(
            f"{config.max_minutes} min budget: {new} epochs instead of {planned} "
            f"({float(per_epoch):.1f} s per epoch)",
            file=sys.stderr,
        )
    return new


def resume_config(run: str | Path) -> TrainConfig:
    """The config a run folder was started with."""
    path = Path(run) / "config.yaml"
    if not path.exists():
        raise TrainingError(f"{run}: no config.yaml, not a run folder")
    return load_config(path)
