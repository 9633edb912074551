"""Bounded types the schemas share: every number has a range, every string a length, so
nothing unbounded (NaN, 1e30, 10^400, a megabyte name) passes the door."""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

from fashionseg.data.rle import MAX_PIXELS

# Ids of images, annotations, categories, attributes: what a 64-bit integer holds.
Id = Annotated[int, Meta(ge=-(2**63), le=2**63 - 1)]
# A photo named by its id or by its file-name stem (as predict's results files do).
Key = Id | Annotated[str, Meta(max_length=1000)]
# A side of a photo; height x width is checked against MAX_PIXELS with the photo.
Side = Annotated[int, Meta(ge=1, le=MAX_PIXELS)]
Name = Annotated[str, Meta(max_length=1000)]
# Any finite number a sane file holds (also keeps NaN and the infinities out).
Finite = Annotated[float, Meta(ge=-1e15, le=1e15)]
NonNegative = Annotated[float, Meta(ge=0, le=1e15)]
Fraction = Annotated[float, Meta(ge=0, le=1)]
# Polygon coordinates: finite here, inside the photo (with a margin) in the checks.
Coordinate = Annotated[float, Meta(ge=-1e9, le=1e9)]
Polygon = Annotated[list[Coordinate], Meta(min_length=6)]
Box = Annotated[list[Finite], Meta(min_length=4, max_length=4)]
RunLength = Annotated[int, Meta(ge=0, le=MAX_PIXELS)]


class Rle(msgspec.Struct, gc=False):
    """COCO RLE: ``size`` [height, width] and ``counts``, compressed (a string) or a list."""

    size: Annotated[list[Side], Meta(min_length=2, max_length=2)]
    counts: Annotated[str, Meta(max_length=4 * MAX_PIXELS)] | list[RunLength]


# COCO's segmentation: polygons (a list of coordinate lists) or one RLE.
Segmentation = Annotated[list[Polygon], Meta(min_length=1)] | Rle
