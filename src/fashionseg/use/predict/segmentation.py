"""One photo's result: its label map and everything predict, serve and the Python API make of
it (the garment list, the JSON document, the overlay, the cut-outs).

``predict`` writes these objects' products to files, ``serve`` answers with them, and
:class:`~fashionseg.use.predict.segmenter.Segmenter` hands them to Python users: one path from
a label map to its outputs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from functools import cached_property

import numpy as np
from PIL import Image

from fashionseg.data.groups import GROUP_NAMES
from fashionseg.errors import UsageError
from fashionseg.inference.instances import Detection
from fashionseg.inference.predictor import Predictor
from fashionseg.use.predict.garments import summarize
from fashionseg.use.predict.instances import instance_entries
from fashionseg.use.predict.options import PredictOptions
from fashionseg.use.predict.products import (
    cutout,
    cutout_name,
    keep_only,
    parse_only,
    to_groups,
)
from fashionseg.use.render.colors import overlay, overlay_with_legend
from fashionseg.use.render.outlines import outline_instances


def instance_cutout_name(name: str, k: int) -> str:
    """The cut-out name of the k-th instance (0-based, by score): ``shoe-2``."""
    return f"{cutout_name(name)}-{k + 1}"


@dataclass(frozen=True)
class Color:
    """A garment's dominant colour: a plain name, the mean colour of the pixels so named (hex)
    and their share of the garment."""

    name: str
    hex: str
    share: float


@dataclass(frozen=True)
class Garment:
    """One garment of a photo, with the fields of predict's JSON.

    ``bbox`` is ``(x0, y0, x1, y1)`` in pixels (inclusive-exclusive); ``area_fraction`` the
    garment's share of all the photo's pixels; ``rle`` its mask in Kaggle's run-length code.
    """

    class_id: int
    name: str
    area_fraction: float
    bbox: tuple[int, int, int, int]
    color: Color
    swatch: str
    rle: str = field(repr=False)

    def to_dict(self) -> dict:
        """The garment as predict's JSON writes it."""
        d = asdict(self)
        d["bbox"] = list(self.bbox)
        return d


@dataclass(frozen=True)
class Products:
    """What is made of each label map besides the plain outputs."""

    only: frozenset[int] | None = None  # label values to keep (the rest become background)
    groups: bool = False  # body-region groups instead of categories
    cutouts: bool = False  # predict writes one RGBA cut-out per garment (per instance)
    feather: float = 0.0  # soft cut-out edge, pixels
    instances: bool = False  # list instances (a semantic model's connected components)

    @classmethod
    def of(cls, options: PredictOptions, predictor: Predictor) -> Products:
        """What a run with ``options`` makes of each label map of ``predictor``'s: ``only``
        resolved against its categories (or the groups), instances where asked for or where
        the model lists them (an instance model).

        Raises:
            UsageError: an unknown garment in ``only``; instances with groups.
        """
        names = GROUP_NAMES if options.groups else predictor.categories.names()
        only = frozenset(parse_only(options.only, names)) if options.only else None
        instances = options.instances or predictor.lists_instances
        if options.groups and instances:
            raise UsageError("instances are of categories: leave out --groups")
        return cls(only, options.groups, options.cutouts, options.feather, instances)


