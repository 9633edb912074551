"""A COCO-format results file (Detectron2, MMDetection, the Kaggle solutions, ``predict
--coco-results``) checked against its ground truth before pycocotools sees it: the schema door
(``data/schema/coco.read_results``) names the first entry that does not fit, in one line,
never an assert deep inside ``loadRes`` nor a hang in pycocotools' RLE decoder.

Each entry: ``image_id`` (the ground truth's id, or a photo's file-name stem as ``predict``
writes it), ``category_id``, ``score``, ``segmentation`` (RLE, compressed or not, or
polygons), optionally ``bbox`` and ``attribute_ids`` (none when absent).
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

from fashionseg.data.schema.coco import ResultEntry
from fashionseg.data.schema.coco import read_results as checked_results
from fashionseg.data.schema.door import SchemaError, read_bytes
from fashionseg.data.schema.types import Rle
from fashionseg.evaluate.instances.truth import image_sizes, quiet_coco, stems

# A results file or entry that cannot be scored (the door's error; kept under this name).
ResultsError = SchemaError


def read_results(path: str | Path) -> bytes:
    """A results file's bytes, for :func:`check_results` (OSError names a missing file)."""
    return read_bytes(path)


def _compressed(seg, h: int, w: int) -> dict:
    """A checked segmentation as compressed RLE with a text ``counts``."""
    from pycocotools import mask as mask_utils

    if isinstance(seg, Rle) and isinstance(seg.counts, str):
        return {"size": [h, w], "counts": seg.counts}
    if isinstance(seg, Rle):
        rle = mask_utils.frPyObjects({"size": [h, w], "counts": list(seg.counts)}, h, w)
    else:
        rle = mask_utils.merge(mask_utils.frPyObjects(seg, h, w))
    return {"size": [h, w], "counts": rle["counts"].decode("ascii")}


def check_results(entries: bytes | list, gt, where: str = "results") -> list[dict]:
    """Entries (a file's bytes or a list in memory) checked and normalised: compressed RLE,
    the ground truth's image ids.

    Args:
        entries: the results file's bytes, or its list.
        gt: the ground truth (``pycocotools.coco.COCO``).
        where: the file's name, for messages.

    Raises:
        ResultsError: the first entry that does not fit, by index and reason.
    """
    sizes = image_sizes(gt)
    attributes = {int(a["id"]) for a in gt.dataset.get("attributes", [])}
    checked: list[ResultEntry] = checked_results(
        entries, where, sizes, set(gt.getCatIds()), attributes, stems(gt)
    )
    clean = []
    for e in checked:
        out = {
            "image_id": e.image_id,
            "category_id": e.category_id,
            "score": float(e.score),
            "segmentation": _compressed(e.segmentation, *sizes[e.image_id]),
            "attribute_ids": list(e.attribute_ids),
        }
        if e.bbox is not None:
            out["bbox"] = [float(v) for v in e.bbox]
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
