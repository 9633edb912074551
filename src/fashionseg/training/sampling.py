"""Repeat-factor sampling for the long tail (Gupta et al., LVIS, CVPR 2019).

A class seen in a share f_c of the training photos gets the repeat factor
r_c = max(1, sqrt(t / f_c)) for a threshold t; a photo repeats by the largest r_c of its
classes. Each epoch a photo appears floor(r) times and once more with probability frac(r),
drawn from the epoch's generator, so the epoch is the same on every rank (before the shard)
and after a resume. The epoch's length is fixed to round(sum(r)) photos, so the schedule's
step count does not wander from epoch to epoch.
"""

from __future__ import annotations

import numpy as np
import torch

from fashionseg.data.categories import IGNORE


def class_presence(masks, rows: np.ndarray, num_classes: int) -> np.ndarray:
    """(len(rows), num_classes) bool: which classes (label values) each cache row holds."""
    presence = np.zeros((len(rows), num_classes), dtype=bool)
    for k, row in enumerate(rows):
        counts = np.bincount(np.asarray(masks[row]).ravel(), minlength=256)
        counts[IGNORE] = 0
        presence[k] = counts[:num_classes] > 0
    return presence


def class_repeat_factors(presence: np.ndarray, threshold: float) -> np.ndarray:
    """r_c per label value (background's is 1): max(1, sqrt(t / f_c)); 1 for unseen classes."""
    share = presence.mean(0) if len(presence) else np.zeros(presence.shape[1])
    factors = np.ones(presence.shape[1])
    seen = share > 0
    factors[seen] = np.maximum(1.0, np.sqrt(threshold / share[seen]))
    factors[0] = 1.0
    return factors


def repeat_factors(presence: np.ndarray, threshold: float) -> np.ndarray:
    """r_i per photo: the largest r_c of the classes it holds (1 without any)."""
    per_class = class_repeat_factors(presence, threshold)
    return np.where(presence, per_class[None, :], 1.0).max(1)


def repeated_indices(indices: np.ndarray, factors: np.ndarray, gen: torch.Generator) -> np.ndarray:
    """The epoch's rows: each ``indices[i]`` floor(r_i) times, plus once with probability
    frac(r_i), trimmed or topped up (from the same draws) to round(sum(r)) rows."""
    whole = np.floor(factors).astype(np.int64)
    extra = torch.rand(len(factors), generator=gen).numpy() < (factors - whole)
    rows = np.repeat(indices, whole + extra)
    target = int(round(float(factors.sum())))
    order = torch.randperm(len(rows), generator=gen).numpy()
    if len(rows) >= target:
        return np.sort(rows[order[:target]])
    more = torch.randint(len(rows), (target - len(rows),), generator=gen).numpy()
    return np.sort(np.concatenate([rows, rows[more]]))
