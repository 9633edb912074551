"""``fashionseg synth``: a synthetic data set in the Kaggle layout, written in parallel and
deterministic per seed (the same seed gives the same files with any number of workers)."""

from __future__ import annotations

import csv
import functools
import json
import multiprocessing as mp
from pathlib import Path

from tqdm import tqdm

from fashionseg.data.categories import fashionpedia
from fashionseg.machine import available_cores
from fashionseg.sizes import parse_size
from fashionseg.synth.painter import draw_example


def _write_one(
    index: int, seed: int, width: int, height: int, names, attr_ids, out: Path, quality: int
):
    image_id = f"{index:012d}"
    photo, instances = draw_example(index, seed, width, height, names, attr_ids)
    photo.save(out / "train" / f"{image_id}.jpg", quality=quality)
    return image_id, instances


def synth(
    out: str | Path,
    images: int = 100,
    size: str = "256x384",
    seed: int = 0,
    workers: int | None = None,
    quality: int = 90,
) -> Path:
    """Write a synthetic data set in the Kaggle layout.

    Args:
        out: output folder; gets ``train/``, ``train.csv`` and ``label_descriptions.json``.
        images: number of photos.
        size: ``WxH`` (or N for square).
        seed: the same seed gives the same files.
        workers: processes (default: all cores).
        quality: JPEG quality.

    Returns:
        The output folder.
    """
    height, width = parse_size(size)
    out = Path(out)
    (out / "train").mkdir(parents=True, exist_ok=True)
    table = fashionpedia()
    names = {c.name: c.id for c in table.categories}
    attr_ids = {name: k for k, name in table.attributes.items()}
    (out / "label_descriptions.json").write_text(json.dumps(table.to_json(), indent=1))
    fn = functools.partial(
        _write_one,
        seed=seed,
        width=width,
        height=height,
        names=names,
        attr_ids=attr_ids,
        out=out,
        quality=quality,
    )
    workers = min(workers or available_cores(), max(1, images))
    with open(out / "train.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["ImageId", "EncodedPixels", "Height", "Width", "ClassId", "AttributesIds"])
        ctx = mp.get_context("fork")
        pool = ctx.Pool(workers) if workers > 1 else None
        results = pool.imap(fn, range(images)) if pool else map(fn, range(images))
        try:
            for image_id, instances in tqdm(results, total=images, desc="synth", unit="img"):
                for class_id, rle, attrs in instances:
                    writer.writerow(
                        [image_id, rle, height, width, class_id, ",".join(map(str, attrs))]
                    )
        finally:
            if pool:
                pool.close()
                pool.join()
    return out
