"""Logits -> label maps at a photo's own size: bilinear upsampling and the argmax over classes,
in bands for large photos (torch), or fused in one compiled pass on the CPU (``label_kernel``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def channel_argmax(scores: torch.Tensor) -> torch.Tensor:
    """``scores.argmax(0)`` for (C, H, W), as a running maximum over the channels.

    On the CPU, ``argmax`` over the first of three dimensions walks memory with a stride of
    H x W; C passes over contiguous planes are several times faster. Ties go to the first
    channel, as with ``argmax``.

    Returns:
        int64 (H, W).
    """
    if scores.device.type != "cpu":
        # On a GPU one argmax kernel beats the loop's ~140 launches, each of which takes
        # Python's GIL again while predict's other threads want it.
        return scores.argmax(0)
    best = scores[0].clone()
    index = torch.zeros(best.shape, dtype=torch.int64, device=scores.device)
    for c in range(1, scores.shape[0]):
        index.masked_fill_(scores[c] > best, c)
        torch.maximum(best, scores[c], out=best)
    return index


def upsample_argmax(
    logits: torch.Tensor, height: int, width: int, max_elements: int = 1 << 25
) -> torch.Tensor:
    """Bilinear-upsample logits (C, h, w) to (height, width) and take the argmax.

    Large photos are done in bands of rows so memory stays bounded; each band samples the
    same positions ``F.interpolate(..., align_corners=False)`` would.

    Returns:
        int64 labels (height, width).
    """
    c, h, w = logits.shape
    logits = logits.float()[None]
    if c * height * width <= max_elements:
        return channel_argmax(
            F.interpolate(logits, (height, width), mode="bilinear", align_corners=False)[0]
        )
    band = max(1, max_elements // (c * width))
    xs = (torch.arange(width, device=logits.device) + 0.5) / width * 2 - 1
    # interpolate clamps source coordinates at the border; so does padding_mode="border".
    xs = xs * (w / max(w, 1))
    out = torch.empty(height, width, dtype=torch.int64, device=logits.device)
    for y0 in range(0, height, band):
        y1 = min(height, y0 + band)
        ys = (torch.arange(y0, y1, device=logits.device) + 0.5) / height * 2 - 1
        grid = torch.stack(torch.meshgrid(ys, xs, indexing="ij")[::-1], dim=-1)[None]
        sampled = F.grid_sample(
            logits, grid, mode="bilinear", padding_mode="border", align_corners=False
        )
        out[y0:y1] = channel_argmax(sampled[0])
    return out
