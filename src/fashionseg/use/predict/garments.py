"""From a label map to the list of garments a photo shows."""

from __future__ import annotations

import numpy as np

from fashionseg.data.categories import IGNORE, palette
from fashionseg.data.rle import rle_encode
from fashionseg.use.colornames import dominant_color

COLOUR_PIXELS = 1_000_000


def _pixels(rgb: np.ndarray, step: int, labels: np.ndarray, mask: np.ndarray, value: int):
    """The garment's pixels on the sub-grid of ``step`` (all of them when ``step`` is 1); a
    garment too thin to reach the sub-grid uses its full-resolution pixels."""
    pixels = rgb[::step, ::step][labels[::step, ::step] == value]
    return pixels if len(pixels) else rgb[mask]


def summarize(
    rgb: np.ndarray, labels: np.ndarray, names: list[str], with_rle: bool = True
) -> list[dict]:
    """One entry per category present in a label map.

    Args:
        rgb: the photo, uint8 (H, W, 3).
        labels: label map (H, W) uint8, ClassId + 1 (0 = background, 255 = ignore).
        names: label value -> category name (background first).
        with_rle: include the Kaggle RLE of each category's mask.

    Returns:
        Dicts with ``class_id``, ``name``, ``area_fraction`` (share of all the photo's pixels),
        ``bbox`` ``[x0, y0, x1, y1]`` (inclusive-exclusive pixel bounds), ``color``
        (dominant colour name and hex), ``swatch`` (the category's display colour) and
        ``rle``; largest first.
    """
    if rgb.shape[:2] != labels.shape:
        raise ValueError(f"photo {rgb.shape[:2]} and label map {labels.shape} differ in size")
    counts = np.bincount(labels.ravel(), minlength=256)
    pal = palette(len(names))
    # Colours are named from at most about a million pixels: an even sub-grid of large photos
    # (every pixel up to 1 MP) rather than a copy of every masked pixel of a 36 MP photo.
    step = max(1, int(np.sqrt(labels.size / COLOUR_PIXELS)))
    out = []
    for value in np.flatnonzero(counts):
        if value == 0 or value == IGNORE or value >= len(names):
            continue
        mask = labels == value
        rows = np.flatnonzero(mask.any(1))
        cols = np.flatnonzero(mask.any(0))
        entry = {
            "class_id": int(value) - 1,
            "name": names[value],
            "area_fraction": round(float(counts[value] / labels.size), 6),
            "bbox": [int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1],
            "color": dominant_color(_pixels(rgb, step, labels, mask, value)),
            "swatch": "#{:02x}{:02x}{:02x}".format(*pal[value]),
        }
        if with_rle:
            entry["rle"] = rle_encode(mask)
        out.append(entry)
    out.sort(key=lambda g: -g["area_fraction"])
    return out
