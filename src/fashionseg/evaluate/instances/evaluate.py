"""``fashionseg evaluate CKPT --data DATA --task instances``: a model's instances (an instance
model's detections, or a semantic model's components) scored as ``score`` scores a results
file, at each photo's own size, through the canvases and labelling ``predict`` uses."""

from __future__ import annotations

import sys

import numpy as np
from tqdm import tqdm

from fashionseg.data.components import apply_rule
from fashionseg.data.formats import open_dataset
from fashionseg.data.images import DataError, load_resized
from fashionseg.evaluate.evaluate import check_categories
from fashionseg.evaluate.instances.score import score_detections
from fashionseg.evaluate.instances.truth import ground_truth, stems
from fashionseg.evaluate.instances.validation import (
    AP_MIN_SCORE,
    attribute_scores,
    detection_entry,
    matched_attribute_f1,
    matched_attributes,
)
from fashionseg.inference.predictor import Predictor


def evaluate_instances(
    checkpoint: str,
    data: str,
    rule: str = "rows",
    wanted: set[str] | None = None,
    batch_size: int = 8,
    device: str = "auto",
    min_area: float | None = None,
) -> dict:
    """Instance metrics (``score.score_detections``) of a model file on a data folder.

    Args:
        checkpoint: an instance or a semantic model file.
        data: the ground truth (a data folder; a COCO JSON with its photos beside it).
        rule: the ground truth's instances (``rows`` or ``components``).
        wanted: ImageIds to score (None: all).
        batch_size: photos per forward pass.
        device: where the model runs.
        min_area: a semantic model's fragment rule (None: its default).
    """
    kw = {} if min_area is None else {"min_area": min_area}
    predictor = Predictor(checkpoint, device, min_score=AP_MIN_SCORE, **kw)
    dataset = open_dataset(data)
    classes = predictor.config.get("classes", "all")
    check_categories(predictor.categories, dataset.categories, classes)
    gt = ground_truth(data, rule, wanted)
    image_ids = stems(gt)
    entries, pending, pairs = [], [], []

    def flush() -> None:
        logits = predictor.logits(np.stack([canvas for canvas, _ in pending]))
        for (_, record), lg in zip(pending, logits):
            h, w = record.height, record.width
            found = predictor.result(lg, h, w, instances=True).detections
            entries.extend(detection_entry(det, image_ids[record.path.stem]) for det in found)
            truth = [
                {"class_id": i.class_id, "rle": i.rle, "attributes": i.attributes}
                for i in apply_rule(record.instances, h, w, rule)
            ]
            pairs.extend(matched_attributes(found, truth, h, w))
        pending.clear()

    records = [r for r in dataset if (wanted is None or r.image_id in wanted)]
    for record in tqdm(records, desc="evaluate", unit="img", file=sys.stderr):
        if record.error or record.path.stem not in image_ids:
            continue
        try:
            canvas = load_resized(
                record.path, record.height, record.width, *predictor.size, predictor.keep_aspect
            )
        except DataError as e:
            print(f"skipped {record.image_id}: {e}", file=sys.stderr)
            continue
        pending.append((canvas, record))
        if len(pending) == batch_size:
            flush()
    if pending:
        flush()
    out = score_detections(entries, gt, checkpoint)
    # Macro F1 of the model's attributes on the garments it found (IoU >= 0.5, same class).
    out["attribute_f1"] = matched_attribute_f1(pairs, predictor.attribute_ids)
    names = predictor.categories.attributes
    out["per_attribute"] = {
        names.get(a, str(a)): round(f1, 4)
        for a, f1 in attribute_scores(pairs, predictor.attribute_ids).items()
    }
    return out
