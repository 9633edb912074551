"""The one record type every reader yields, and what readers share."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from fashionseg.data.categories import CategoryTable
from fashionseg.data.rle import parse_runs, runs_to_rle
from fashionseg.errors import DataFormatError

__all__ = ["DataFormatError", "Dataset", "Instance", "Record", "is_plain_name"]


class MaskSource(Protocol):
    """A mask a reader holds in another encoding than Kaggle's (picklable: it travels to the
    worker processes that need its pixels)."""

    def runs(self) -> tuple[np.ndarray, np.ndarray]:
        """The mask's runs: 0-indexed starts and exclusive ends, column-major, int64 (R,)."""
        ...


class Instance:
    """One annotated instance: its class, its mask as Kaggle RLE, its attribute ids.

    A reader that holds the mask in another encoding (COCO polygons or RLE) gives ``mask``
    instead of ``rle``: the string is made on first use, and what needs pixels takes
    :meth:`runs` straight from the source. Iterating a data set then costs its parse, and
    the conversion happens where the pixels are used (in ``prepare``'s workers).
    """

    __slots__ = ("class_id", "attributes", "_rle", "_mask")

    def __init__(
        self,
        class_id: int,
        rle: str | None = None,
        attributes: tuple[int, ...] = (),
        mask: MaskSource | None = None,
    ):
        if rle is None and mask is None:
            raise ValueError("an Instance needs rle or mask")
        self.class_id = class_id
        self.attributes = tuple(attributes)
        self._rle = rle
        self._mask = mask

    @property
    def rle(self) -> str:
        """The mask as a Kaggle RLE string."""
        if self._rle is None:
            self._rle = runs_to_rle(*self._mask.runs())
        return self._rle

    def runs(self, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
        """The mask's runs (0-indexed starts, exclusive ends), checked against the photo.

        Raises:
            RLEError: an RLE string that does not fit the photo.
        """
        if self._rle is None:
            return self._mask.runs()
        return parse_runs(self._rle, height, width)

    def _key(self) -> tuple:
        return self.class_id, self.rle, self.attributes

    def __eq__(self, other) -> bool:
        return isinstance(other, Instance) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"Instance(class_id={self.class_id}, rle={self.rle[:40]!r}, attributes={self.attributes})"

    def __reduce__(self):
        # The source travels as it is (a worker converts it), not as the string.
        return Instance, (self.class_id, self._rle, self.attributes, self._mask)


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
