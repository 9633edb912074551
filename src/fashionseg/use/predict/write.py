"""One photo's outputs: the label map PNG, the overlay JPEG, the garment JSON and cut-outs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from fashionseg.data.groups import GROUP_NAMES
from fashionseg.files import atomic_write
from fashionseg.use.predict.garments import summarize
from fashionseg.use.predict.products import cutout, cutout_name, keep_only, to_groups
from fashionseg.use.render.colors import overlay_with_legend


def describe(
    predictor,
    photo: Image.Image,
    labels: np.ndarray,
    path: str,
    with_rle=True,
    names: list[str] | None = None,
) -> dict:
    """The JSON document of one photo: image, model and garments (``names``: label value ->
    name, the model's categories unless the label map holds groups)."""
    names = names or predictor.categories.names()
    return {
        "image": {"path": path, "width": photo.width, "height": photo.height},
        "model": predictor.name,
        "garments": summarize(np.asarray(photo), labels, names, with_rle=with_rle),
    }


@dataclass
class Products:
    """What ``predict`` makes of each label map besides the plain outputs."""

    only: set[int] | None = None  # label values to keep (the rest become background)
    groups: bool = False  # body-region groups instead of categories
    cutouts: bool = False  # one RGBA cut-out per garment
    feather: float = 0.0  # soft cut-out edge, pixels


def inside(out: Path, path: Path) -> Path:
    """``path`` if it lies inside the output folder ``out``; otherwise a ValueError (the photo
    is reported and skipped): no name, whatever a photo or a model calls things, leaves it."""
    if out.resolve() not in path.resolve().parents:
        raise ValueError(f"output name {path.name!r} would leave {out}")
    return path


def write_photo(
    predictor,
    out: Path,
    stem: str,
    photo: Image.Image,
    labels,
    path: str,
    products: Products,
):
    """Summarise one photo and write its files; returns the JSON document."""
    names = predictor.categories.names()
    if products.groups:
        labels, names = to_groups(labels, names), GROUP_NAMES
    if products.only is not None:
        labels = keep_only(labels, products.only)
    doc = describe(predictor, photo, labels, path, names=names)
    rgb = np.asarray(photo)
    inside(out, out / stem)
    if products.cutouts and doc["garments"]:
        (out / stem).mkdir(exist_ok=True)
        for g in doc["garments"]:
            name = f"{stem}/{cutout_name(g['name'])}.png"
            cutout(rgb, labels == g["class_id"] + 1, products.feather).save(
                inside(out, out / name), format="PNG"
            )
            g["cutout"] = name
    Image.fromarray(labels).save(
        out / f"{stem}.png", format="PNG", optimize=False, compress_level=1
    )
    overlay_with_legend(rgb, labels, names).save(
        out / f"{stem}_overlay.jpg", format="JPEG", quality=88
    )
    # The JSON is written last and renamed into place: it marks a photo as done.
    atomic_write(out / f"{stem}.json", json.dumps(doc, indent=1))
    return doc
