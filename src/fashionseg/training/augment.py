"""Paired (images, masks) augmentation on whole batches, on whichever device holds them.

Every random draw comes from an explicit ``torch.Generator``, so a run is reproducible and a
resumed run draws exactly what the uninterrupted one would have.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from fashionseg.data.categories import IGNORE
from fashionseg.machine import to_device


def copy_paste(
    images: torch.Tensor,
    masks: torch.Tensor,
    gen: torch.Generator,
    p: float,
    class_weights: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Simple Copy-Paste (Ghiasi et al., CVPR 2021) within a batch: with probability ``p`` a
    photo receives one garment of another photo of the batch, its pixels and its label, at the
    same place (the photos are aligned alike: one person, standing), mirrored half the time.

    Args:
        images: float (N, 3, H, W).
        masks: int64 (N, H, W), label values (0 background, 255 ignore).
        gen: generator on the CPU; every draw is made there, so a run is reproducible.
        p: share of the photos that receive a garment.
        class_weights: (C,) how much a class is favoured as the pasted garment (the repeat
            factors of ``training/sampling.py``: rare garments more); None: all alike.

    Returns:
        ``(images, masks)``; a photo's own labels stay wherever nothing is pasted.
    """
    n = images.shape[0]
    if p <= 0 or n < 2:
        return images, masks
    take = torch.rand(n, generator=gen) < p
    source = (torch.arange(n) + 1 + torch.randint(n - 1, (n,), generator=gen)) % n
    mirror = torch.rand(n, generator=gen) < 0.5
    pick = torch.rand(n, generator=gen)
    if not take.any():
        return images, masks
    images, masks = images.clone(), masks.clone()
    for i in torch.nonzero(take).flatten().tolist():
        j = int(source[i])
        present = torch.unique(masks[j])
        present = present[(present != 0) & (present != IGNORE)].cpu()
        if not len(present):
            continue
        w = (
            class_weights[present].double()
            if class_weights is not None
            else torch.ones(len(present), dtype=torch.float64)
        )
        cls = present[
            int(
                torch.searchsorted(torch.cumsum(w / w.sum(), 0), pick[i].double()).clamp(
                    max=len(present) - 1
                )
            )
        ]
        src_img, src_mask = images[j], masks[j]
        if mirror[i]:
            src_img, src_mask = src_img.flip(-1), src_mask.flip(-1)
        region = src_mask == cls
        images[i] = torch.where(region[None], src_img, images[i])
        masks[i] = torch.where(region, src_mask, masks[i])
    return images, masks


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
    draws = to_device(draws, images.device)
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
