"""The one record type every reader yields, and what readers share."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from fashionseg.data.categories import CategoryTable
from fashionseg.errors import DataFormatError

__all__ = ["DataFormatError", "Dataset", "Instance", "Record", "is_plain_name"]


@dataclass(frozen=True)
class Instance:
    class_id: int
    rle: str
    attributes: tuple[int, ...] = ()


@dataclass
class Record:
    """One annotated image.

    ``error`` is set when the annotation rows themselves are unusable; consumers skip such a
    record and report the reason with its ``image_id``.
    """

    image_id: str
    path: Path
    height: int
    width: int
    instances: list[Instance] = field(default_factory=list)
    error: str | None = None


# File names longer than this fail on common file systems (255 bytes) once an extension or a
# suffix is added.
MAX_NAME = 200


def is_plain_name(name: str) -> bool:
    """True for a bare file name that cannot reach outside its folder."""
    return (
        bool(name)
        and len(name) <= MAX_NAME
        and name not in (".", "..")
        and not any(c in name for c in "/\\\0:")
    )


class Dataset:
    """Base class: a category table plus a stream of records."""

    layout = "?"

    def __init__(self, root: Path, categories: CategoryTable):
        self.root = root
        self.categories = categories

    def __iter__(self) -> Iterator[Record]:
        raise NotImplementedError

    def __len__(self) -> int:
        raise NotImplementedError

    def image_ids(self) -> list[str]:
        """The records' ImageIds in order, without decoding their masks."""
        raise NotImplementedError
