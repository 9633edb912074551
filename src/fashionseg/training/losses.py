"""Losses on logits (N, C, H, W) and label maps (N, H, W) int64; all honour the ignore index.

A plain dict maps names to builders; ``ce+dice`` sums the two.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from fashionseg import names
from fashionseg.data.categories import IGNORE
from fashionseg.errors import ConfigError
from fashionseg.names import check_registry

Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def cross_entropy(weight: torch.Tensor | None = None, ignore_index: int = IGNORE) -> Loss:
    def loss(logits: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits.float(), masks, weight=weight, ignore_index=ignore_index)

    return loss


def focal(
    gamma: float = 2.0, weight: torch.Tensor | None = None, ignore_index: int = IGNORE
) -> Loss:
    """Multiclass focal loss (Lin et al.): mean over valid pixels of -a_t (1 - p_t)^gamma log p_t.

    ``weight`` plays the role of alpha per class; without it alpha is 1.
    """

    def loss(logits: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        valid = masks != ignore_index
        target = torch.where(valid, masks, 0)
        logp = F.log_softmax(logits.float(), dim=1).gather(1, target[:, None])[:, 0]
        term = -((1 - logp.exp()) ** gamma) * logp
        if weight is not None:
            term = term * weight[target]
        return (term * valid).sum() / valid.sum().clamp(min=1)

    return loss


def dice(ignore_index: int = IGNORE, eps: float = 1.0) -> Loss:
    """Soft multiclass Dice: 1 - mean over the classes present in the batch's truth of
    (2 |P.T| + eps) / (|P| + |T| + eps), over valid pixels."""

    def loss(logits: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        valid = masks != ignore_index
        target = torch.where(valid, masks, 0)
        probs = F.softmax(logits.float(), dim=1) * valid[:, None]
        # Per-class sums by scatter-add: no one-hot tensor (C label maps of int64) and no
        # boolean indexing, which would make the host wait for the GPU every step.
        flat = target.reshape(-1)
        truth = probs.new_zeros(logits.shape[1]).scatter_add_(0, flat, valid.reshape(-1).float())
        hit = probs.gather(1, target[:, None]).reshape(-1)
        inter = probs.new_zeros(logits.shape[1]).scatter_add_(0, flat, hit)
        score = (2 * inter + eps) / (probs.sum((0, 2, 3)) + truth + eps)
        present = truth > 0
        return ((1 - score) * present).sum() / present.sum().clamp(min=1)

    return loss


def _ce_dice(weight: torch.Tensor | None = None, gamma: float = 2.0) -> Loss:
    ce, dc = cross_entropy(weight), dice()
    return lambda logits, masks: ce(logits, masks) + dc(logits, masks)


# The loss registry: name -> builder taking (class weights, focal gamma); names in names.py.
LOSSES: dict[str, Callable[..., Loss]] = {
    "ce": lambda weight, gamma: cross_entropy(weight),
    "focal": lambda weight, gamma: focal(gamma, weight),
    "dice": lambda weight, gamma: dice(),
    "ce+dice": _ce_dice,
}
check_registry("loss", LOSSES, names.LOSSES)


def build_loss(name: str, weight: torch.Tensor | None = None, gamma: float = 2.0) -> Loss:
    """A registered loss; ``weight`` (C,) weighs classes."""
    if name not in LOSSES:
        raise ConfigError(f"unknown loss {name!r}; choose one of {', '.join(LOSSES)}")
    return LOSSES[name](weight, gamma)


def median_frequency_weights(
    masks: np.ndarray, num_classes: int, max_weight: float = 50.0
) -> np.ndarray:
    """Median-frequency balancing (Eigen & Fergus): w_c = median(f) / f_c.

    f_c is the pixel count of class c divided by the pixel count of the images where c occurs.
    Classes that never occur get weight 0; weights are capped at ``max_weight``.

    Args:
        masks: label maps (N, H, W) uint8.
        num_classes: C.

    Returns:
        float32 array (C,).
    """
    counts = np.zeros(num_classes)
    image_pixels = np.zeros(num_classes)
    for m in masks:
        c = np.bincount(m.ravel(), minlength=256)[:num_classes]
        counts += c
        image_pixels += (c > 0) * (m != IGNORE).sum()
    freq = np.divide(counts, image_pixels, out=np.zeros(num_classes), where=image_pixels > 0)
    present = freq > 0
    weights = np.zeros(num_classes)
    weights[present] = np.median(freq[present]) / freq[present]
    return np.minimum(weights, max_weight).astype(np.float32)
