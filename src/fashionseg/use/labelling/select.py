"""``fashionseg select``: which photos to label next.

Each photo gets an uncertainty, from what the model says of it
(``inference/uncertainty.py``):

- a semantic model: the mean of 1 - (p1 - p2) over the pixels it calls garment, where p1 and
  p2 are the two largest class probabilities of a pixel (a small margin: the model hesitates
  between two categories, or between garment and background);
- an instance model: the mean of 1 - |2s - 1| over its detections' scores s (a score near 0.5
  is the least sure).

Photos are then picked greedily, so that rare garments get picks and one common garment does
not take the whole budget: a photo's gain is its uncertainty times 1 plus, for each category
it shows, the category's rarity in the pool (log(N / n_c) / log(N): 0 for a category in every
photo, 1 for one in a single photo) divided by 1 + the picks already showing it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from fashionseg.data.images import DataError
from fashionseg.inference.predictor import Predictor


@dataclass(frozen=True)
class Scored:
    """One photo of the pool: its uncertainty (0 sure .. 1 unsure) and the label values of the
    categories the model sees in it."""

    path: Path
    uncertainty: float
    values: frozenset[int]


@dataclass(frozen=True)
class Pick:
    """A chosen photo, in pick order (rank 1 first), with the gain it was picked for."""

    rank: int
    photo: Scored
    gain: float


def score_photos(
    predictor: Predictor, photos: list[Path], batch_size: int = 8, progress: bool = True
) -> tuple[list[Scored], list[tuple[Path, str]]]:
    """Every photo's uncertainty, in batches through the model.

    Returns:
        The scored photos, and (photo, reason) for those that could not be read.
    """
    scored, failed = [], []
    bar = tqdm(total=len(photos), desc="select", unit="photo", disable=not progress)
    for k in range(0, len(photos), batch_size):
        batch, canvases, sizes = [], [], []
        for path in photos[k : k + batch_size]:
            try:
                photo, canvas = predictor.photo_and_canvas(path)
            except DataError as e:
                failed.append((path, str(e)))
                continue
            batch.append(path)
            canvases.append(canvas)
            sizes.append((photo.height, photo.width))
        if batch:
            logits = predictor.logits(np.stack(canvases))
            for path, lg, size in zip(batch, logits, sizes):
                scored.append(Scored(path, *predictor.uncertainty(lg, *size)))
        bar.update(len(photos[k : k + batch_size]))
    bar.close()
    return scored, failed


def choose(scored: list[Scored], budget: int) -> list[Pick]:
    """The ``budget`` photos of greatest gain, picked one at a time (module docstring)."""
    n = len(scored)
    shown: dict[int, int] = {}
    for s in scored:
        for v in s.values:
            shown[v] = shown.get(v, 0) + 1
    log_n = math.log(n) if n > 1 else 1.0
    rarity = {v: math.log(n / c) / log_n for v, c in shown.items()}
    picked: dict[int, int] = {}
    left = list(range(n))
    picks: list[Pick] = []
    for rank in range(1, min(budget, n) + 1):
        gains = [
            scored[i].uncertainty
            * (1 + sum(rarity[v] / (1 + picked.get(v, 0)) for v in scored[i].values))
            for i in left
        ]
        best = int(np.argmax(gains))  # ties: the earlier photo, so picks are reproducible
        photo = scored[left.pop(best)]
        picks.append(Pick(rank, photo, gains[best]))
        for v in photo.values:
            picked[v] = picked.get(v, 0) + 1
    return picks
