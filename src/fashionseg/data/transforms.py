"""Paired (images, masks) augmentation on whole batches, on whichever device holds them.

Every random draw comes from an explicit ``torch.Generator``, so a run is reproducible and a
resumed run draws exactly what the uninterrupted one would have.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

from .categories import IGNORE

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, H, W, 3) -> normalised float (N, 3, H, W) (ImageNet statistics)."""
    x = images.permute(0, 3, 1, 2).float().div_(255)
    if torch.compiler.is_compiling() or torch.compiler.is_exporting():
        # Inside a trace the statistics must be constants of the graph: a cached tensor made
        # here would be a fake tensor, and one made earlier would be captured by identity.
        stats = torch.tensor([MEAN, STD], device=x.device).view(2, 1, 3, 1, 1)
        return (x - stats[0]) / stats[1]
    mean, std = _mean_std(x.device)
    return (x - mean) / std


@functools.cache
def _mean_std(device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    # Made once per device, outside any trace: a fresh copy every step would be a
    # host-to-device transfer each time.
    stats = _to(torch.tensor([MEAN, STD]), device).view(2, 1, 3, 1, 1)
    return stats[0], stats[1]


def _to(t: torch.Tensor, device: torch.device) -> torch.Tensor:
    """A small CPU tensor to ``device`` without making the host wait for the GPU.

    A plain ``.to`` waits for all queued GPU work. ``non_blocking`` alone is not enough from
    ordinary (pageable) memory, where the driver may still synchronise with the stream to stage
    the copy; from pinned memory the copy is truly asynchronous.
    """
    if device.type == "cuda":
        t = t.pin_memory()
    return t.to(device, non_blocking=True)


def augment(
    images: torch.Tensor,
    masks: torch.Tensor,
    gen: torch.Generator,
    hflip: bool = True,
    scale: tuple[float, float] = (1.0, 1.0),
    jitter: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random flip, scale-and-crop and colour jitter.

    Args:
        images: float (N, 3, H, W), normalised.
        masks: int64 (N, H, W).
        gen: generator on the CPU (draws are made there and moved, for determinism).
        hflip: flip half of the samples left-right.
        scale: zoom range; > 1 zooms in (crop), < 1 zooms out (pads with ignore).
        jitter: brightness/contrast/saturation strength (0 = off).

    Returns:
        The augmented ``(images, masks)`` with the same shapes.
    """
    n = images.shape[0]
    # All draws first, on the CPU, in one (N, 10) table that goes to the device in one copy:
    # flip, the 2x3 affine matrix, brightness, contrast, saturation.
    draws = torch.zeros(n, 10)
    draws[:, 1] = draws[:, 5] = draws[:, 7:] = 1  # identity transform, no jitter
    if hflip:
        draws[:, 0] = (torch.rand(n, generator=gen) < 0.5).float()
    zoom = scale != (1.0, 1.0)
    if zoom:
        s = torch.empty(n).uniform_(scale[0], scale[1], generator=gen)
        room = (1 - 1 / s).abs()
        draws[:, 1] = draws[:, 5] = 1 / s
        draws[:, 3] = (torch.rand(n, generator=gen) * 2 - 1) * room
        draws[:, 6] = (torch.rand(n, generator=gen) * 2 - 1) * room
    if jitter > 0:
        for col in (7, 8, 9):
            draws[:, col] = 1 + (torch.rand(n, generator=gen) * 2 - 1) * jitter
    draws = _to(draws, images.device)
    if hflip:
        flip = draws[:, 0] > 0.5
        images = torch.where(flip[:, None, None, None], images.flip(-1), images)
        masks = torch.where(flip[:, None, None], masks.flip(-1), masks)
    if zoom:
        theta = draws[:, 1:7].reshape(n, 2, 3)
        grid = F.affine_grid(theta, list(images.shape), align_corners=False)
        images = F.grid_sample(
            images, grid, mode="bilinear", padding_mode="zeros", align_corners=False
        )
        shifted = (masks + 1).float()[:, None]  # 0 marks outside after sampling
        sampled = F.grid_sample(
            shifted, grid, mode="nearest", padding_mode="zeros", align_corners=False
        )
        sampled = sampled[:, 0].long()
        masks = torch.where(sampled == 0, torch.full_like(sampled, IGNORE), sampled - 1)
    if jitter > 0:
        b, c, sat = (draws[:, col].view(n, 1, 1, 1) for col in (7, 8, 9))
        mean = images.mean(dim=(1, 2, 3), keepdim=True)
        gray = images.mean(dim=1, keepdim=True)
        images = (gray + (images - gray) * sat - mean) * c + mean
        images = images + (b - 1) * 2  # brightness shift, in normalised units
    return images, masks
