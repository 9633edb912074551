"""Unlabelled photos for semi-supervised training: a folder of photos, with image-level tags.

Layout: ``DIR/images/*.jpg`` (or photos directly in ``DIR``) and, optionally, ``DIR/tags.csv``
with columns ``ImageId`` and ``ClassIds`` (space-separated Fashionpedia ClassIds of the
garments that appear in the photo). The photos are decoded once into a cache beside the
labelled one: ``images.npy`` uint8 (N, H, W, 3) and ``allowed.npy`` bool (N, num_classes), the
label values a pseudo-label may take in each photo (background always; every class where a
photo has no tags).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path

import numpy as np
from tqdm import tqdm

from fashionseg.data.images import DataError, load_resized
from fashionseg.errors import DataFormatError
from fashionseg.files import PHOTO_SUFFIXES, FileLock, atomic_write, is_photo, temp_path


def list_photos(folder: Path) -> list[Path]:
    """The photos of an unlabelled folder, sorted by name."""
    root = folder / "images" if (folder / "images").is_dir() else folder
    return sorted(p for p in root.iterdir() if is_photo(p) and p.is_file())


def read_tags(path: Path, num_classes: int) -> dict[str, np.ndarray]:
    """ImageId -> allowed label values (bool, num_classes) from a ``tags.csv``.

    Label value = ClassId + 1; ClassIds outside the model's categories are ignored (the model
    cannot predict them anyway).

    Raises:
        DataFormatError: a missing column or a ClassId that is not an integer (names the row).
    """
    out = {}
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            if not {"ImageId", "ClassIds"} <= set(reader.fieldnames or []):
                raise DataFormatError(f"{path}: needs the columns ImageId and ClassIds")
            for row_no, row in enumerate(reader, start=2):
                allowed = np.zeros(num_classes, dtype=bool)
                allowed[0] = True
                for token in (row["ClassIds"] or "").split():
                    try:
                        class_id = int(token)
                    except ValueError:
                        raise DataFormatError(
                            f"{path}, row {row_no}: ClassId {token!r} is not an integer"
                        ) from None
                    if 0 <= class_id < num_classes - 1:
                        allowed[class_id + 1] = True
                out[row["ImageId"]] = allowed
    except UnicodeDecodeError as e:
        raise DataFormatError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    return out


def build_unlabelled(
    folder: str | Path,
    out: str | Path,
    size: tuple[int, int],
    keep_aspect: bool,
    num_classes: int,
    use_tags: bool = True,
) -> Path:
    """Decode the photos of ``folder`` into the cache folder ``out`` (re-used when complete).

    Args:
        folder: the unlabelled folder.
        out: the cache folder.
        size: (height, width) of the model's canvas.
        keep_aspect: letterbox as the labelled cache does.
        num_classes: label values of the model, background included.
        use_tags: read ``tags.csv`` when present (off: every class allowed everywhere).

    Returns:
        ``out``. Unreadable photos are left out and listed in ``out/errors.csv``.
    """
    folder, out = Path(folder), Path(out)
    if (out / "meta.json").is_file():
        return out
    # One builder at a time; a process that waited finds the cache made and uses it.
    with FileLock(out.with_name(f".{out.name}.lock"), f"the unlabelled cache {out}"):
        if (out / "meta.json").is_file():
            return out
        return _build(folder, out, size, keep_aspect, num_classes, use_tags)


def _build(folder: Path, out: Path, size, keep_aspect: bool, num_classes: int, use_tags: bool):
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder of unlabelled photos")
    photos = list_photos(folder)
    if not photos:
        raise DataFormatError(f"{folder}: no photos ({', '.join(PHOTO_SUFFIXES)}) found")
    tags_file = folder / "tags.csv"
    tags = read_tags(tags_file, num_classes) if use_tags and tags_file.is_file() else {}
    final, out = out, temp_path(out)
    out.mkdir(parents=True, exist_ok=True)
    h, w = size
    images = np.lib.format.open_memmap(
        out / ".images.npy", mode="w+", dtype=np.uint8, shape=(len(photos), h, w, 3)
    )
    allowed = np.ones((len(photos), num_classes), dtype=bool)
    kept, errors = [], []
    for path in tqdm(photos, desc="unlabelled photos", unit="photo", leave=False):
        try:
            images[len(kept)] = load_resized(path, None, None, h, w, keep_aspect)
        except DataError as e:
            errors.append((path.name, str(e)))
            continue
        if path.stem in tags:
            allowed[len(kept)] = tags[path.stem]
        kept.append(path.stem)
    images.flush()
    del images
    # Trim to the photos that were read: rewrite only when some were left out.
    if len(kept) < len(photos):
        full = np.load(out / ".images.npy", mmap_mode="r")
        np.save(out / ".images.trim.npy", full[: len(kept)])
        del full
        os.replace(out / ".images.trim.npy", out / ".images.npy")
    os.replace(out / ".images.npy", out / "images.npy")
    np.save(out / "allowed.npy", allowed[: len(kept)])
    if errors:
        with open(out / "errors.csv", "w", newline="") as f:
            csv.writer(f).writerows([("file", "reason"), *errors])
    meta = {"ids": kept, "size": [h, w], "tagged": sum(k in tags for k in kept)}
    atomic_write(out / "meta.json", json.dumps(meta))
    # Built aside and renamed whole: a reader never sees a half-written cache.
    if final.exists():  # a leftover of a build killed before it finished
        shutil.rmtree(final)
    os.rename(out, final)
    return final
