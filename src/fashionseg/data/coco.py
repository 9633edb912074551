"""Fashionpedia's COCO JSON (``instances_attributes_*.json``, polygons or RLE).

The file passes the schema door (``data/schema/coco.py``) whole; an image with a bad entry or
a bad annotation becomes a record with its reason, as every reader's bad rows do. Masks become
Kaggle RLE from their runs: a COCO RLE (or the RLE pycocotools rasterises a polygon into) and
Kaggle's pairs both number pixels column-major, so no full-size mask is decoded here.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from fashionseg.data.categories import Category, CategoryTable
from fashionseg.data.coco_rle import checked_counts, counts_to_runs, decode_counts
from fashionseg.data.records import Dataset, Instance, Record, is_plain_name
from fashionseg.data.schema.coco import CocoAnnotation, read_coco
from fashionseg.data.schema.door import read_bytes, report_skipped
from fashionseg.data.schema.types import Rle
from fashionseg.errors import DataFormatError


class CocoDataset(Dataset):
    """Fashionpedia ``instances_attributes_*.json`` (COCO with ``attribute_ids``)."""

    layout = "coco"

    def __init__(self, root: Path, json_path: Path, image_dir: Path):
        self.coco = read_coco(read_bytes(json_path), str(json_path))
        # COCO ids need not be dense; label ids are their rank.
        cats = sorted(self.coco.categories, key=lambda c: c.id)
        self.to_class = {c.id: i for i, c in enumerate(cats)}
        try:
            table = CategoryTable(
                [Category(i, c.name, c.supercategory) for i, c in enumerate(cats)],
                {a.id: a.name for a in self.coco.attributes or []},
            )
        except ValueError as e:
            raise DataFormatError(f"{json_path}: {e}") from None
        super().__init__(root, table)
        self.json_path = json_path
        self.image_dir = image_dir
        # Items that belong to no image (an annotation of a missing image) are said here once;
        # bad image entries and images with a bad annotation become records with their reason.
        report_skipped(
            [s for s in self.coco.skipped if not s.item.startswith("images[")], str(json_path)
        )

    def __len__(self) -> int:
        return len(self.coco.images) + len(self._bad_entries())

    def _bad_entries(self) -> list:
        return [s for s in self.coco.skipped if s.item.startswith("images[")]

    def _bad_stem(self, bad) -> str:
        name = bad.field("file_name")
        return Path(name).stem if isinstance(name, str) and is_plain_name(name) else ""

    def image_ids(self) -> list[str]:
        bad = [self._bad_stem(b) or f"#{b.item}" for b in self._bad_entries()]
        return bad + [Path(img.file_name).stem or f"#{img.id}" for img in self.coco.images]

    def __iter__(self) -> Iterator[Record]:
        for bad in self._bad_entries():
            stem = self._bad_stem(bad)
            yield Record(
                stem or f"#{bad.item}", self.image_dir / (stem or "?"), 0, 0, error=bad.reason
            )
        for img in self.coco.images:
            name = img.file_name
            record = Record(
                Path(name).stem or f"#{img.id}", self.image_dir / name, img.height, img.width
            )
            if not is_plain_name(name):
                record.error = f"file_name {name[:40]!r} is not a plain file name"
            elif img.id in self.coco.bad_images:
                record.error = f"bad annotation: {self.coco.bad_images[img.id]}"
            else:
                anns = self.coco.annotations.get(img.id, [])
                record.instances = [self._instance(a, img.height, img.width) for a in anns]
            yield record

    def _instance(self, ann: CocoAnnotation, h: int, w: int) -> Instance:
        return Instance(
            self.to_class[ann.category_id],
            attributes=tuple(ann.attribute_ids),
            mask=CocoMask(ann.segmentation, h, w),
        )


class CocoMask:
    """A checked COCO segmentation, converted on use: its runs come from the RLE's counts or
    from the polygons rasterised by pycocotools, never from a decoded mask."""

    __slots__ = ("segmentation", "height", "width")

    def __init__(self, segmentation: list | Rle, height: int, width: int):
        self.segmentation, self.height, self.width = segmentation, height, width

    def runs(self) -> tuple[np.ndarray, np.ndarray]:
        return counts_to_runs(mask_runs(self.segmentation, self.height, self.width))

    def __reduce__(self):
        return CocoMask, (self.segmentation, self.height, self.width)


def mask_runs(seg: list | Rle, h: int, w: int):
    """A checked segmentation's COCO run lengths (int64 (R,)): an RLE's own, or those of the
    polygons rasterised and merged by pycocotools (safe here: the door bounded them)."""
    if isinstance(seg, Rle):
        return checked_counts(seg.counts, h, w)
    from pycocotools import mask as mask_utils

    rle = mask_utils.merge(mask_utils.frPyObjects(seg, h, w))
    return decode_counts(rle["counts"])
