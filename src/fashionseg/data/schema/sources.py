"""Other data sets' annotation files at the door (those not in COCO's form, which
``coco.py`` reads): DeepFashion2's per-photo JSON (``item1``, ``item2``... each with its
``category_id`` and polygons)."""

from __future__ import annotations

import re

import msgspec

from fashionseg.data.schema.door import SchemaError, Skipped, decode, why
from fashionseg.data.schema.types import Coordinate, Id

ITEM = re.compile(r"item([1-9][0-9]{0,3})")


class Df2Item(msgspec.Struct, gc=False):
    category_id: Id
    segmentation: list[list[Coordinate]] = []


def read_deepfashion2(data: bytes, where: str) -> tuple[list[tuple[str, Df2Item]], list[Skipped]]:
    """A DeepFashion2 annotation file's items in their order (``item1`` first), and the items
    left out (a key such as ``itemA``, a field of the wrong type).

    Raises:
        SchemaError: not JSON, or not an object.
    """
    doc = decode(data, dict[str, msgspec.Raw], where)
    items, skipped = [], []
    for key, raw in doc.items():
        if not key.startswith("item"):
            continue
        match = ITEM.fullmatch(key)
        if match is None:
            skipped.append(Skipped(key, "not an item key (item1, item2, ...)"))
            continue
        try:
            items.append((int(match.group(1)), key, msgspec.json.decode(raw, type=Df2Item)))
        except msgspec.ValidationError as e:
            skipped.append(Skipped(key, why(e, root="")))
    return [(key, item) for _, key, item in sorted(items)], skipped


__all__ = ["Df2Item", "SchemaError", "read_deepfashion2"]
