"""A training run's moving parts, built in one place: model, loss, optimizer, precision and
scaler, EMA, and the wrapped model the loop calls (compiled, DDP). ``engine.train``, the
training benchmark and anything else that trains build them here.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from fashionseg.checkpoint import CheckpointError, load_checkpoint
from fashionseg.config import TrainConfig
from fashionseg.models import build_model
from fashionseg.training.losses import build_loss
from fashionseg.training.parts import EMA, Dist, amp_dtype, build_optimizer, channels_last


@dataclass
class Run:
    """What one training run updates.

    ``model`` holds the weights that are saved; ``train_model`` is what the loop calls (the
    same module, compiled and/or wrapped in DistributedDataParallel).
    """

    config: TrainConfig
    device: torch.device
    model: nn.Module
    train_model: nn.Module
    loss_fn: object
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    dtype: torch.dtype | None
    ema: EMA | None
    # Copy-paste's preference per class (repeat factors); set by the engine when it pastes.
    paste_weights: torch.Tensor | None = None


def load_init_weights(model: torch.nn.Module, path: str) -> None:
    """Start ``model`` from the weights of the checkpoint at ``path`` (a ``best.pt`` or
    ``last.pt`` of train, or a slimmed float16 one).

    Raises:
        CheckpointError: not a checkpoint, or its weights do not fit this model (another
            architecture, encoder, width or number of classes), in one line.
    """
    state = load_checkpoint(path)
    try:
        weights = state["model"]
        mine = model.state_dict()
        for key, value in weights.items():
            if key in mine and mine[key].shape != value.shape:
                raise ValueError(
                    f"{key} is {tuple(value.shape)} there, {tuple(mine[key].shape)} here"
                )
        model.load_state_dict(weights)
    except (KeyError, RuntimeError, ValueError) as e:
        made = state.get("config", {})
        what = f"{made.get('model', '?')} {made.get('encoder') or ''}".strip()
        reason = str(e).splitlines()[0][:100]
        raise CheckpointError(
            f"{path}: its weights ({what}) do not fit this run's model ({reason})"
        ) from None


def build_run(
    config: TrainConfig,
    num_classes: int,
    device: torch.device,
    class_weight: torch.Tensor | None = None,
    pretrained: bool | None = None,
    dist_info: Dist | None = None,
    resumed: bool = False,
) -> Run:
    """Build every part of a run as ``config`` says.

    Args:
        config: the run's config (validated).
        num_classes: label values, background included.
        device: where it trains.
        class_weight: (C,) loss weights (median-frequency balancing), or None.
        pretrained: load ImageNet encoder weights (default: ``config.pretrained``; a resumed
            run passes False, its weights come from the checkpoint).
        dist_info: ranks when started by torchrun.
        resumed: the weights will come from the run's own checkpoint, so ``config.init`` (a
            checkpoint whose weights start a new run) is not loaded.
        dist_info: ranks when started by torchrun.
    """
    start_from = "" if resumed else config.init  # a resumed run has its own weights
    model = build_model(
        config.model,
        num_classes,
        width=config.width,
        pretrained=(config.pretrained if pretrained is None else pretrained) and not start_from,
        encoder=config.encoder,
    )
    if start_from:
        # Before the EMA and the optimizer are made from the model: they start from these too.
        load_init_weights(model, start_from)
    model = model.to(device)
    if channels_last(config, device):
        model = model.to(memory_format=torch.channels_last)
    dtype = amp_dtype(config, device)
    ema_decay = config.ema  # resolved: the teacher of --unlabelled has one
    train_model = torch.compile(model) if config.compile else model
    if dist_info is not None and dist_info.world > 1:
        from torch.nn.parallel import DistributedDataParallel

        train_model = DistributedDataParallel(
            train_model, device_ids=[device.index] if device.type == "cuda" else None
        )
    return Run(
        config=config,
        device=device,
        model=model,
        train_model=train_model,
        loss_fn=build_loss(config.loss, class_weight, config.focal_gamma),
        optimizer=build_optimizer(config, model.parameters()),
        scaler=torch.amp.GradScaler(device.type, enabled=dtype == torch.float16),
        dtype=dtype,
        ema=EMA(model, ema_decay) if ema_decay > 0 else None,
    )
