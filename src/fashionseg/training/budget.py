"""Fitting a run to a time budget (``max_minutes``)."""

from __future__ import annotations

import sys
import time

import torch

from fashionseg.config import TrainConfig
from fashionseg.training.parts import Dist


def fit_budget(
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
