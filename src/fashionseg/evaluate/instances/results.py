"""A COCO-format results file (Detectron2, MMDetection, the Kaggle solutions, ``predict
--coco-results``) checked entry by entry against its ground truth before pycocotools sees it:
an entry that does not fit is one line naming it, never an assert deep inside ``loadRes``.

Each entry: ``image_id`` (the ground truth's id, or a photo's file-name stem as ``predict``
writes it), ``category_id``, ``score``, ``segmentation`` (RLE, compressed or not, or
polygons), optionally ``bbox`` and ``attribute_ids`` (none when absent).
"""

from __future__ import annotations

import contextlib
import io
import json
import math
from pathlib import Path

from fashionseg.errors import FashionsegError
from fashionseg.evaluate.instances.truth import image_sizes, quiet_coco, stems


class ResultsError(FashionsegError, ValueError):
    """A results file, or one of its entries, that cannot be scored."""


def read_results(path: str | Path) -> list:
    """The entries of a results file (a JSON list)."""
    try:
        with open(path, encoding="utf-8") as f:
            entries = json.load(f)
    except ValueError as e:
        raise ResultsError(f"{path}: not JSON ({str(e).splitlines()[0][:80]})") from None
    if isinstance(entries, dict) and isinstance(entries.get("annotations"), list):
        entries = entries["annotations"]
    if not isinstance(entries, list):
        raise ResultsError(f"{path}: a results file is a JSON list of detections")
    return entries


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _segmentation(seg, size: tuple[int, int]):
    """The entry's mask as compressed RLE, or the reason it is not one."""
    from pycocotools import mask as mask_utils

    h, w = size
    if isinstance(seg, dict):
        if not isinstance(seg.get("size"), list) or "counts" not in seg:
            return None, "an RLE segmentation needs size and counts"
        if list(seg["size"]) != [h, w]:
            return None, f"RLE size {seg['size']} is not the image's [{h}, {w}]"
        counts = seg["counts"]
        if isinstance(counts, list):
            if not all(isinstance(c, int) and c >= 0 for c in counts) or sum(counts) != h * w:
                return None, "uncompressed RLE counts must be non-negative and sum to H x W"
            rle = mask_utils.frPyObjects(seg, h, w)
        elif isinstance(counts, str):
            rle = {"size": [h, w], "counts": counts.encode("ascii", "replace")}
            try:
                mask_utils.area(rle)
            except Exception:  # pycocotools raises bare Exceptions
                return None, "compressed RLE counts cannot be decoded"
        else:
            return None, "RLE counts must be a string or a list"
    elif isinstance(seg, list) and seg:
        if not all(
            isinstance(p, list) and len(p) >= 6 and len(p) % 2 == 0 and all(map(_number, p))
            for p in seg
        ):
            return None, "a polygon is a list of at least 3 x, y pairs"
        rle = mask_utils.merge(mask_utils.frPyObjects(seg, h, w))
    else:
        return None, "segmentation is neither RLE nor polygons"
    rle["counts"] = (
        rle["counts"].decode("ascii") if isinstance(rle["counts"], bytes) else rle["counts"]
    )
    return rle, None


def check_results(entries: list, gt, where: str = "results") -> list[dict]:
    """Entries checked and normalised (compressed RLE, ground-truth image ids).

    Args:
        entries: the results file's list.
        gt: the ground truth (``pycocotools.coco.COCO``).
        where: the file's name, for messages.

    Raises:
        ResultsError: the first entry that does not fit, by index and reason.
    """
    sizes = image_sizes(gt)
    by_stem = stems(gt)
    categories = set(gt.getCatIds())
    attributes = {int(a["id"]) for a in gt.dataset.get("attributes", [])}
    clean = []
    for k, entry in enumerate(entries):

        def fail(reason: str, k=k):
            raise ResultsError(f"{where}: entry {k}: {reason}")

        if not isinstance(entry, dict):
            fail("is not an object")
        image = entry.get("image_id")
        if image not in sizes and isinstance(image, str) and image in by_stem:
            image = by_stem[image]
        if image not in sizes:
            fail(f"image_id {entry.get('image_id')!r} is not in the ground truth")
        if entry.get("category_id") not in categories:
            fail(f"category_id {entry.get('category_id')!r} is not in the ground truth")
        if not _number(entry.get("score")):
            fail("no numeric score")
        rle, reason = _segmentation(entry.get("segmentation"), sizes[image])
        if reason:
            fail(reason)
        attribute_ids = entry.get("attribute_ids", [])
        if not isinstance(attribute_ids, list) or not all(
            isinstance(a, int) for a in attribute_ids
        ):
            fail("attribute_ids must be a list of integers")
        unknown = sorted(set(attribute_ids) - attributes)
        if unknown:
            fail(f"attribute id {unknown[0]} is not in the ground truth's attributes")
        out = {
            "image_id": image,
            "category_id": entry["category_id"],
            "score": float(entry["score"]),
            "segmentation": rle,
            "attribute_ids": attribute_ids,
        }
        if "bbox" in entry:
            box = entry["bbox"]
            if not (isinstance(box, list) and len(box) == 4 and all(map(_number, box))):
                fail("bbox must be [x, y, width, height]")
            out["bbox"] = [float(v) for v in box]
        clean.append(out)
    return clean


def load_detections(entries: list[dict], gt):
    """Checked entries as the detections COCO object (``gt.loadRes``; none: an empty one).

    Where some entries have a box and others not, the missing boxes are the masks' boxes
    (``loadRes`` takes every entry's box from the first entry's kind).
    """
    from pycocotools import mask as mask_utils

    if not entries:
        return quiet_coco({**gt.dataset, "annotations": []})
    if any("bbox" in e for e in entries):
        for e in entries:
            e.setdefault("bbox", [float(v) for v in mask_utils.toBbox(e["segmentation"])])
    with contextlib.redirect_stdout(io.StringIO()):
        return gt.loadRes(entries)
