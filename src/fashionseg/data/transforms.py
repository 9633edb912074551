"""Paired (images, masks) augmentation on whole batches, on whichever device holds them.

Every random draw comes from an explicit ``torch.Generator``, so a run is reproducible and a
resumed run draws exactly what the uninterrupted one would have.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .categories import IGNORE

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, H, W, 3) -> normalised float (N, 3, H, W) (ImageNet statistics)."""
    x = images.permute(0, 3, 1, 2).float().div_(255)
    mean = _to(torch.tensor(MEAN).view(1, 3, 1, 1), x.device)
    std = _to(torch.tensor(STD).view(1, 3, 1, 1), x.device)
    return (x - mean) / std


def _to(t: torch.Tensor, device: torch.device) -> torch.Tensor:
    """A small CPU tensor to ``device`` without a stream sync: a blocking copy (plain ``.to``)
    would make the host wait for all queued GPU work, every training step."""
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
    dev = images.device
    if hflip:
        flip = _to(torch.rand(n, generator=gen) < 0.5, dev)
        images = torch.where(flip[:, None, None, None], images.flip(-1), images)
        masks = torch.where(flip[:, None, None], masks.flip(-1), masks)
    if scale != (1.0, 1.0):
        s = torch.empty(n).uniform_(scale[0], scale[1], generator=gen)
        room = (1 - 1 / s).abs()
        tx = (torch.rand(n, generator=gen) * 2 - 1) * room
        ty = (torch.rand(n, generator=gen) * 2 - 1) * room
        theta = torch.zeros(n, 2, 3)
        theta[:, 0, 0] = theta[:, 1, 1] = 1 / s
        theta[:, 0, 2], theta[:, 1, 2] = tx, ty
        grid = F.affine_grid(_to(theta, dev), list(images.shape), align_corners=False)
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
        b = _to(1 + (torch.rand(n, 1, 1, 1, generator=gen) * 2 - 1) * jitter, dev)
        c = _to(1 + (torch.rand(n, 1, 1, 1, generator=gen) * 2 - 1) * jitter, dev)
        sat = _to(1 + (torch.rand(n, 1, 1, 1, generator=gen) * 2 - 1) * jitter, dev)
        mean = images.mean(dim=(1, 2, 3), keepdim=True)
        gray = images.mean(dim=1, keepdim=True)
        images = (gray + (images - gray) * sat - mean) * c + mean
        images = images + (b - 1) * 2  # brightness shift, in normalised units
    return images, masks
