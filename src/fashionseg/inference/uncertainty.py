"""How unsure a model is of a photo, and the categories it sees there: what ``select``
ranks photos by (``use/labelling/select.py``)."""

from __future__ import annotations

import numpy as np
import torch

SHOWN_SHARE = 0.002  # a category counts as shown from this share of the photo's pixels


def semantic_uncertainty(logits: torch.Tensor) -> tuple[float, frozenset[int]]:
    """One canvas's logits (C, h, w) (the photo's part, padding cropped) -> (uncertainty, the
    label values shown)."""
    probabilities = torch.softmax(logits.float(), dim=0)
    top = probabilities.topk(2, dim=0)
    labels = top.indices[0]
    garment = labels != 0
    if not bool(garment.any()):
        return 0.0, frozenset()
    margin = (top.values[0] - top.values[1])[garment]
    counts = torch.bincount(labels[garment].flatten(), minlength=logits.shape[0])
    shown = torch.nonzero(counts >= SHOWN_SHARE * labels.numel()).flatten().tolist()
    return float((1 - margin).mean()), frozenset(shown)


def score_uncertainty(detections) -> tuple[float, frozenset[int]]:
    """An instance model's detections -> (uncertainty, the label values shown)."""
    if not detections:
        return 0.0, frozenset()
    unsure = [1 - abs(2 * d.score - 1) for d in detections]
    return float(np.mean(unsure)), frozenset(d.class_id + 1 for d in detections)
