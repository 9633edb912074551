"""Fashionpedia's COCO JSON (``instances_attributes_*.json``, polygons or RLE)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from fashionseg.data.categories import Category, CategoryTable
from fashionseg.data.records import Dataset, Instance, Record, is_plain_name
from fashionseg.data.rle import MAX_PIXELS, rle_encode
from fashionseg.errors import DataFormatError


class CocoDataset(Dataset):
    """Fashionpedia ``instances_attributes_*.json`` (COCO with ``attribute_ids``)."""

    layout = "coco"

    def __init__(self, root: Path, json_path: Path, image_dir: Path):
        try:
            with open(json_path, encoding="utf-8") as f:
                self.data = json.load(f)
            if not isinstance(self.data, dict):
                raise ValueError("the top level is not an object")
            cats = sorted(self.data.get("categories", []), key=lambda c: c["id"])
            annotations = [(a["image_id"], a) for a in self.data.get("annotations", [])]
        except (ValueError, KeyError, TypeError) as e:  # JSONDecodeError, UnicodeDecodeError
            reason = f"missing {e}" if isinstance(e, KeyError) else str(e).splitlines()[0][:100]
            raise DataFormatError(f"{json_path}: not a COCO annotation file ({reason})") from None
        # COCO ids need not be dense; label ids are their rank.
        self.to_class = {c["id"]: i for i, c in enumerate(cats)}
        table = CategoryTable(
            [Category(i, c["name"], c.get("supercategory", "")) for i, c in enumerate(cats)],
            {int(a["id"]): a["name"] for a in self.data.get("attributes", [])},
        )
        super().__init__(root, table)
        self.json_path = json_path
        self.image_dir = image_dir
        self.by_image: dict[int, list[dict]] = {}
        for image_id, ann in annotations:
            self.by_image.setdefault(image_id, []).append(ann)

    def __len__(self) -> int:
        return len(self.data.get("images", []))

    def __iter__(self) -> Iterator[Record]:

        for number, img in enumerate(self.data.get("images", [])):
            name = str(img.get("file_name", "")) if isinstance(img, dict) else ""
            record = Record(Path(name).stem or f"#{number}", self.image_dir / name, 0, 0)
            if not is_plain_name(name):
                record.error = f"file_name {name[:40]!r} is not a plain file name"
                yield record
                continue
            try:
                record.height, record.width = _coco_size(img)
                for ann in self.by_image.get(img.get("id"), []):
                    record.instances.append(self._instance(ann, record.height, record.width))
            except Exception as e:  # pycocotools raises bare Exceptions on malformed input
                record.error = f"bad annotation: {str(e).splitlines()[0][:120] if str(e) else type(e).__name__}"
                record.instances = []
            yield record

    def _instance(self, ann: dict, h: int, w: int) -> Instance:
        from pycocotools import mask as mask_utils

        seg = ann["segmentation"]
        if isinstance(seg, list):
            polygons = [p for p in seg if isinstance(p, list)]
            if not polygons or len(polygons) != len(seg):
                raise ValueError("segmentation is an empty or malformed polygon list")
            if any(len(p) < 6 or len(p) % 2 for p in polygons):
                raise ValueError("a polygon needs at least 3 points as x, y pairs")
            rle = mask_utils.merge(mask_utils.frPyObjects(polygons, h, w))
        elif isinstance(seg, dict):
            if [int(v) for v in seg.get("size", [])] != [h, w]:
                raise ValueError(f"RLE size {seg.get('size')} differs from the image's [{h}, {w}]")
            rle = mask_utils.frPyObjects(seg, h, w) if isinstance(seg.get("counts"), list) else seg
        else:
            raise ValueError(f"segmentation of type {type(seg).__name__}")
        if ann["category_id"] not in self.to_class:
            raise ValueError(f"unknown category_id {ann['category_id']}")
        return Instance(
            self.to_class[ann["category_id"]],
            rle_encode(mask_utils.decode(rle)),
            tuple(int(a) for a in ann.get("attribute_ids", [])),
        )


def _coco_size(img: dict) -> tuple[int, int]:
    """(height, width) of a COCO image entry, checked before any mask is decoded."""
    try:
        h, w = int(img["height"]), int(img["width"])
    except (KeyError, TypeError, ValueError):
        raise ValueError("image entry without an integer height and width") from None
    if h <= 0 or w <= 0:
        raise ValueError(f"invalid height/width {h}x{w}")
    if h * w > MAX_PIXELS:
        raise ValueError(f"size {h}x{w} is too large to allocate")
    return h, w
