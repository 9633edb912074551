"""Decoding outside JSON against a schema: a whole document, or its items one by one.

A document that does not fit is one :class:`SchemaError` naming the file and the JSON path of
the first problem (``at $.annotations[12].segmentation: Expected `array`, got `str```). Where a
command skips bad items, :func:`decode_items` decodes the well-formed file in one pass and,
only when that fails, item by item, returning the good items and a :class:`Skipped` per bad
one.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from fashionseg.data.coco_rle import checked_counts
from fashionseg.data.rle import MAX_PIXELS, RLEError
from fashionseg.data.schema.types import Rle
from fashionseg.errors import DataFormatError


class SchemaError(DataFormatError):
    """An outside file, or one of its items, that does not fit its schema."""


@dataclass(frozen=True)
class Skipped:
    """One item left out: where it is (``annotations[12]``, ``item3``), why, and the item as
    it was read (so a reader can still tell which photo it belonged to)."""

    item: str
    reason: str
    raw: Any = field(default=None, compare=False, repr=False)

    def field(self, name: str) -> Any:
        """A field of the raw item when it was an object (None otherwise)."""
        return self.raw.get(name) if isinstance(self.raw, dict) else None

    def __str__(self) -> str:
        return f"{self.item}: {self.reason}"


# Skipped items named one per line before the rest are counted.
REPORTED = 10


def report_skipped(skipped: list[Skipped], where: str) -> None:
    """Name skipped items on stderr, one line each (the first :data:`REPORTED`, then a count)."""
    for s in skipped[:REPORTED]:
        print(f"{where}: {s}; skipped", file=sys.stderr)
    if len(skipped) > REPORTED:
        print(f"{where}: {len(skipped) - REPORTED} more items skipped", file=sys.stderr)


def read_bytes(path: str | Path) -> bytes:
    """A file's bytes (OSError names the file)."""
    return Path(path).read_bytes()


def why(error: msgspec.ValidationError, root: str = "$") -> str:
    """msgspec's ``Expected X - at `$.a[1]``` as ``$.a[1]: expected X``; with ``root=""``
    the path is relative to the item (``a[1]: expected X``)."""
    reason, _, where = str(error).partition(" - at ")
    reason = reason[:1].lower() + reason[1:]
    path = where.strip("`")
    if root != "$":
        path = root + path[1:].lstrip(".")
    return f"{path}: {reason}" if path else reason


def decode(data: bytes, kind: Any, where: str) -> Any:
    """A whole document as ``kind``.

    Raises:
        SchemaError: not JSON, or the first place where it does not fit, as one line.
    """
    try:
        return msgspec.json.decode(data, type=kind)
    except msgspec.ValidationError as e:
        raise SchemaError(f"{where}: {why(e)}") from None
    except msgspec.DecodeError as e:
        raise SchemaError(f"{where}: not valid JSON ({_short(e)})") from None


def _short(error: Exception) -> str:
    text = str(error).replace("JSON is malformed: ", "")
    return text[:120]


def decode_items(
    data: bytes, kind: Any, lists: dict[str, Any], where: str
) -> tuple[Any, list[Skipped]]:
    """A document whose ``lists`` (field name -> item type) may hold bad items.

    The strict decode of ``kind`` is tried first (one pass, the common case). When it fails,
    the file is read as plain JSON (which also lets NaN and Infinity through, to be named
    here) and each item of each list is converted on its own; bad items are left out and
    returned as :class:`Skipped`.

    Raises:
        SchemaError: not JSON, or wrong outside the lists (the top level, a list that is not
            a list).
    """
    try:
        return msgspec.json.decode(data, type=kind), []
    except msgspec.ValidationError:
        pass
    except msgspec.DecodeError:
        pass
    try:
        raw = json.loads(data)
    except (ValueError, RecursionError) as e:
        raise SchemaError(f"{where}: not valid JSON ({str(e)[:120]})") from None
    if not isinstance(raw, dict):
        raise SchemaError(f"{where}: the top level is a JSON {type(raw).__name__}, not an object")
    skipped: list[Skipped] = []
    good: dict[str, list] = {}
    for name, item_kind in lists.items():
        items = raw.get(name, [])
        if not isinstance(items, list):
            raise SchemaError(f"{where}: {name!r} is a {type(items).__name__}, not a list")
        # A bad item stays as None, so the good ones keep their indices for messages.
        good[name] = []
        for k, item in enumerate(items):
            try:
                good[name].append(msgspec.convert(item, item_kind))
            except msgspec.ValidationError as e:
                good[name].append(None)
                skipped.append(Skipped(f"{name}[{k}]", why(e, root=""), item))
    # The rest of the document is checked with its lists empty, then given the good items.
    try:
        doc = msgspec.convert({k: ([] if k in lists else v) for k, v in raw.items()}, kind)
    except msgspec.ValidationError as e:
        raise SchemaError(f"{where}: {why(e)}") from None
    for name, items in good.items():
        setattr(doc, name, items)
    return doc, skipped


# Polygons may reach this far past the photo's edges (a share of its side): exports draw a
# little outside; far outside would only make pycocotools rasterise a huge outline.
MARGIN = 1.0


def segmentation_problem(
    seg: list | Rle, height: int, width: int, covered: int | None = None
) -> str | None:
    """Why a decoded COCO segmentation cannot be a mask of a ``height`` x ``width`` photo
    (None when it can): polygons of x, y pairs inside the photo (with :data:`MARGIN`), or an
    RLE of the photo's size whose counts cover exactly its pixels (``covered``: the pixels an
    RLE's counts were already summed to by ``coco_rle.counts_sums``; -1 for a bad string)."""
    if height * width > MAX_PIXELS:
        return f"the photo's size {height}x{width} is too large"
    if isinstance(seg, Rle):
        if list(seg.size) != [height, width]:
            return f"RLE size {list(seg.size)} is not the photo's [{height}, {width}]"
        if covered == height * width:
            return None
        try:  # decoded again for the message
            checked_counts(seg.counts, height, width)
        except RLEError as e:
            return str(e)
        return None
    for polygon in seg:
        if len(polygon) % 2:
            return f"a polygon of {len(polygon)} numbers (x, y pairs need an even count)"
        xs, ys = polygon[0::2], polygon[1::2]
        # Builtin min/max over the slices: five times faster than NumPy on lists this short.
        low, high = (min(xs), min(ys)), (max(xs), max(ys))
        if (
            low[0] < -MARGIN * width
            or low[1] < -MARGIN * height
            or high[0] > (1 + MARGIN) * width
            or high[1] > (1 + MARGIN) * height
        ):
            return (
                f"a polygon reaches from ({_num(low)}) to ({_num(high)}), far outside the "
                f"{width}x{height} photo"
            )
    return None


def _num(xy: tuple[float, float]) -> str:
    return ", ".join(f"{v:.4g}" if math.isfinite(v) else str(v) for v in xy)
