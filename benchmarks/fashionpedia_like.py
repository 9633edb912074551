"""Fashionpedia-shaped annotation files of any size, cheap to draw: a COCO JSON
(``instances_attributes_*.json``: images, polygon or RLE annotations with attribute ids, the 46
categories and 294 attributes of the real file) for the readers, the scorer and the schema.

    python -m benchmarks.fashionpedia_like OUT.json --images 10000 [--seed 0] [--rle 0.05]

Photos are not drawn here: the annotation side alone is what the readers parse. The polygons
are star-shaped outlines of 20-60 points around a random centre, as detailed as Fashionpedia's
hand-drawn ones (about 800 bytes of JSON per annotation); 7.3 instances per photo on average
(333k over 45.6k photos); photo sizes spread as Fashionpedia's (long side 400-2000 px).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from fashionseg.data.categories import fashionpedia

INSTANCES_PER_PHOTO = 7.3


def _polygon(rng: np.random.Generator, h: int, w: int) -> list[float]:
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

    rle = mask_utils.merge(mask_utils.frPyObjects([_polygon(rng, h, w)], h, w))
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
        long = int(rng.integers(400, 2001))
        short = int(long * rng.uniform(0.55, 0.8))
        h, w = (long, short) if rng.random() < 0.8 else (short, long)
        out_images.append(
            {"id": i + 1, "width": w, "height": h, "file_name": f"{i + 1:012d}.jpg",
             "license": 1, "time_captured": "unknown", "original_url": "", "isstatic": 1,
             "kaggle_id": f"{i:032x}"}
        )  # fmt: skip
        for _ in range(max(1, rng.poisson(INSTANCES_PER_PHOTO))):
            seg = _rle(rng, h, w) if rng.random() < rle_share else [_polygon(rng, h, w)]
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


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out")
    p.add_argument("--images", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--rle", type=float, default=0.05, help="share of annotations as RLE")
    args = p.parse_args(argv)
    path = write(args.out, args.images, args.seed, args.rle)
    print(f"{path}: {path.stat().st_size / 2**20:.1f} MB")


if __name__ == "__main__":
    main()
