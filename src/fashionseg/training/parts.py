"""The parts a training run is made of, each with one owner: ranks and devices, precision, the
learning-rate schedule and optimizer registries, the per-epoch seed, and the weight average.

``build.py`` assembles them into a run, ``steps.py`` uses them for one pass.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from fashionseg import names
from fashionseg.config import TrainConfig
from fashionseg.machine import resolve_device
from fashionseg.names import check_registry


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
    """The device of this rank (``auto`` resolved by ``machine.resolve_device``)."""
    name = resolve_device(name)
    if name == "cuda":
        torch.cuda.set_device(dist_info.local_rank)
        return torch.device("cuda", dist_info.local_rank)
    return torch.device(name)


# Streams of random numbers drawn per epoch: the labelled batches and augmentation, the
# unlabelled batches of the mean teacher.
LABELLED, UNLABELLED = 0, 7919


def epoch_generator(seed: int, epoch: int, stream: int = LABELLED) -> torch.Generator:
    """The CPU generator of one epoch's draws: the same for a run that went straight through
    and one resumed at that epoch, and the same on every DDP rank."""
    return torch.Generator().manual_seed(seed * 1_000_003 + epoch + stream)


def channels_last(config: TrainConfig, device: torch.device) -> bool:
    """Channels-last memory: ``on`` everywhere, ``auto`` on GPUs only (where it pays)."""
    return config.channels_last == "on" or (
        config.channels_last == "auto" and device.type == "cuda"
    )


def amp_dtype(config: TrainConfig, device: torch.device) -> torch.dtype | None:
    if config.amp == "off" or (config.amp == "auto" and device.type != "cuda"):
        return None
    if config.amp == "fp16":
        return torch.float16
    if config.amp == "bf16" or device.type != "cuda" or torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float16


# The schedule registry: name -> multiplier at progress t in [0, 1] after warm-up.
SCHEDULES: dict[str, Callable[[float], float]] = {
    "constant": lambda t: 1.0,
    "poly": lambda t: (1 - t) ** 0.9,
    "cosine": lambda t: 0.5 * (1 + math.cos(math.pi * t)),
}

# The optimizer registry: name -> builder from (config, parameters).
OPTIMIZERS: dict[str, Callable[[TrainConfig, object], torch.optim.Optimizer]] = {
    "sgd": lambda c, params: torch.optim.SGD(
        params, lr=c.lr, momentum=c.momentum, weight_decay=c.weight_decay
    ),
    "adam": lambda c, params: torch.optim.Adam(params, lr=c.lr, weight_decay=c.weight_decay),
    "adamw": lambda c, params: torch.optim.AdamW(params, lr=c.lr, weight_decay=c.weight_decay),
}


check_registry("schedule", SCHEDULES, names.SCHEDULES)
check_registry("optimizer", OPTIMIZERS, names.OPTIMIZERS)


def lr_factor(config: TrainConfig, step: int, total: int, steps_per_epoch: int) -> float:
    """Multiplier of the base learning rate at optimizer step ``step`` of ``total``."""
    warm = int(config.warmup_epochs * steps_per_epoch)
    if step < warm:
        return (step + 1) / warm
    return SCHEDULES[config.schedule]((step - warm) / max(1, total - warm))


def build_optimizer(config: TrainConfig, params) -> torch.optim.Optimizer:
    return OPTIMIZERS[config.optimizer](config, params)


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


def decide_stop(
    on_eval: Callable[[int, dict], bool], epoch: int, metrics: dict, dist_info: Dist, device
) -> bool:
    """Rank 0 asks ``on_eval``; under torchrun every rank learns its answer."""
    stop = bool(on_eval(epoch, metrics)) if dist_info.main else False
    if dist_info.world > 1:
        flag = torch.tensor([int(stop)], device=device)
        torch.distributed.broadcast(flag, 0)
        stop = bool(flag.item())
    return stop
