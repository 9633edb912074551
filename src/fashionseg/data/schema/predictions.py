"""predict's JSON document of one photo, as ``analyze`` (and ``predict --skip-existing``)
read it back: a folder of predictions is outside data too (edited, copied, mixed with other
files), so each file passes this schema or is named and skipped."""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

from fashionseg.data.schema.door import SchemaError, decode
from fashionseg.data.schema.types import Finite, Fraction, Name, Side

ClassId = Annotated[int, Meta(ge=0, le=253)]
Hex = Annotated[str, Meta(max_length=16)]


class Colour(msgspec.Struct, gc=False):
    name: Name | None = None
    hex: Hex | None = None


class Attribute(msgspec.Struct, gc=False):
    name: Name
    id: int | None = None
    score: Finite | None = None


class Garment(msgspec.Struct, gc=False):
    class_id: ClassId
    name: Name
    area_fraction: Fraction
    bbox: Annotated[list[Finite], Meta(min_length=4, max_length=4)] | None = None
    color: Colour | None = None
    rle: str | None = None


class Instance(msgspec.Struct, gc=False):
    class_id: ClassId
    name: Name
    score: Finite = 0.0
    attributes: list[Attribute] = []
    bbox: Annotated[list[Finite], Meta(min_length=4, max_length=4)] | None = None
    rle: str | None = None


class PhotoInfo(msgspec.Struct, gc=False):
    path: Name
    width: Side
    height: Side


class Prediction(msgspec.Struct, gc=False):
    image: PhotoInfo
    garments: list[Garment]
    model: Name | None = None
    instances: list[Instance] | None = None


def read_prediction(data: bytes, where: str, complete: bool = False) -> dict:
    """One prediction document checked against :class:`Prediction`, returned whole as a
    plain dict (the sinks of ``--skip-existing`` also want its masks); a null ``instances``
    is dropped.

    Args:
        complete: also require what predict's sinks read back (each garment's and instance's
            ``bbox`` and ``rle``, each attribute's ``id``), as predict writes them.

    Raises:
        SchemaError: not JSON, or not a prediction document, naming where.
    """
    checked = decode(data, Prediction, where)
    if complete:
        for kind, items in (("garments", checked.garments), ("instances", checked.instances)):
            for k, item in enumerate(items or []):
                if item.bbox is None or item.rle is None:
                    raise SchemaError(f"{where}: {kind}[{k}] has no bbox or rle")
                if any(a.id is None for a in getattr(item, "attributes", [])):
                    raise SchemaError(f"{where}: {kind}[{k}] has an attribute without an id")
    doc = msgspec.json.decode(data)
    if checked.instances is None:
        doc.pop("instances", None)
    return doc


__all__ = ["Prediction", "SchemaError", "read_prediction"]
