"""COCO results entries: the one place a detection becomes one, for ``evaluate``, training's
validation and ``predict --coco-results`` alike (compressed RLE written by
``data/coco_rle.py``, ``bbox`` as [x, y, width, height], attributes by id)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from fashionseg.data.coco_rle import encode_counts


def mask_counts(mask: np.ndarray) -> np.ndarray:
    """A (H, W) mask's COCO run lengths (column-major, background first), int64 (R,)."""
    flat = np.asarray(mask, dtype=bool).ravel(order="F")
    changes = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    lengths = np.diff(np.concatenate(([0], changes, [flat.size])))
    # COCO's runs start with background: a mask set at the first pixel has an empty one.
    return np.concatenate(([0], lengths) if flat[0] else (lengths,)).astype(np.int64)


def results_entry(
    image_id: object,
    category_id: int,
    score: float,
    counts: Sequence[int] | np.ndarray,
    height: int,
    width: int,
    box: Sequence[float],
    attribute_ids: Iterable[int],
) -> dict:
    """One COCO results entry.

    Args:
        image_id: the photo's id in the ground truth (or its output stem).
        category_id: the category.
        score: the detection's confidence.
        counts: the mask's COCO run lengths (background first).
        height, width: the photo's size.
        box: ``[x0, y0, x1, y1)`` in pixels.
        attribute_ids: the attributes predicted present.
    """
    x0, y0, x1, y1 = box
    return {
        "image_id": image_id,
        "category_id": int(category_id),
        "segmentation": {"size": [int(height), int(width)], "counts": encode_counts(counts)},
        "score": score,
        "bbox": [x0, y0, x1 - x0, y1 - y0],
        "attribute_ids": list(attribute_ids),
    }
