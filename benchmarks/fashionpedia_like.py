"""Fashionpedia-shaped data of any size, cheap to draw: a COCO JSON
(``instances_attributes_*.json``: images, polygon or RLE annotations with attribute ids, the 46
categories and 294 attributes of the real file), the same annotations as a Kaggle CSV, and
photos of the annotated sizes.

    python -m benchmarks.fashionpedia_like OUT.json --images 10000 [--seed 0] [--rle 0.05]
    python -m benchmarks.fashionpedia_like OUT.json --images 1000 --kaggle DIR --photos DIR

The polygons are star-shaped outlines of 20-60 points around a random centre, as detailed as
Fashionpedia's hand-drawn ones (about 800 bytes of JSON per annotation); 7.3 instances per
photo on average (333k over 45.6k photos). Categories follow a long tail with the parts
(sleeve, neckline) and shoes far ahead, as in Fashionpedia; the real file's per-category
counts are not on this machine, so the tail is a power law (exponent 1.1), not a copy.
Photo sizes are Fashionpedia's spread (long side 400-2000 px, mostly portrait) on a grid of
28 sizes: each size is drawn and JPEG-encoded once and every photo of that size is a hard link
to it, so 45k photos cost seconds to lay out while each still decodes at its full size.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from fashionseg.data.categories import fashionpedia

INSTANCES_PER_PHOTO = 7.3
# The photo-size grid (long side, short/long), see the module's docstring.
LONG_SIDES = (400, 640, 800, 1024, 1280, 1600, 2000)
ASPECTS = (0.667, 0.75)


def polygon(rng: np.random.Generator, h: int, w: int) -> list[float]:
    """A star-shaped outline inside the photo, rounded to 2 decimals as Fashionpedia's are."""
    cy, cx = rng.uniform(0.2, 0.8) * h, rng.uniform(0.2, 0.8) * w
    radius = rng.uniform(0.03, 0.2) * min(h, w)
    n = int(rng.integers(20, 61))
    angles = np.sort(rng.uniform(0, 2 * np.pi, n))
    r = radius * rng.uniform(0.6, 1.0, n)
    xs = np.clip(cx + r * np.cos(angles), 0, w - 1)
    ys = np.clip(cy + r * np.sin(angles), 0, h - 1)
    return [round(float(v), 2) for v in np.column_stack([xs, ys]).ravel()]


def _rle(rng: np.random.Generator, h: int, w: int) -> dict:
    from pycocotools import mask as mask_utils

    rle = mask_utils.merge(mask_utils.frPyObjects([polygon(rng, h, w)], h, w))
    return {"size": [h, w], "counts": rle["counts"].decode("ascii")}


def coco_file(images: int, seed: int = 0, rle_share: float = 0.05) -> dict:
    """A Fashionpedia-shaped annotation dict of ``images`` photos."""
    rng = np.random.default_rng(seed)
    table = fashionpedia()
    k = len(table.categories)
    # A long tail like Fashionpedia's: the parts (sleeve, neckline) and shoes far ahead.
    weights = 1.0 / np.arange(1, k + 1) ** 1.1
    order = rng.permutation(k)
    weights = weights[np.argsort(order)]
    weights /= weights.sum()
    attribute_ids = np.array(sorted(table.attributes))
    out_images, annotations = [], []
    for i in range(images):
        long = int(rng.choice(LONG_SIDES))
        short = int(long * rng.choice(ASPECTS))
        h, w = (long, short) if rng.random() < 0.8 else (short, long)
        out_images.append(
            {"id": i + 1, "width": w, "height": h, "file_name": f"{i + 1:012d}.jpg",
             "license": 1, "time_captured": "unknown", "original_url": "", "isstatic": 1,
             "kaggle_id": f"{i:032x}"}
        )  # fmt: skip
        for _ in range(max(1, rng.poisson(INSTANCES_PER_PHOTO))):
            seg = _rle(rng, h, w) if rng.random() < rle_share else [polygon(rng, h, w)]
            n_attr = int(rng.integers(0, 4))
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": i + 1,
                    "category_id": int(rng.choice(k, p=weights)),
                    "segmentation": seg,
                    "area": float(rng.uniform(100, 0.2 * h * w)),
                    "iscrowd": 0,
                    "bbox": [float(v) for v in rng.uniform(0, min(h, w) / 2, 4)],
                    "attribute_ids": sorted(
                        int(a) for a in rng.choice(attribute_ids, n_attr, replace=False)
                    ),
                }
            )
    return {
        "info": {"description": "Fashionpedia-shaped data drawn by fashionseg's benchmarks"},
        "images": out_images,
        "annotations": annotations,
        "categories": [
            {"id": c.id, "name": c.name, "supercategory": c.supercategory, "level": 2}
            for c in table.categories
        ],
        "attributes": [
            {"id": a, "name": n, "supercategory": "", "level": 1}
            for a, n in sorted(table.attributes.items())
        ],
        "licenses": [{"id": 1, "name": "drawn", "url": ""}],
    }


