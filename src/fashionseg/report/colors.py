"""Colouring label maps and drawing category legends."""

from __future__ import annotations

import numpy as np

from ..data.categories import IGNORE, palette


def colorize(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Label map (H, W) uint8 -> RGB (H, W, 3) uint8; ignore pixels are grey."""
    table = np.zeros((256, 3), dtype=np.uint8)
    table[:num_classes] = np.array(palette(num_classes), dtype=np.uint8)
    table[IGNORE] = (128, 128, 128)
    return table[labels]


def overlay(
    image: np.ndarray, labels: np.ndarray, num_classes: int, alpha: float = 0.55
) -> np.ndarray:
    """Blend category colours over a photo (both (H, W, ...)); background stays untouched."""
    colours = colorize(labels, num_classes).astype(np.float32)
    out = image.astype(np.float32)
    on = (labels > 0) & (labels != IGNORE)
    out[on] = (1 - alpha) * out[on] + alpha * colours[on]
    return out.clip(0, 255).astype(np.uint8)


def legend_handles(values, names: list[str]):
    """Matplotlib patches for the label values present, named after their categories."""
    from matplotlib.patches import Patch

    pal = palette(len(names))
    return [
        Patch(color=np.array(pal[v]) / 255, label=names[v])
        for v in sorted(values)
        if 0 < v < len(names)
    ]
