"""``evaluate`` (a checkpoint) and ``score`` (PNG label maps from any tool) on a data set.

Scoring happens at the ground truth's own resolution: predictions are upsampled to each
photo's size first. On a prepared cache, scoring is at the cache's resolution instead.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from .data.compose import compose, keep_classes
from .data.formats import open_dataset
from .data.images import DataError, load_resized
from .data.prepare import is_cache, open_cache
from .data.rle import RLEError
from .files import read_ids
from .training.metrics import ConfusionMatrix
from .use.inference import Predictor


def _wanted(ids_file: str | None) -> set[str] | None:
    if not ids_file:
        return None
    return set(read_ids(ids_file))


def _check_categories(model_names: list[str], data_names: list[str], classes: str) -> None:
    if classes == "garments":
        data_names = data_names[:28]
    if model_names != data_names:
        raise ValueError(
            f"the model knows {len(model_names) - 1} categories, the data {len(data_names) - 1}: "
            "they are different category sets"
        )


def evaluate_checkpoint(
    checkpoint: str,
    data: str,
    ids_file: str | None = None,
    batch_size: int = 8,
    device: str = "auto",
    tta: str | None = None,
) -> dict:
    """Metrics of a checkpoint on a data folder (full resolution) or a cache.

    ``tta="flip"`` averages the logits of each photo and its mirror image.
    """
    predictor = Predictor(checkpoint, device)
    names = predictor.categories.names()
    classes = predictor.config.get("classes", "all")
    wanted = _wanted(ids_file)
    cm = ConfusionMatrix(len(names), predictor.device)
    if is_cache(data):
        cache = open_cache(data)
        _check_categories(names, cache.categories.names(), "all")
        rows = [r for r, i in zip(cache.indices, cache.ids) if wanted is None or i in wanted]
        for k in tqdm(
            range(0, len(rows), batch_size), desc="evaluate", unit="batch", file=sys.stderr
        ):
            batch = rows[k : k + batch_size]
            logits = predictor.logits(cache.images[batch], tta=tta)
            cm.update(
                logits.argmax(1), torch.from_numpy(cache.masks[batch]).to(predictor.device).long()
            )
        return cm.compute(names)
    dataset = open_dataset(data)
    _check_categories(names, dataset.categories.names(), classes)
    skipped = 0
    pending: list = []

    def flush() -> None:
        logits = predictor.logits(np.stack([p[0] for p in pending]), tta=tta)
        for (_, truth), lg in zip(pending, logits):
            pred = predictor.labels(lg, *truth.shape)
            cm.update(
                torch.from_numpy(pred)[None].to(predictor.device),
                torch.from_numpy(truth)[None].to(predictor.device),
            )
        pending.clear()

    total = len(wanted) if wanted is not None else len(dataset)
    records = (r for r in dataset if wanted is None or r.image_id in wanted)
    for record in tqdm(records, total=total, desc="evaluate", unit="img", file=sys.stderr):
        try:
            if record.error:
                raise DataError(record.error)
            truth = compose(keep_classes(record.instances, classes), record.height, record.width)
            canvas = load_resized(
                record.path, record.height, record.width, *predictor.size, predictor.keep_aspect
            )
        except (DataError, RLEError) as e:
            skipped += 1
            print(f"skipped {record.image_id}: {e}", file=sys.stderr)
            continue
        pending.append((canvas, truth))
        if len(pending) == batch_size:
            flush()
    if pending:
        flush()
    out = cm.compute(names)
    out["skipped"] = skipped
    out["confusion"] = cm.cm.cpu().tolist()
    return out


def score_folder(predictions: str, data: str, ids_file: str | None = None) -> dict:
    """Metrics of ``predictions/<ImageId>.png`` label maps against a data folder.

    A missing prediction counts as all background (and is reported); a prediction of the
    wrong size is an error naming the file.
    """
    dataset = open_dataset(data)
    names = dataset.categories.names()
    wanted = _wanted(ids_file)
    cm = ConfusionMatrix(len(names))
    missing = 0
    pred_dir = Path(predictions)
    if not pred_dir.is_dir():
        raise FileNotFoundError(f"{predictions}: no such folder of predictions")
    for record in dataset:
        if (wanted is not None and record.image_id not in wanted) or record.error:
            continue
        truth = compose(record.instances, record.height, record.width)
        path = pred_dir / f"{record.image_id}.png"
        if path.exists():
            pred = np.asarray(Image.open(path))
            if pred.shape != truth.shape:
                raise ValueError(
                    f"{path}: size {pred.shape} differs from the image's {truth.shape}"
                )
            if pred.max(initial=0) >= len(names):
                raise ValueError(f"{path}: label value {pred.max()} has no category")
        else:
            missing += 1
            pred = np.zeros_like(truth)
        cm.update(torch.from_numpy(pred)[None], torch.from_numpy(truth)[None])
    if missing:
        print(f"{missing} prediction(s) missing, scored as background", file=sys.stderr)
    out = cm.compute(names)
    out["missing"] = missing
    return out
