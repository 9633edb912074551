"""Fragments are not garments: a connected piece of a garment class smaller than a minimum
share of the photo joins the garment it shares the longest border with.

A model's label map holds specks (a few pixels of skirt inside a coat, a sliver of vest along
a jacket's edge) that a garment list would show as "skirt 0.0%". Each such piece takes the
garment class most common on the ring of pixels around it (8-connected). A piece that touches
only background is a small thing on its own (glasses, a watch): it stays when its class is
large enough elsewhere in the photo to be listed anyway, and becomes background otherwise.
Pieces are handled smallest first; a piece merged into one that is merged away later leaves a
new small piece, which the next pass takes. Every label map goes through
``Predictor.labels``, and so through this rule: predict's files, serve, the Python API,
evaluate. The default was chosen on the validation split (docs/accuracy.md).
"""

from __future__ import annotations

import numpy as np

from fashionseg.data.categories import IGNORE

# The smallest garment kept, as a share of the photo's pixels (0.05%: what a legend rounds to
# "0.1%"); `--min-area 0` turns the rule off.
DEFAULT_MIN_AREA = 0.0005
# 8-connectivity: diagonal neighbours belong to the same piece, and to its ring.
EIGHT = np.ones((3, 3), dtype=bool)
PASSES = 8


def merge_fragments(labels: np.ndarray, min_area: float = DEFAULT_MIN_AREA) -> np.ndarray:
    """The label map with every garment piece under ``min_area`` merged into its surroundings.

    Args:
        labels: (H, W) uint8, ClassId + 1 (0 background, 255 ignore).
        min_area: the smallest piece kept, as a share of the photo's pixels (0: no change).

    Returns:
        (H, W) uint8; ``labels`` itself when nothing changes.
    """
    if min_area <= 0 or labels.size == 0:
        return labels
    from scipy import ndimage

    out = labels
    for _ in range(PASSES):
        merged = _merge_pass(out, min_area * labels.size, ndimage)
        if merged is None:
            break
        out = merged
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
