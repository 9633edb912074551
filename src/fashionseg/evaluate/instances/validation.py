"""An instance model scored on cache rows during training (at the cache's size): mask and box
AP (``score.py``) and the attributes' macro F1 on the detections that found a garment."""

from __future__ import annotations

import numpy as np
import torch

from fashionseg.data.rle import rle_decode
from fashionseg.evaluate.instances.entries import mask_counts, results_entry
from fashionseg.evaluate.instances.score import score_detections
from fashionseg.evaluate.instances.truth import coco_dataset, quiet_coco
from fashionseg.inference.instances import ATTRIBUTE_THRESHOLD, Detection, model_detections

# Every detection above this score counts for AP (torchvision's and Detectron2's default).
AP_MIN_SCORE = 0.05


def attribute_scores(pairs: list[tuple[set[int], set[int]]], attribute_ids: list[int]) -> dict:
    """F1 per attribute id that occurs in the ground truth of ``pairs`` (predicted set, true
    set)."""
    scores = {}
    for a in attribute_ids:
        tp = sum(a in p and a in t for p, t in pairs)
        fp = sum(a in p and a not in t for p, t in pairs)
        fn = sum(a not in p and a in t for p, t in pairs)
        if tp + fn:
            scores[a] = 2 * tp / (2 * tp + fp + fn)
    return scores


def matched_attribute_f1(
    pairs: list[tuple[set[int], set[int]]], attribute_ids: list[int]
) -> float | None:
    """The ``attribute_f1`` figure: over the (predicted, true) attribute sets of matched
    instances, the macro F1 of the attributes that occur in the ground truth; None when none
    occurs. (FPEval's per-pair F1 is ``fpeval.pairwise_attribute_f1``.)"""
    scores = attribute_scores(pairs, attribute_ids)
    return float(np.mean(list(scores.values()))) if scores else None


def matched_attributes(detections: list[Detection], truth: list[dict], h: int, w: int):
    """(predicted, true) attribute sets of each true instance and the same-class detection
    that overlaps it best (IoU >= 0.5), for the attribute F1."""
    pairs = []
    for inst in truth:
        mask = rle_decode(inst["rle"], h, w)
        best, best_iou = None, 0.5
        for det in detections:
            if det.class_id != inst["class_id"]:
                continue
            iou = (det.mask & mask).sum() / max(1, (det.mask | mask).sum())
            if iou >= best_iou:
                best, best_iou = det, iou
        if best is not None:
            predicted = {a for a, p in best.attributes.items() if p >= ATTRIBUTE_THRESHOLD}
            pairs.append((predicted, set(inst["attributes"])))
    return pairs


@torch.no_grad()
def validate_instances(model, cache, rows, attribute_ids, device, batch_size=4, dtype=None) -> dict:
    """Metrics of ``model`` (eval mode is set here) on cache ``rows``.

    Returns:
        ``mask_ap``, ``mask_ap50``, ``box_ap``, ``mask_ap_iou_f1``, ``attribute_f1`` (None
        without attributes) and the full ``score_detections`` dict under ``instances``.
    """
    model.eval()
    h, w = cache.size
    entries, pairs, images, truth = [], [], [], {}
    for start in range(0, len(rows), batch_size):
        chunk = [int(r) for r in rows[start : start + batch_size]]
        batch = [
            torch.from_numpy(np.array(cache.images[r])).permute(2, 0, 1).float() / 255
            for r in chunk
        ]
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            outputs = model([b.to(device) for b in batch])
        for row, output in zip(chunk, outputs):
            dets = model_detections(output, (0, 0, h, w), h, w, attribute_ids, AP_MIN_SCORE)
            instances = cache.instances.get(row, [])
            images.append({"id": row, "file_name": str(row), "height": h, "width": w})
            truth[row] = [(i["class_id"], i["rle"], i["attributes"]) for i in instances]
            pairs += matched_attributes(dets, instances, h, w)
            entries += [detection_entry(d, row) for d in dets]
    gt = quiet_coco(coco_dataset(images, truth, cache.categories))
    scores = score_detections(entries, gt, "validation")
    return {
        "mask_ap": scores["mask_ap"],
        "mask_ap50": scores["mask_ap50"],
        "box_ap": scores["box_ap"],
        "mask_ap_iou_f1": scores["mask_ap_iou_f1"],
        "attribute_f1": matched_attribute_f1(pairs, attribute_ids),
        "instances": scores,
    }


def detection_entry(det: Detection, image_id) -> dict:
    """A detection as a COCO results entry (attributes over the threshold)."""
    h, w = det.mask.shape
    present = [a for a, p in det.attributes.items() if p >= ATTRIBUTE_THRESHOLD]
    return results_entry(
        image_id, det.class_id, det.score, mask_counts(det.mask), h, w, det.bbox, present
    )
