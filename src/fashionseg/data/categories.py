"""The category table: names, groups and display colours.

The 46 Fashionpedia categories ship with the package (``label_descriptions.json`` of
iMaterialist (Fashion) 2020, Fashionpedia annotations, CC BY 4.0). Ids 0-26 are whole
garments; 27-45 are garment parts, closures and decorations.
"""

from __future__ import annotations

import colorsys
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from fashionseg.errors import DataFormatError

# Label maps store ClassId + 1 (0 is background); IGNORE marks pixels no loss or metric sees.
IGNORE = 255
# Label maps are 8-bit: values 1..254 name categories, so a table holds at most 254.
MAX_CATEGORIES = IGNORE - 1
# Kaggle ids 0-26 are the whole garments kept by ``--classes garments``.
NUM_GARMENTS = 27


@dataclass(frozen=True)
class Category:
    id: int
    name: str
    supercategory: str = ""
    level: int = 0


@dataclass
class CategoryTable:
    """Categories and attributes of a data set; class ids are 0-based and dense."""

    categories: list[Category]
    attributes: dict[int, str] = field(default_factory=dict)

    def __post_init__(self):
        if len(self.categories) > MAX_CATEGORIES:
            raise DataFormatError(
                f"{len(self.categories)} categories: label maps hold at most {MAX_CATEGORIES} "
                f"(8-bit values, {IGNORE} marks ignored pixels)"
            )

    @property
    def num_classes(self) -> int:
        """Number of label-map values including background."""
        return len(self.categories) + 1

    def names(self) -> list[str]:
        """Label-map value -> name, background first."""
        return ["background"] + [c.name for c in self.categories]

    def ids(self) -> set[int]:
        return {c.id for c in self.categories}

    def to_json(self) -> dict:
        return {
            "categories": [c.__dict__ for c in self.categories],
            "attributes": [{"id": k, "name": v} for k, v in sorted(self.attributes.items())],
        }

    @classmethod
    def from_json(cls, data: dict) -> CategoryTable:
        """The table of a ``label_descriptions.json``-style dict.

        Raises:
            ValueError: a missing key, an entry of the wrong type, or ids with gaps; the
                message names the entry.
        """
        if not isinstance(data, dict) or not isinstance(data.get("categories"), list):
            raise ValueError("expected an object with a list of categories")
        cats = [_category(k, c) for k, c in enumerate(data["categories"])]
        cats.sort(key=lambda c: c.id)
        if [c.id for c in cats] != list(range(len(cats))):
            raise ValueError("category ids must be 0..K-1 without gaps")
        attributes = data.get("attributes") or []
        if not isinstance(attributes, list):
            raise ValueError("attributes must be a list")
        attrs = {}
        for k, a in enumerate(attributes):
            try:
                attrs[int(a["id"])] = str(a["name"])
            except (KeyError, TypeError, ValueError):
                raise ValueError(f"attribute {k} needs an integer id and a name") from None
        return cls(cats, attrs)

    @classmethod
    def load(cls, path: str | Path) -> CategoryTable:
        """Read a ``label_descriptions.json``.

        Raises:
            DataFormatError: not UTF-8, not JSON, or not a category table; naming the file.
        """
        try:
            with open(path, encoding="utf-8") as f:
                return cls.from_json(json.load(f))
        except UnicodeDecodeError as e:
            raise DataFormatError(f"{path}: not UTF-8 text (byte {e.start})") from None
        except json.JSONDecodeError as e:
            raise DataFormatError(f"{path}: not valid JSON ({e.msg} at line {e.lineno})") from None
        except ValueError as e:
            raise DataFormatError(f"{path}: not a category table ({e})") from None

    def garments_only(self) -> CategoryTable:
        """The table restricted to whole garments (ids 0-26)."""
        return CategoryTable([c for c in self.categories if c.id < NUM_GARMENTS], self.attributes)


def _category(k: int, entry) -> Category:
    try:
        return Category(
            int(entry["id"]),
            str(entry["name"]),
            str(entry.get("supercategory", "")),
            int(entry.get("level", 0)),
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        raise ValueError(f"category {k} needs an integer id and a name") from None


def fashionpedia() -> CategoryTable:
    """The 46 categories and 294 attributes of Fashionpedia / iMaterialist 2020."""
    text = resources.files("fashionseg.data").joinpath("label_descriptions.json").read_text()
    return CategoryTable.from_json(json.loads(text))


def palette(num_classes: int) -> list[tuple[int, int, int]]:
    """Distinct RGB colours, one per label-map value; background is black.

    Hues walk the golden angle so neighbouring ids get far-apart colours.
    """
    colours = [(0, 0, 0)]
    for i in range(1, num_classes):
        hue = (i * 0.618033988749895) % 1.0
        light = 0.45 + 0.15 * ((i // 3) % 2)
        r, g, b = colorsys.hls_to_rgb(hue, light, 0.85)
        colours.append((int(r * 255), int(g * 255), int(b * 255)))
    return colours
