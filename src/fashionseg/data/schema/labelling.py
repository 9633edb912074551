"""Labelling tools' exports at the door: Label Studio's JSON (a list of tasks with their
annotations) and CVAT for images 1.1 (XML), read into typed items. A bad task, region or image
is a :class:`~fashionseg.data.schema.door.Skipped`; only a file that is not the format at all
stops the reader."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import msgspec
from msgspec import Meta

from fashionseg.data.schema.door import SchemaError, Skipped, decode, why
from fashionseg.data.schema.types import Coordinate, Id, Name, RunLength, Side

# The names fashionseg's Label Studio tasks and configuration use, and what ``convert`` reads
# back: Label Studio's URL of a file it serves under its document root, the per-region Choices
# of the attributes, and the task's data key of the photo's output stem (its ImageId back).
LOCAL_FILES = "/data/local-files/?d="
ATTRIBUTES = "attributes"
STEM = "fashionseg_stem"


def document_root(given: str | Path | None = None) -> Path:
    """Where Label Studio's local files are taken from: ``given``, else Label Studio's own
    ``LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT``, else the current folder."""
    return Path(given or os.environ.get("LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT") or Path.cwd())


Byte = Annotated[int, Meta(ge=0, le=255)]
Percent = Annotated[float, Meta(ge=-1000, le=1000)]  # a point, in percent of the photo's side
Point = Annotated[list[Percent], Meta(min_length=2, max_length=2)]


class LsValue(msgspec.Struct, gc=False):
    format: Name | None = None
    rle: list[Byte] | None = None
    brushlabels: list[Name] = []
    polygonlabels: list[Name] = []
    points: list[Point] = []
    choices: list[Name] = []


class LsResult(msgspec.Struct, gc=False):
    type: Name
    value: LsValue
    id: Name | None = None
    from_name: Name = ""
    original_width: Side | None = None
    original_height: Side | None = None


class LsAnnotation(msgspec.Struct, gc=False):
    result: list[msgspec.Raw] = []
    was_cancelled: bool = False


class LsData(msgspec.Struct, gc=False):
    image: Annotated[str, Meta(max_length=10_000)]
    fashionseg_stem: Name | None = None


class LsTask(msgspec.Struct, gc=False):
    data: LsData
    id: Id | None = None
    annotations: list[LsAnnotation] = []


def read_labelstudio(data: bytes, where: str) -> tuple[list[tuple[str, LsTask]], list[Skipped]]:
    """An export's tasks (with where each is: ``task 12``), and the tasks left out.

    Raises:
        SchemaError: not JSON, or not a list.
    """
    raw = decode(data, list[msgspec.Raw], where)
    tasks, skipped = [], []
    for k, item in enumerate(raw):
        try:
            task = msgspec.json.decode(item, type=LsTask)
        except msgspec.ValidationError as e:
            skipped.append(Skipped(f"[{k}]", why(e, root="")))
            continue
        tasks.append((f"task {task.id if task.id is not None else f'[{k}]'}", task))
    return tasks, skipped


def read_results(raw: list[msgspec.Raw]) -> tuple[list[LsResult], list[Skipped]]:
    """An annotation's results, each checked on its own."""
    results, skipped = [], []
    for k, item in enumerate(raw):
        try:
            results.append(msgspec.json.decode(item, type=LsResult))
        except (msgspec.ValidationError, msgspec.DecodeError) as e:
            reason = why(e, root="") if isinstance(e, msgspec.ValidationError) else str(e)
            skipped.append(Skipped(f"result {k}", reason))
    return results, skipped


@dataclass
class CvatShape:
    """One shape of a CVAT image: a mask (box and runs) or a polygon (x, y pairs)."""

    kind: str
    label: str
    attributes: dict[str, str] = field(default_factory=dict)
    points: list[float] = field(default_factory=list)
    runs: list[int] = field(default_factory=list)
    box: tuple[int, int, int, int] = (0, 0, 0, 0)  # left, top, width, height


@dataclass
class CvatImage:
    name: str
    width: int
    height: int
    shapes: list[CvatShape] = field(default_factory=list)


_INT_SIDE = msgspec.json.Decoder(Side)
_RUN = msgspec.json.Decoder(RunLength)
_ID = msgspec.json.Decoder(Id)
_COORD = msgspec.json.Decoder(Coordinate)


def read_cvat(data: bytes, where: str) -> tuple[list[CvatImage], list[Skipped]]:
    """A CVAT for images 1.1 file's images with their masks and polygons (other shapes are
    named and left out).

    Raises:
        SchemaError: not XML, or not CVAT's ``<annotations>``.
    """
    try:
        root = ET.fromstring(data)
    except ET.ParseError as e:
        raise SchemaError(f"{where}: not valid XML ({e})") from None
    if root.tag != "annotations":
        raise SchemaError(f"{where}: the root element is <{root.tag}>, not CVAT's <annotations>")
    images, skipped = [], []
    for k, el in enumerate(root.iter("image")):
        try:
            image = CvatImage(
                el.attrib["name"], _int(el, "width", _INT_SIDE), _int(el, "height", _INT_SIDE)
            )
        except (KeyError, ValueError) as e:
            skipped.append(Skipped(f"image {el.attrib.get('name', k)}", _reason(e)))
            continue
        for s, shape in enumerate(el):
            try:
                image.shapes.append(_shape(shape))
            except (KeyError, ValueError) as e:
                skipped.append(Skipped(f"image {image.name}: <{shape.tag}> {s}", _reason(e)))
        images.append(image)
    return images, skipped


def _reason(e: Exception) -> str:
    return f"no {e} attribute" if isinstance(e, KeyError) else str(e)


def _int(el: ET.Element, key: str, decoder) -> int:
    try:
        return decoder.decode(el.attrib[key].strip().encode())
    except (msgspec.ValidationError, msgspec.DecodeError):
        raise ValueError(f"{key}={el.attrib[key][:40]!r} is not a size") from None


def _shape(el: ET.Element) -> CvatShape:
    if el.tag not in ("mask", "polygon"):
        raise ValueError(f"a {el.tag} is not a mask or polygon")
    shape = CvatShape(el.tag, el.attrib["label"])
    shape.attributes = {a.attrib.get("name", ""): (a.text or "") for a in el.iter("attribute")}
    if el.tag == "polygon":
        pairs = [p.split(",") for p in el.attrib["points"].split(";")]
        try:
            shape.points = [_COORD.decode(v.strip().encode()) for pair in pairs for v in pair]
        except (msgspec.ValidationError, msgspec.DecodeError):
            raise ValueError("points are not x,y pairs of numbers") from None
        if any(len(pair) != 2 for pair in pairs) or len(pairs) < 3:
            raise ValueError("points are not three or more x,y pairs")
        return shape
    try:
        shape.runs = [_RUN.decode(v.strip().encode()) for v in el.attrib["rle"].split(",")]
        left, top = (_ID.decode(el.attrib[k].strip().encode()) for k in ("left", "top"))
    except (msgspec.ValidationError, msgspec.DecodeError):
        raise ValueError("rle, left or top are not whole numbers") from None
    shape.box = (left, top, _int(el, "width", _INT_SIDE), _int(el, "height", _INT_SIDE))
    return shape
