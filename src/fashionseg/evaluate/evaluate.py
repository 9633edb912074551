"""``fashionseg evaluate``: a model file's metrics on a data folder (at each photo's own
resolution, as ``predict`` + ``score`` would give) or on a prepared cache (at its resolution).
"""

from __future__ import annotations

import sys

import numpy as np
import torch
from tqdm import tqdm

from fashionseg.data.categories import CategoryTable
from fashionseg.data.compose import record_labels
from fashionseg.data.formats import open_dataset
from fashionseg.data.images import DataError, load_resized
from fashionseg.data.rle import RLEError
from fashionseg.errors import FashionsegError
from fashionseg.evaluate.metrics import ConfusionMatrix
from fashionseg.files import wanted_ids
from fashionseg.inference.fragments import DEFAULT_MIN_AREA
from fashionseg.inference.predictor import Predictor
from fashionseg.prepare.cache import Cache, is_cache, open_cache


class CategoryMismatch(FashionsegError, ValueError):
    """A model scored on data of another category set."""


def check_categories(model: CategoryTable, data: CategoryTable, classes: str) -> None:
    """The model must know exactly the data's categories (its garments with ``garments``)."""
    data_names = (data.garments_only() if classes == "garments" else data).names()
    if model.names() != data_names:
        raise CategoryMismatch(
            f"the model knows {len(model.names()) - 1} categories, the data "
            f"{len(data_names) - 1}: they are different category sets"
        )


def evaluate_checkpoint(
    checkpoint: str,
    data: str,
    ids_file: str | None = None,
    batch_size: int = 8,
    device: str = "auto",
    tta: str | None = None,
    min_area: float = DEFAULT_MIN_AREA,
) -> dict:
    """Metrics of a checkpoint (or exported model) on a data folder or a cache.

    ``tta="flip"`` averages the logits of each photo and its mirror image; ``min_area`` is
    predict's fragment rule, so that evaluate scores what predict writes.
    """
    predictor = Predictor(checkpoint, device, min_area=min_area)
    wanted = wanted_ids(ids_file)
    if is_cache(data):
        return _on_cache(predictor, open_cache(data), wanted, batch_size, tta)
    return _on_folder(predictor, data, wanted, batch_size, tta)


def _on_cache(predictor: Predictor, cache: Cache, wanted, batch_size: int, tta) -> dict:
    """At the cache's resolution: its canvases and label maps as they are."""
    names = predictor.categories.names()
    check_categories(predictor.categories, cache.categories, "all")
    cm = ConfusionMatrix(len(names), predictor.device)
    rows = [r for r, i in zip(cache.indices, cache.ids) if wanted is None or i in wanted]
    for k in tqdm(range(0, len(rows), batch_size), desc="evaluate", unit="batch", file=sys.stderr):
        batch = rows[k : k + batch_size]
        logits = predictor.logits(cache.images[batch], tta=tta)
        truth = torch.from_numpy(np.asarray(cache.masks[batch])).to(predictor.device).long()
        pred = logits.argmax(1)
        if predictor.min_area > 0:  # the fragment rule, image by image, on the CPU
            maps = [predictor.clean(p.to(torch.uint8).cpu().numpy()) for p in pred]
            pred = torch.from_numpy(np.stack(maps)).to(predictor.device).long()
        cm.update(pred, truth)
    return cm.compute(names)


def _on_folder(predictor: Predictor, data: str, wanted, batch_size: int, tta) -> dict:
    """At each photo's own size, through the same canvases and labels as ``predict``."""
    names = predictor.categories.names()
    classes = predictor.config.get("classes", "all")
    dataset = open_dataset(data)
    check_categories(predictor.categories, dataset.categories, classes)
    cm = ConfusionMatrix(len(names), predictor.device)
    skipped, pending = 0, []

    def flush() -> None:
        logits = predictor.logits(np.stack([canvas for canvas, _ in pending]), tta=tta)
        for (_, truth), lg in zip(pending, logits):
            pred = predictor.labels(lg, *truth.shape)
            device = predictor.device
            cm.update(
                torch.from_numpy(pred)[None].to(device), torch.from_numpy(truth)[None].to(device)
            )
        pending.clear()

    total = len(wanted) if wanted is not None else len(dataset)
    records = (r for r in dataset if wanted is None or r.image_id in wanted)
    for record in tqdm(records, total=total, desc="evaluate", unit="img", file=sys.stderr):
        try:
            if record.error:
                raise DataError(record.error)
            truth = record_labels(record, classes)
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
