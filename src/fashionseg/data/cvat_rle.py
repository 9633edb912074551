"""CVAT's mask code: the run lengths of a mask's box (left, top, width, height), row by row,
alternating background and mask and starting with background (a first run may be 0)."""

from __future__ import annotations

import numpy as np

from fashionseg.data.rle import RLEError


def mask_runs(mask: np.ndarray) -> tuple[int, int, int, int, list[int]]:
    """A mask (H, W) bool -> (left, top, width, height, runs) of its box: runs alternate
    background and mask, row-major within the box, the first a background run (maybe 0)."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    top, left = int(rows[0]), int(cols[0])
    crop = mask[top : rows[-1] + 1, left : cols[-1] + 1].ravel()
    change = np.flatnonzero(crop[1:] != crop[:-1]) + 1
    bounds = np.concatenate([[0], change, [crop.size]])
    runs = np.diff(bounds).tolist()
    if crop[0]:
        runs = [0, *runs]
    return left, top, int(cols[-1] + 1 - left), int(rows[-1] + 1 - top), runs


def runs_mask(runs: list[int], box: tuple[int, int, int, int], size: tuple[int, int]) -> np.ndarray:
    """:func:`mask_runs` undone: the mask (H, W) bool of ``size`` (H, W) from the runs of
    ``box`` (left, top, width, height).

    Raises:
        RLEError: a box outside the photo, or runs that do not cover the box exactly.
    """
    left, top, width, height = box
    if left < 0 or top < 0 or left + width > size[1] or top + height > size[0]:
        raise RLEError(
            f"mask box {width}x{height} at ({left}, {top}) leaves the {size[1]}x{size[0]} photo"
        )
    if sum(runs) != width * height:
        raise RLEError(
            f"mask runs cover {sum(runs)} pixels, its {width}x{height} box {width * height}"
        )
    values = np.zeros(len(runs), dtype=bool)
    values[1::2] = True
    crop = np.repeat(values, runs).reshape(height, width)
    mask = np.zeros(size, dtype=bool)
    mask[top : top + height, left : left + width] = crop
    return mask