class Segmentation:
    """A segmented photo.

    Args:
        photo: the photo, RGB.
        label_map: (H, W) uint8 at the photo's size: ClassId + 1, 0 = background (the encoding
            of predict's PNG); with groups, values index the group names.
        names: label value -> name (background first).
        model: the model's name, as predict's JSON gives it.
        path: where the photo came from (its path, or a name for an in-memory photo).
        detections: the photo's instances (None: instances not asked for).
        attribute_names: attribute id -> name, for the instances' attributes.
    """

    def __init__(
        self,
        photo: Image.Image,
        label_map: np.ndarray,
        names: list[str],
        model: str,
        path: str,
        detections: list[Detection] | None = None,
        attribute_names: dict[int, str] | None = None,
    ):
        if label_map.shape != (photo.height, photo.width):
            raise ValueError(
                f"label map {label_map.shape} and photo {(photo.height, photo.width)} differ"
            )
        self.photo = photo
        self.label_map = label_map
        self.names = names
        self.model = model
        self.path = path
        self.detections = detections
        self.attribute_names = attribute_names or {}

    @classmethod
    def of(
        cls,
        photo: Image.Image,
        labels: np.ndarray,
        names: list[str],
        model: str,
        path: str,
        products: Products = Products(),
        detections: list[Detection] | None = None,
        attribute_names: dict[int, str] | None = None,
    ) -> Segmentation:
        """The segmentation of a model's label map (and instances) with ``products``' groups
        and ``only`` applied (``names``: the model's categories)."""
        if products.groups:
            labels, names = to_groups(labels, names), GROUP_NAMES
        if products.only is not None:
            labels = keep_only(labels, set(products.only))
            if detections is not None:
                detections = [d for d in detections if d.class_id + 1 in products.only]
        return cls(photo, labels, names, model, path, detections, attribute_names)

    @classmethod
    def from_model(
        cls,
        predictor: Predictor,
        photo: Image.Image,
        output,
        path: str,
        products: Products = Products(),
        labels: np.ndarray | None = None,
    ) -> Segmentation:
        """One photo's segmentation from a model's output for its canvas (``labels``: its
        label map when already made): the step predict, the Python API and serve share."""
        result = predictor.result(output, photo.height, photo.width, products.instances, labels)
        return cls.of(
            photo, result.labels, predictor.categories.names(), predictor.name, path, products,
            result.detections, predictor.categories.attributes,
        )  # fmt: skip

    @cached_property
    def _summary(self) -> list[dict]:
        return summarize(np.asarray(self.photo), self.label_map, self.names)

    @property
    def garments(self) -> list[Garment]:
        """The garments present, largest first."""
        return [
            Garment(**dict(g, bbox=tuple(g["bbox"]), color=Color(**g["color"])))
            for g in self._summary
        ]

    @cached_property
    def instances(self) -> list[dict] | None:
        """The instances as predict's JSON lists them (``use/predict/instances.py``), best
        score first; None when instances were not asked for."""
        if self.detections is None:
            return None
        rgb = np.asarray(self.photo)
        return instance_entries(rgb, self.detections, self.names, self.attribute_names)

    def to_json(self) -> dict:
        """predict's JSON document: ``image`` (path, width, height), ``model``, ``garments``
        (and ``instances`` when asked for)."""
        doc = {
            "image": {"path": self.path, "width": self.photo.width, "height": self.photo.height},
            "model": self.model,
            "garments": [dict(g) for g in self._summary],
        }
        if self.instances is not None:
            doc["instances"] = [dict(i) for i in self.instances]
        return doc

    def mask(self, garment: str | int) -> np.ndarray:
        """One garment's mask (H, W) bool, by name or ClassId."""
        value = garment + 1 if isinstance(garment, int) else self.names.index(garment)
        return self.label_map == value

    def overlay(self, legend: bool = True) -> Image.Image:
        """The photo with its garments painted over it (and a legend, as predict writes it)."""
        rgb = np.asarray(self.photo)
        if legend:
            image = overlay_with_legend(rgb, self.label_map, self.names)
        else:
            image = Image.fromarray(overlay(rgb, self.label_map, len(self.names)))
        if self.detections:
            box = (0, 0, self.photo.width, self.photo.height)
            image.paste(outline_instances(image.crop(box), self.detections, self.names), box)
        return image

    def cutouts(self, feather: float = 0.0) -> dict[str, Image.Image]:
        """One RGBA image per garment, cropped to it (file-name-safe name -> image); with
        instances, one per instance (``<name>-<k>``, k counting from 1 by score)."""
        rgb = np.asarray(self.photo)
        if self.detections is not None:
            return {
                instance_cutout_name(self.names[d.class_id + 1], k): cutout(rgb, d.mask, feather)
                for k, d in enumerate(self.detections)
            }
        return {
            cutout_name(g["name"]): cutout(rgb, self.label_map == g["class_id"] + 1, feather)
            for g in self._summary
        }

    def __repr__(self) -> str:
        listed = ", ".join(f"{g['name']} {100 * g['area_fraction']:.1f}%" for g in self._summary)
        return f"<Segmentation {self.path} {self.photo.width}x{self.photo.height}: {listed}>"
