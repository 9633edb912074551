"""Instances as predict's outputs: the JSON entries, COCO results entries and Kaggle rows.

One entry per instance, from :class:`~fashionseg.inference.instances.Detection`: class id and
name, score, box, area fraction, dominant colour, display colour, Kaggle RLE and the
attributes whose probability reaches the threshold (names from the model's categories).
"""

from __future__ import annotations

import numpy as np

from fashionseg.data.categories import palette
from fashionseg.data.rle import coco_counts, rle_encode
from fashionseg.evaluate.instances.entries import results_entry
from fashionseg.inference.instances import ATTRIBUTE_THRESHOLD, Detection
from fashionseg.use.colornames import dominant_color


def instance_entries(
    rgb: np.ndarray,
    detections: list[Detection],
    names: list[str],
    attribute_names: dict[int, str],
    threshold: float = ATTRIBUTE_THRESHOLD,
) -> list[dict]:
    """predict's ``instances`` list for one photo (best score first).

    Args:
        rgb: the photo (H, W, 3) uint8.
        detections: the model's instances.
        names: label value -> name (background first).
        attribute_names: attribute id -> name.
        threshold: the smallest attribute probability listed.
    """
    pal = palette(len(names))
    out = []
    for det in detections:
        value = det.class_id + 1
        out.append(
            {
                "class_id": det.class_id,
                "name": names[value],
                "score": round(float(det.score), 4),
                "bbox": list(det.bbox),
                "area_fraction": round(float(det.mask.mean()), 6),
                "color": dominant_color(rgb[det.mask]),
                "swatch": "#{:02x}{:02x}{:02x}".format(*pal[value]),
                "rle": rle_encode(det.mask),
                "attributes": [
                    {"id": a, "name": attribute_names.get(a, str(a)), "score": round(p, 4)}
                    for a, p in sorted(det.attributes.items(), key=lambda kv: -kv[1])
                    if p >= threshold
                ],
            }
        )
    return out


def coco_entries(doc: dict, image_id: str) -> list[dict]:
    """A photo's instances (predict's JSON document) as COCO results entries, converted from
    their runs (``evaluate/instances/entries.py`` writes every entry)."""
    h, w = doc["image"]["height"], doc["image"]["width"]
    return [
        results_entry(
            image_id,
            inst["class_id"],
            inst["score"],
            coco_counts(inst["rle"], h, w),
            h,
            w,
            inst["bbox"],
            [a["id"] for a in inst["attributes"]],
        )  # fmt: skip
        for inst in doc.get("instances", [])
    ]
