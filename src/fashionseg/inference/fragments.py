"""Fragments are not garments: a connected piece of a garment class smaller than a minimum
share of the photo joins the garment it shares the longest border with.

A model's label map holds specks (a few pixels of skirt inside a coat, a sliver of vest along
a jacket's edge) that a garment list would show as "skirt 0.0%". Each such piece takes the
garment class most common on the ring of pixels around it (8-connected). A piece that touches
only background is a small thing on its own (glasses, a watch): it stays when its class is
large enough elsewhere in the photo to be listed anyway, and becomes background otherwise.
Pieces are handled smallest first; a piece merged into one that is merged away later leaves a
new small piece, which the next pass takes.

Then look-alike garments follow their region: within one connected region of coat, jacket and
vest (or of shirt, top, sweater and cardigan), every pixel takes the region's most common of
them, so one coat is no longer a patchwork of coat, jacket and vest. It raised validation mIoU
(docs/accuracy.md), so it is part of the rule; ``--min-area 0`` turns both steps off. Every label map goes through
``Predictor.labels``, and so through this rule: predict's files, serve, the Python API,
evaluate. The default was chosen on the validation split (docs/accuracy.md).
"""

from __future__ import annotations

import numpy as np

from fashionseg.data.categories import IGNORE
from fashionseg.data.components import EIGHT
from fashionseg.data.components import MIN_AREA as DEFAULT_MIN_AREA

# The smallest garment kept (0.05% of the photo) is the smallest instance of the components
# rule: one floor for both; `--min-area 0` turns this rule off.
PASSES = 8
# Garments a model confuses with each other; one connected region of a group is one garment.
LOOKALIKES = (
    ("coat", "jacket", "vest"),
    ("shirt, blouse", "top, t-shirt, sweatshirt", "sweater", "cardigan"),
)


def lookalike_values(names: list[str]) -> list[list[int]]:
    """The look-alike groups as label values of a model's categories (background first);
    groups with fewer than two of their names in ``names`` are left out."""
    groups = [[names.index(n) for n in group if n in names] for group in LOOKALIKES]
    return [g for g in groups if len(g) > 1]


def merge_fragments(
    labels: np.ndarray, min_area: float = DEFAULT_MIN_AREA, lookalikes: list[list[int]] = ()
) -> np.ndarray:
    """The label map with every garment piece under ``min_area`` merged into its surroundings,
    and each region of look-alike garments made one garment.

    Args:
        labels: (H, W) uint8, ClassId + 1 (0 background, 255 ignore).
        min_area: the smallest piece kept, as a share of the photo's pixels (0: no change).
        lookalikes: groups of label values (``lookalike_values``); empty: that step is off.

    Returns:
        (H, W) uint8; ``labels`` itself when nothing changes.
    """
    if min_area <= 0 or labels.size == 0:
        return labels
    from scipy import ndimage

    out = _merge_small(labels, min_area * labels.size, ndimage)
    if lookalikes:
        # Following a region's majority can leave a class small elsewhere: merge again.
        out = _merge_small(
            _follow_majority(out, lookalikes, ndimage), min_area * labels.size, ndimage
        )
    return out


def _merge_small(labels: np.ndarray, limit: float, ndimage) -> np.ndarray:
    out = labels
    for _ in range(PASSES):
        merged = _merge_pass(out, limit, ndimage)
        if merged is None:
            break
        out = merged
    return out


def _follow_majority(labels: np.ndarray, groups: list[list[int]], ndimage) -> np.ndarray:
    """Within each connected region of a look-alike group, every pixel takes the region's most
    common class of the group."""
    out = labels
    for group in groups:
        inside = np.isin(labels, group)
        if not inside.any():
            continue
        region, _ = ndimage.label(inside, structure=EIGHT)
        for r, box in enumerate(ndimage.find_objects(region), start=1):
            here = region[box] == r
            values = labels[box][here]
            major = np.bincount(values).argmax()
            if (values != major).any():
                if out is labels:
                    out = labels.copy()
                out[box][here] = major
    return out


def _pieces(labels: np.ndarray, limit: float, ndimage) -> list[tuple]:
    """(pixels, class, top, left, the piece's mask in its box padded by one) of every garment
    piece under ``limit`` pixels."""
    height, width = labels.shape
    pieces = []
    for value in np.unique(labels):
        if value in (0, IGNORE):
            continue
        comp, _ = ndimage.label(labels == value, structure=EIGHT)
        sizes = np.bincount(comp.ravel())
        for c, box in enumerate(ndimage.find_objects(comp), start=1):
            if box is None or sizes[c] >= limit:
                continue
            r0, r1 = max(box[0].start - 1, 0), min(box[0].stop + 1, height)
            c0, c1 = max(box[1].start - 1, 0), min(box[1].stop + 1, width)
            pieces.append((int(sizes[c]), int(value), r0, c0, comp[r0:r1, c0:c1] == c))
    return pieces


def _merge_pass(labels: np.ndarray, limit: float, ndimage) -> np.ndarray | None:
    """One pass over the small pieces; None when it changes nothing."""
    pieces = _pieces(labels, limit, ndimage)
    if not pieces:
        return None
    totals = np.bincount(labels.ravel(), minlength=256)
    out = labels.copy()
    changed = False
    for _, value, r0, c0, piece in sorted(pieces, key=lambda p: p[0]):
        window = out[r0 : r0 + piece.shape[0], c0 : c0 + piece.shape[1]]
        ring = ndimage.binary_dilation(piece, structure=EIGHT) & ~piece
        around = window[ring]
        garments = around[(around != IGNORE) & (around != value) & (around != 0)]
        if not garments.size and totals[value] >= limit:
            continue  # on its own, of a garment large enough elsewhere: kept
        window[piece] = np.bincount(garments).argmax() if garments.size else 0
        changed = True
    return out if changed else None
