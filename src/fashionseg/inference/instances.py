"""Instances from a semantic model: the connected components of its label map, each scored by
the mean probability of its class under its mask, without attributes.

It gives every instance output (predict's ``instances``, ``--coco-results``, the Kaggle CSV
row per instance) for every semantic model, the bundled one included, and it is the baseline
an instance model must beat (docs/accuracy.md). The pieces follow the components rule of the
ground truth (``data/components.py``), at the predictor's ``min_area``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from fashionseg.data.categories import IGNORE
from fashionseg.data.components import split_mask

# An attribute is listed (predict's JSON, COCO results, the Kaggle CSV) when its probability
# reaches this.
ATTRIBUTE_THRESHOLD = 0.5
# An instance model's detections of at least this score are listed and painted by default.
SHOWN_SCORE = 0.5


@dataclass(frozen=True)
class Detection:
    """One instance found in a photo.

    ``mask`` is (H, W) bool at the photo's size; ``attributes`` maps Fashionpedia attribute
    ids to their probability (empty for a semantic model).
    """

    class_id: int
    score: float
    mask: np.ndarray = field(repr=False)
    attributes: dict[int, float] = field(default_factory=dict)

    @property
    def bbox(self) -> tuple[int, int, int, int]:
        """``(x0, y0, x1, y1)`` in pixels, inclusive-exclusive."""
        rows = np.flatnonzero(self.mask.any(1))
        cols = np.flatnonzero(self.mask.any(0))
        return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def component_instances(
    labels: np.ndarray,
    probabilities: torch.Tensor,
    box: tuple[int, int, int, int],
    min_area: float,
) -> list[Detection]:
    """The instances of a label map.

    Args:
        labels: (H, W) uint8 at the photo's size, ClassId + 1 (0 background, 255 ignore).
        probabilities: (C, h, w) class probabilities on the model's canvas.
        box: ``(top, left, new_h, new_w)``: where the photo lies on the canvas.
        min_area: the components rule's smallest instance (share of the photo).

    Returns:
        Detections, best score first.
    """
    top, left, new_h, new_w = box
    height, width = labels.shape
    probs = probabilities.detach().float().cpu().numpy()
    counts = np.bincount(labels.ravel(), minlength=256)
    out = []
    for value in np.flatnonzero(counts):
        if value in (0, IGNORE) or value >= probs.shape[0]:
            continue
        for piece in split_mask(labels == value, min_area):
            rows, cols = np.nonzero(piece)
            # Each photo pixel's centre, on the canvas.
            r = np.minimum(top + ((rows + 0.5) * new_h / height).astype(np.int64), top + new_h - 1)
            c = np.minimum(left + ((cols + 0.5) * new_w / width).astype(np.int64), left + new_w - 1)
            score = float(probs[value, r, c].mean())
            out.append(Detection(int(value) - 1, round(score, 6), piece))
    out.sort(key=lambda d: -d.score)
    return out


def model_detections(
    output: dict,
    box: tuple[int, int, int, int],
    height: int,
    width: int,
    attribute_ids: list[int],
    min_score: float,
) -> list[Detection]:
    """An instance model's output for one canvas -> the photo's detections.

    Args:
        output: Mask R-CNN's dict for one image: ``masks`` (K, 1, h, w) probabilities on the
            canvas, ``labels`` (K,) ClassId + 1, ``scores`` (K,), ``attributes`` (K, A).
        box: ``(top, left, new_h, new_w)``: where the photo lies on the canvas.
        height: the photo's height.
        width: the photo's width.
        attribute_ids: the attribute id of each of the A outputs.
        min_score: detections below this score are left out.

    Returns:
        Detections with masks at the photo's size (probability >= 0.5), best score first.
    """
    top, left, new_h, new_w = box
    keep = output["scores"] >= min_score
    if not bool(keep.any()):
        return []
    probs = output["masks"][keep][:, :, top : top + new_h, left : left + new_w].float()
    masks = (
        torch.nn.functional.interpolate(
            probs, size=(height, width), mode="bilinear", align_corners=False
        )[:, 0]
        >= 0.5
    )
    attributes = output.get("attributes")
    out = []
    for k, (label, score) in enumerate(zip(output["labels"][keep], output["scores"][keep])):
        mask = masks[k].cpu().numpy()
        if not mask.any():
            continue
        scores = attributes[keep][k].tolist() if attributes is not None else []
        out.append(
            Detection(
                int(label) - 1,
                round(float(score), 6),
                mask,
                {a: round(float(p), 4) for a, p in zip(attribute_ids, scores)},
            )
        )
    out.sort(key=lambda d: -d.score)
    return out


def paint(detections: list[Detection], height: int, width: int, min_score: float) -> np.ndarray:
    """An instance model's label map (H, W) uint8: its detections of at least ``min_score``,
    larger ones first so that smaller ones (a pocket on a coat) stay on top, as the ground
    truth is composed (``data/compose.py``)."""
    labels = np.zeros((height, width), dtype=np.uint8)
    shown = [d for d in detections if d.score >= min_score]
    for det in sorted(shown, key=lambda d: (-int(d.mask.sum()), d.class_id)):
        labels[det.mask] = det.class_id + 1
    return labels