def write(path: str | Path, images: int, seed: int = 0, rle_share: float = 0.05) -> Path:
    """Draw and write a Fashionpedia-shaped JSON; returns its path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(coco_file(images, seed, rle_share)))
    return path


def write_kaggle(folder: str | Path, coco: dict) -> Path:
    """The same annotations in the Kaggle layout (``train.csv``, ImageId = the file's stem),
    each mask converted from its COCO runs as fashionseg's COCO reader converts it."""
    import csv

    from fashionseg.data.coco import CocoMask
    from fashionseg.data.rle import runs_to_rle
    from fashionseg.data.schema.types import Rle

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    sizes = {img["id"]: (img["height"], img["width"], img["file_name"]) for img in coco["images"]}
    with open(folder / "train.csv", "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["ImageId", "EncodedPixels", "Height", "Width", "ClassId", "AttributesIds"])
        for ann in coco["annotations"]:  # drawn photo by photo: rows stay grouped
            h, w, name = sizes[ann["image_id"]]
            seg = ann["segmentation"]
            seg = Rle(seg["size"], seg["counts"]) if isinstance(seg, dict) else seg
            rle = runs_to_rle(*CocoMask(seg, h, w).runs())
            attrs = ",".join(map(str, ann["attribute_ids"]))
            out.writerow([Path(name).stem, rle, h, w, ann["category_id"], attrs])
    return folder / "train.csv"


def _photo(h: int, w: int, seed: int):
    """A photo-like picture: smooth shading with texture, so JPEG decodes at a real cost."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([(x * 0.3 + y * 0.1) % 256, (y * 0.2) % 256, (x * 0.1 + 90) % 256], -1)
    noise = rng.normal(0, 18, (h // 8 + 1, w // 8 + 1, 3)).repeat(8, 0).repeat(8, 1)[:h, :w]
    return Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8))


def write_photos(folder: str | Path, coco: dict) -> Path:
    """Every photo of ``coco`` under ``folder`` by its ``file_name``: one JPEG per size, hard
    links for the rest (a copy where the disk cannot link)."""
    import os
    import shutil

    folder = Path(folder)
    drawn = folder.parent / f".{folder.name}-sizes"
    folder.mkdir(parents=True, exist_ok=True)
    drawn.mkdir(exist_ok=True)
    for img in coco["images"]:
        h, w = img["height"], img["width"]
        source = drawn / f"{h}x{w}.jpg"
        if not source.exists():
            _photo(h, w, h * 7 + w).save(source, quality=90)
        target = folder / img["file_name"]
        if not target.exists():
            try:
                os.link(source, target)
            except OSError:
                shutil.copyfile(source, target)
    return folder


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out")
    p.add_argument("--images", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--rle", type=float, default=0.05, help="share of annotations as RLE")
    p.add_argument("--kaggle", help="also write the Kaggle layout's train.csv into this folder")
    p.add_argument("--photos", help="also lay out the photos in this folder")
    args = p.parse_args(argv)
    coco = coco_file(args.images, args.seed, args.rle)
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(coco))
    print(f"{path}: {path.stat().st_size / 2**20:.1f} MB")
    if args.kaggle:
        print(f"{write_kaggle(args.kaggle, coco)}")
    if args.photos:
        print(f"{write_photos(args.photos, coco)}: {args.images} photos")


if __name__ == "__main__":
    main()
