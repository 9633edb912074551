"""COCO files at the door: ground truth (Fashionpedia's ``instances_attributes_*.json``,
ModaNet's JSON) and results files (``predict --coco-results``, Detectron2, MMDetection).

After :func:`read_coco`, every image has a sane size and unique id, and every annotation kept
has a known image, category and attributes and a segmentation that is a mask of its photo;
after :func:`read_results` the same holds of every detection. Nothing else reaches
pycocotools.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Annotated

import msgspec
from msgspec import Meta

from fashionseg.data.coco_rle import counts_sums
from fashionseg.data.rle import MAX_PIXELS
from fashionseg.data.schema.door import (
    SchemaError,
    Skipped,
    decode_items,
    segmentation_problem,
)
from fashionseg.data.schema.types import (
    Box,
    Finite,
    Id,
    Key,
    Name,
    NonNegative,
    Rle,
    Segmentation,
    Side,
)


class CocoImage(msgspec.Struct, gc=False):
    id: Key
    width: Side
    height: Side
    file_name: Name = ""


class CocoAnnotation(msgspec.Struct, gc=False):
    image_id: Key
    category_id: Id
    segmentation: Segmentation
    id: Id | None = None
    area: NonNegative | None = None
    bbox: Box | None = None
    iscrowd: Annotated[int, Meta(ge=0, le=1)] = 0
    attribute_ids: list[Id] = []


class CocoCategory(msgspec.Struct, gc=False):
    id: Id
    name: Name
    supercategory: Name = ""


class CocoAttribute(msgspec.Struct, gc=False):
    id: Id
    name: Name
    supercategory: Name = ""


class CocoFile(msgspec.Struct, gc=False):
    images: list[CocoImage]
    annotations: list[CocoAnnotation]
    categories: list[CocoCategory] = []
    attributes: list[CocoAttribute] | None = None


@dataclass
class CheckedCoco:
    """A ground truth past the door.

    ``annotations`` holds the good annotations by image id; ``bad_images`` the images one of
    whose annotations was bad (image id -> reason: a reader skips such an image rather than
    learn from half its garments); ``skipped`` every item left out, for the user.
    """

    images: list[CocoImage]
    annotations: dict[object, list[CocoAnnotation]]
    categories: list[CocoCategory]
    attributes: list[CocoAttribute] | None
    skipped: list[Skipped] = field(default_factory=list)
    bad_images: dict[object, str] = field(default_factory=dict)

    def to_builtins(self) -> dict:
        """The ground truth as the plain dict pycocotools' ``COCO`` takes; annotations without
        an id are numbered after the largest (COCOeval needs ids, and 0 means "unmatched")."""
        anns = [a for image in self.images for a in self.annotations.get(image.id, [])]
        used = [a.id for a in anns if a.id is not None]
        next_id = max([0, *used]) + 1
        out = []
        for a in anns:
            entry = msgspec.to_builtins(a)
            if a.id is None:
                entry["id"], next_id = next_id, next_id + 1
            out.append({k: v for k, v in entry.items() if v is not None})
        return {
            "images": msgspec.to_builtins(self.images),
            "annotations": out,
            "categories": msgspec.to_builtins(self.categories),
            "attributes": msgspec.to_builtins(self.attributes or []),
        }


def read_coco(data: bytes, where: str, known_categories: bool = True) -> CheckedCoco:
    """A COCO ground truth checked whole; bad items are left out and named.

    ``known_categories=False`` lets annotations name categories the file does not list (a
    converter counts them as unmapped instead).

    Raises:
        SchemaError: not JSON, or not a COCO file at all (no ``images`` list...).
    """
    doc, skipped = decode_items(
        data, CocoFile, {"images": CocoImage, "annotations": CocoAnnotation}, where
    )
    images, sizes = [], {}
    for k, image in enumerate(doc.images):
        if image is None:
            continue
        if image.id in sizes:
            skipped.append(Skipped(f"images[{k}]", f"id {image.id!r} is used twice", _raw(image)))
        elif image.height * image.width > MAX_PIXELS:
            reason = f"size {image.height}x{image.width} is too large"
            skipped.append(Skipped(f"images[{k}]", reason, _raw(image)))
        else:
            sizes[image.id] = (image.height, image.width)
            images.append(image)
    categories = {c.id for c in doc.categories} if known_categories else set()
    attributes = None if doc.attributes is None else {a.id for a in doc.attributes}
    by_image: dict[object, list[CocoAnnotation]] = {}
    bad: dict[object, str] = {}
    # Annotations the schema refused still name their image where they can: that image is
    # then skipped whole, as with any other bad annotation.
    for s in skipped:
        owner = s.field("image_id")
        if s.item.startswith("annotations[") and _hashable(owner) and owner in sizes:
            bad.setdefault(owner, f"{s.item}: {s.reason}")
    ids: set[int] = set()
    for k, ann in enumerate(doc.annotations):
        if ann is None:
            continue
        reason = _annotation_problem(ann, sizes, categories, attributes, ids)
        if reason is None:
            by_image.setdefault(ann.image_id, []).append(ann)
            if ann.id is not None:
                ids.add(ann.id)
            continue
        skipped.append(Skipped(f"annotations[{k}]", reason))
        if ann.image_id in sizes:
            bad.setdefault(
                ann.image_id, f"annotation {ann.id if ann.id is not None else k}: {reason}"
            )
    return CheckedCoco(images, by_image, list(doc.categories), doc.attributes, skipped, bad)


def _raw(image: CocoImage) -> dict:
    return {"id": image.id, "file_name": image.file_name}


def _hashable(value) -> bool:
    return isinstance(value, (int, str))


def _annotation_problem(ann: CocoAnnotation, sizes, categories, attributes, ids) -> str | None:
    if ann.image_id not in sizes:
        return f"image_id {ann.image_id!r} is not among the images"
    if ann.id is not None and ann.id in ids:
        return f"id {ann.id} is used twice"
    if categories and ann.category_id not in categories:
        return f"category_id {ann.category_id} is not among the categories"
    unknown = [a for a in ann.attribute_ids if attributes is None or a not in attributes]
    if unknown:
        return f"attribute id {unknown[0]} is not among the attributes"
    return segmentation_problem(ann.segmentation, *sizes[ann.image_id])


class ResultEntry(msgspec.Struct, gc=False):
    image_id: Key
    category_id: Id
    score: Finite
    segmentation: Segmentation
    bbox: Box | None = None
    attribute_ids: list[Id] = []


class _Wrapped(msgspec.Struct, gc=False):
    annotations: list[ResultEntry]


def read_results(
    source: bytes | list,
    where: str,
    sizes: dict,
    categories: set,
    attributes: set,
    stems: dict[str, object] | None = None,
) -> list[ResultEntry]:
    """A results file's bytes (a JSON list of detections, or an object with an
    ``annotations`` list) or such a list in memory, checked against its ground truth:
    ``sizes`` (image id -> (height, width)), the category and attribute ids, and ``stems``
    (file-name stem -> image id, for results that name photos as predict does; their
    ``image_id`` becomes the ground truth's).

    Raises:
        SchemaError: the first entry that does not fit, as ``entry K: reason``.
    """
    kind = list[ResultEntry] | _Wrapped
    try:
        if isinstance(source, bytes):
            entries = msgspec.json.decode(source, type=kind)
        else:
            entries = msgspec.convert(source, kind)
    except msgspec.ValidationError as e:
        raise SchemaError(f"{where}: {_entry_reason(str(e))}") from None
    except msgspec.DecodeError as e:
        raise SchemaError(f"{where}: not valid JSON ({str(e)[:120]})") from None
    if isinstance(entries, _Wrapped):
        entries = entries.annotations
    stems = stems or {}
    # Compressed strings are summed in one batch (a call per string costs more than the
    # string); only one that fails is decoded again, for its message.
    packed = [k for k, e in enumerate(entries) if _packed(e.segmentation)]
    sums = dict(zip(packed, counts_sums([entries[k].segmentation.counts for k in packed])))
    for k, e in enumerate(entries):
        if e.image_id not in sizes and isinstance(e.image_id, str) and e.image_id in stems:
            e.image_id = stems[e.image_id]
        if e.image_id not in sizes:
            reason = f"image_id {e.image_id!r} is not in the ground truth"
        elif e.category_id not in categories:
            reason = f"category_id {e.category_id} is not in the ground truth"
        elif set(e.attribute_ids) - attributes:
            unknown = min(set(e.attribute_ids) - attributes)
            reason = f"attribute id {unknown} is not in the ground truth's attributes"
        else:
            reason = segmentation_problem(e.segmentation, *sizes[e.image_id], sums.get(k))
        if reason:
            raise SchemaError(f"{where}: entry {k}: {reason}")
    return entries


def _packed(seg) -> bool:
    return isinstance(seg, Rle) and isinstance(seg.counts, str)


def _entry_reason(text: str) -> str:
    """msgspec's ``Expected X - at `$[3].score``` as ``entry 3: score: expected X``."""
    reason, _, path = text.partition(" - at ")
    reason = reason[:1].lower() + reason[1:]
    match = re.match(r"`\$(?:\.annotations)?\[(\d+)\]\.?(.*)`", path)
    if not match:
        return f"{path.strip('`')}: {reason}" if path else reason
    inner = f"{match.group(2)}: " if match.group(2) else ""
    return f"entry {match.group(1)}: {inner}{reason}"


__all__ = [
    "CheckedCoco", "CocoAnnotation", "CocoAttribute", "CocoCategory", "CocoFile", "CocoImage",
    "ResultEntry", "Rle", "read_coco", "read_results",
]  # fmt: skip
