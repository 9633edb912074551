"""Instances where a source has only semantic masks: the connected-components rule.

Mask folders, and the CCP photos (whose Kaggle rows hold one mask per class, so two shoes
share a row), have no instances. ``--instances components`` derives them with one rule:

1. each class's mask splits into 8-connected components; each is one instance;
2. a component under ``min_area`` of the photo (a speck: a few pixels cut off by a strap or
   an arm) is not an instance on its own: it joins the nearest larger component of its class
   (nearest by pixel distance), so no pixel is lost;
3. a class whose components are all specks keeps them together as one instance.

Attributes of the source mask go to every instance cut from it. ``--instances rows`` (the
default) keeps the source's own rows and annotations as they are.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from fashionseg.data.records import Instance
from fashionseg.data.rle import rle_encode, runs_decode
from fashionseg.errors import ConfigError
from fashionseg.names import INSTANCE_RULES

# The smallest instance, as a share of the photo's pixels (0.05%: what a legend shows as
# "0.0%"). The fragment rule of predicted label maps uses the same floor.
MIN_AREA = 0.0005
# 8-connectivity: pieces touching at a corner are one piece.
EIGHT = np.ones((3, 3), dtype=bool)
RULES = INSTANCE_RULES


def split_mask(mask: np.ndarray, min_area: float = MIN_AREA) -> list[np.ndarray]:
    """One class's mask cut into instances by the components rule (module docstring).

    Args:
        mask: (H, W) bool.
        min_area: the smallest instance as a share of H x W (0: every component counts).

    Returns:
        (H, W) bool masks, largest first; together exactly ``mask``.
    """
    split = piece_labels(mask, min_area)
    if split is None:
        return []
    pieces, (top, left), order = split
    out = []
    for k in order:
        piece = np.zeros_like(mask, dtype=bool)
        piece[top : top + pieces.shape[0], left : left + pieces.shape[1]] = pieces == k
        out.append(piece)
    return out


def piece_labels(
    mask: np.ndarray, min_area: float = MIN_AREA
) -> tuple[np.ndarray, tuple[int, int], list[int]] | None:
    """:func:`split_mask` as one label array over the mask's bounding box, which is where all
    the work happens (a cache samples it on its grid instead of building a mask per piece).

    Returns:
        ``(pieces, (top, left), order)``: ``pieces`` (h, w) int32 over the box at ``(top,
        left)``, 0 outside the mask; ``order`` the piece labels, largest piece first. None for
        an empty mask.
    """
    # Imported here: scipy costs every reader (prepare, score) its import time otherwise.
    from scipy import ndimage

    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    if rows.size == 0:
        return None
    box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    pieces, count = ndimage.label(mask[box], structure=EIGHT)
    areas = np.bincount(pieces.ravel(), minlength=count + 1)[1:]
    large = np.flatnonzero(areas >= min_area * mask.size) + 1
    if large.size == 0:
        return (pieces > 0).astype(np.int32), (int(rows[0]), int(cols[0])), [1]
    if large.size < count:
        # Every speck pixel takes the piece of its nearest large-piece pixel.
        in_large = np.isin(pieces, large)
        _, (near_r, near_c) = ndimage.distance_transform_edt(~in_large, return_indices=True)
        specks = (pieces > 0) & ~in_large
        pieces[specks] = pieces[near_r[specks], near_c[specks]]
    order = sorted(large.tolist(), key=lambda k: -areas[k - 1])
    return pieces, (int(rows[0]), int(cols[0])), order


def class_unions(
    instances: Sequence[Instance],
    height: int,
    width: int,
    decoded: Sequence[np.ndarray] | None = None,
) -> list[tuple[int, np.ndarray, tuple[int, ...]]]:
    """Each class's rows pooled: (class id, (H, W) bool union, attribute ids), by class id
    (``decoded``: the rows' masks where the caller has them at full resolution already)."""
    masks: dict[int, np.ndarray] = {}
    attributes: dict[int, set[int]] = {}
    for k, inst in enumerate(instances):
        mask = decoded[k] if decoded is not None else decode_instance(inst, height, width)
        c = inst.class_id
        # A class of one row (every CCP class) is that row's mask; more rows make a new union
        # (never written into a caller's decoded mask).
        masks[c] = masks[c] | mask if c in masks else mask
        attributes.setdefault(c, set()).update(inst.attributes)
    return [(c, masks[c], tuple(sorted(attributes[c]))) for c in sorted(masks)]


def decode_instance(inst: Instance, height: int, width: int) -> np.ndarray:
    """An instance's mask (H, W) bool at full resolution, from its runs."""
    return runs_decode(*inst.runs(height, width), height, width)


def component_masks(
    instances: Sequence[Instance], height: int, width: int, min_area: float = MIN_AREA
) -> list[tuple[int, np.ndarray, tuple[int, ...]]]:
    """:func:`components` as (class id, (H, W) bool mask, attribute ids) triples."""
    return [
        (class_id, piece, attributes)
        for class_id, mask, attributes in class_unions(instances, height, width)
        for piece in split_mask(mask, min_area)
    ]


def components(
    instances: Sequence[Instance], height: int, width: int, min_area: float = MIN_AREA
) -> list[Instance]:
    """A record's instances under the components rule: each class's masks (all its rows
    together, attributes pooled) split into connected instances.

    Args:
        instances: the source's instances (rows).
        height: photo height.
        width: photo width.
        min_area: see :func:`split_mask`.

    Returns:
        Instances in ClassId order, largest first within a class.
    """
    return [
        Instance(class_id, rle_encode(mask), attributes)
        for class_id, mask, attributes in component_masks(instances, height, width, min_area)
    ]


def apply_rule(
    instances: Sequence[Instance], height: int, width: int, rule: str = "rows"
) -> list[Instance]:
    """The instances of a record under ``rule`` (``rows``: as stored; ``components``)."""
    if rule == "rows":
        return list(instances)
    if rule == "components":
        return components(instances, height, width)
    raise ConfigError(f"unknown instance rule {rule!r}; choose one of {', '.join(RULES)}")
