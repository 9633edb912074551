"""One photo's files: the label map PNG, the overlay JPEG, the garment JSON and cut-outs."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

from fashionseg.files import atomic_write
from fashionseg.use.predict.products import cutout_name
from fashionseg.use.predict.segmentation import Products, Segmentation, instance_cutout_name

# The files each photo gets in the output folder: suffix after its stem, and what it is (the
# output plan declares them; write_photo writes them).
PHOTO_FILES = (
    (".png", "the label map"),
    ("_overlay.jpg", "the overlay"),
    (".json", "the prediction"),
)


def inside(out: Path, path: Path) -> Path:
    """``path`` if it lies inside the output folder ``out``; otherwise a ValueError (the photo
    is reported and skipped): no name, whatever a photo or a model calls things, leaves it."""
    if out.resolve() not in path.resolve().parents:
        raise ValueError(f"output name {path.name!r} would leave {out}")
    return path


def write_photo(out: Path, stem: str, seg: Segmentation, products: Products) -> dict:
    """Write one photo's files as ``<stem>.*`` in ``out``; returns its JSON document."""
    doc = seg.to_json()
    inside(out, out / stem)
    # With instances, one cut-out per instance; otherwise one per garment.
    listed = doc.get("instances", doc["garments"])
    if products.cutouts and listed:
        (out / stem).mkdir(exist_ok=True)
        images = seg.cutouts(products.feather)
        for k, g in enumerate(listed):
            key = (
                instance_cutout_name(g["name"], k) if "instances" in doc else cutout_name(g["name"])
            )
            name = f"{stem}/{key}.png"
            images[key].save(inside(out, out / name), format="PNG")
            g["cutout"] = name
    Image.fromarray(seg.label_map).save(
        out / f"{stem}.png", format="PNG", optimize=False, compress_level=1
    )
    seg.overlay().save(out / f"{stem}_overlay.jpg", format="JPEG", quality=88)
    # The JSON is written last and renamed into place: it marks a photo as done.
    atomic_write(out / f"{stem}.json", json.dumps(doc, indent=1))
    return doc
