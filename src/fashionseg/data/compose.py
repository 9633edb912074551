"""Instances -> one label map.

Overlap rule: a pixel covered by several masks takes the class of the smallest mask (pixel
count) covering it; on equal areas the higher ClassId wins. Painting instances from the
largest to the smallest, ties in ascending ClassId, gives exactly that rule.

Label maps hold ClassId + 1 (0 = background, 255 = ignore) as uint8.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from fashionseg.data.categories import IGNORE, NUM_GARMENTS
from fashionseg.data.records import Instance
from fashionseg.data.rle import runs_area, runs_decode, sample_runs
from fashionseg.errors import ConfigError


def keep_classes(instances: Sequence[Instance], classes: str) -> list[Instance]:
    """Drop instances outside the chosen class set (``all`` or ``garments``, ids 0-26)."""
    if classes == "all":
        return list(instances)
    if classes == "garments":
        return [i for i in instances if i.class_id < NUM_GARMENTS]
    raise ConfigError(f"unknown class set {classes!r}; choose all or garments")


def record_labels(record, classes: str = "all") -> np.ndarray:
    """A record's ground truth as a full-resolution label map (H, W) uint8, with the class set
    a model was trained on: what ``evaluate``, ``score`` and the report's panels compare with."""
    return compose(keep_classes(record.instances, classes), record.height, record.width)


def _painting_order(instances: Sequence[Instance], areas: list[int]):
    return sorted(range(len(instances)), key=lambda k: (-areas[k], instances[k].class_id))


def compose(instances: Sequence[Instance], height: int, width: int) -> np.ndarray:
    """Full-resolution label map of shape (height, width), uint8."""
    runs = [i.runs(height, width) for i in instances]
    labels = np.zeros((height, width), dtype=np.uint8)
    for k in _painting_order(instances, [runs_area(r) for r in runs]):
        labels[runs_decode(*runs[k], height, width)] = instances[k].class_id + 1
    return labels


def nearest_index(src: int, dst: int) -> np.ndarray:
    """Source index sampled by nearest-neighbour resizing from ``src`` to ``dst`` pixels.

    Pixel centres are aligned and the source coordinate is accumulated step by step in
    float64, exactly as Pillow's ``Image.NEAREST`` does it, so a mask resized here equals
    Pillow's resize of the full-resolution mask bit for bit (a closed-form floor differs
    where the running sum lands a rounding error below an integer).
    """
    scale = src / dst
    steps = np.full(dst, scale)
    steps[0] = scale * 0.5
    return np.minimum(np.cumsum(steps).astype(np.int64), src - 1)


def fit(height: int, width: int, out_h: int, out_w: int, keep_aspect: bool):
    """Where a photo lands in an ``out_h`` x ``out_w`` canvas.

    Returns:
        ``(new_h, new_w, top, left)``: the resized photo's size and its offset. Without
        ``keep_aspect`` the photo is squashed to fill the canvas.
    """
    if not keep_aspect:
        return out_h, out_w, 0, 0
    scale = min(out_h / height, out_w / width)
    new_h = max(1, min(out_h, round(height * scale)))
    new_w = max(1, min(out_w, round(width * scale)))
    return new_h, new_w, (out_h - new_h) // 2, (out_w - new_w) // 2


class Sampled(NamedTuple):
    """One instance's mask resized (nearest) from its runs."""

    mask: np.ndarray  # (new_h, new_w) bool
    area: int  # its pixels at full resolution: the overlap rule orders by them


def sample_instances(
    instances: Sequence[Instance], height: int, width: int, new_h: int, new_w: int
) -> list[Sampled]:
    """Each instance's mask resized (nearest) to ``new_h`` x ``new_w`` straight from its runs,
    looked up at the sampled pixels only."""
    rows, cols = nearest_index(height, new_h), nearest_index(width, new_w)
    out = []
    for inst in instances:
        starts, ends = inst.runs(height, width)
        if starts.size:
            mask = sample_runs(starts, ends, rows, cols, height)
        else:
            mask = np.zeros((new_h, new_w), dtype=bool)
        out.append(Sampled(mask, runs_area((starts, ends))))
    return out


def decode_and_sample(
    instances: Sequence[Instance], height: int, width: int, new_h: int, new_w: int
) -> tuple[list[np.ndarray], list[Sampled]]:
    """Each instance's mask at full resolution (the components rule needs it there) and, by a
    gather at the sampled pixels, at ``new_h`` x ``new_w``: equal to :func:`sample_instances`,
    and cheaper than looking the runs up again once the masks exist."""
    rows, cols = nearest_index(height, new_h), nearest_index(width, new_w)
    decoded, sampled = [], []
    for inst in instances:
        runs = inst.runs(height, width)
        mask = runs_decode(*runs, height, width)
        decoded.append(mask)
        sampled.append(Sampled(mask.take(rows, 0).take(cols, 1), runs_area(runs)))
    return decoded, sampled


def compose_resized(
    instances: Sequence[Instance],
    height: int,
    width: int,
    out_h: int,
    out_w: int,
    keep_aspect: bool = False,
    sampled: list[Sampled] | None = None,
) -> np.ndarray:
    """Label map resized (nearest) to ``out_h`` x ``out_w`` straight from the runs.

    Equal to ``compose`` followed by a nearest resize (and letterboxing, with padding set to
    255 = ignore), but never builds a full-resolution mask. ``sampled`` is
    :func:`sample_instances` at the photo's size in the canvas, when the caller has it already
    (the instance cache does).

    Returns:
        uint8 array of shape (out_h, out_w).
    """
    new_h, new_w, top, left = fit(height, width, out_h, out_w, keep_aspect)
    if sampled is None:
        sampled = sample_instances(instances, height, width, new_h, new_w)
    small = np.zeros((new_h, new_w), dtype=np.uint8)
    for k in _painting_order(instances, [s.area for s in sampled]):
        small[sampled[k].mask] = instances[k].class_id + 1
    if (new_h, new_w) == (out_h, out_w):
        return small
    labels = np.full((out_h, out_w), IGNORE, dtype=np.uint8)
    labels[top : top + new_h, left : left + new_w] = small
    return labels
