"""``fashionseg score``: PNG label maps written by any tool, scored against a data folder at
each photo's own resolution."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from fashionseg.data.compose import record_labels
from fashionseg.data.formats import open_dataset
from fashionseg.errors import FashionsegError
from fashionseg.evaluate.metrics import ConfusionMatrix
from fashionseg.files import wanted_ids


class PredictionError(FashionsegError, ValueError):
    """A prediction file that cannot be scored (another size, a value with no category)."""


def score_folder(predictions: str, data: str, ids_file: str | None = None) -> dict:
    """Metrics of ``predictions/<ImageId>.png`` label maps against a data folder.

    A missing prediction counts as all background (and is reported); a prediction of the
    wrong size is an error naming the file.
    """
    dataset = open_dataset(data)
    names = dataset.categories.names()
    wanted = wanted_ids(ids_file)
    cm = ConfusionMatrix(len(names))
    missing = 0
    pred_dir = Path(predictions)
    if not pred_dir.is_dir():
        raise FileNotFoundError(f"{predictions}: no such folder of predictions")
    for record in dataset:
        if (wanted is not None and record.image_id not in wanted) or record.error:
            continue
        truth = record_labels(record)
        path = pred_dir / f"{record.image_id}.png"
        if path.exists():
            pred = np.array(Image.open(path))
            if pred.shape != truth.shape:
                raise PredictionError(
                    f"{path}: size {pred.shape} differs from the image's {truth.shape}"
                )
            if pred.max(initial=0) >= len(names):
                raise PredictionError(f"{path}: label value {pred.max()} has no category")
        else:
            missing += 1
            pred = np.zeros_like(truth)
        cm.update(torch.from_numpy(pred)[None], torch.from_numpy(truth)[None])
    if missing:
        print(f"{missing} prediction(s) missing, scored as background", file=sys.stderr)
    out = cm.compute(names)
    out["missing"] = missing
    return out
