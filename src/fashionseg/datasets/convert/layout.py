"""The folders converters write: the Kaggle layout (``train/``, ``train.csv``,
``label_descriptions.json``) and the unlabelled layout (``images/``, ``tags.csv``)."""

from __future__ import annotations

import csv
import json
import shutil
import sys
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image

from fashionseg.data.categories import CategoryTable, fashionpedia
from fashionseg.data.rle import rle_encode
from fashionseg.data.schema.door import SchemaError, Skipped, report_skipped
from fashionseg.files import atomic_open
from fashionseg.outputs import OutputPlan

JPEG_QUALITY = 88


class Problems:
    """The items a converter leaves out: named on stderr at the end (``close``), or, with
    ``strict``, the first one stops the command."""

    def __init__(self, where: str, strict: bool = False):
        self.where = where
        self.strict = strict
        self.items: list[Skipped] = []

    def add(self, item: Skipped) -> None:
        if self.strict:
            raise SchemaError(f"{self.where}: {item} (--strict)")
        self.items.append(item)

    def extend(self, items: list[Skipped]) -> None:
        for item in items:
            self.add(item)

    def close(self) -> None:
        report_skipped(self.items, self.where)


def plan_kaggle(
    out: Path,
    inputs: list[Path],
    ids: list[str],
    overwrite: bool,
    unlabelled: tuple[Path, list[str]] | None = None,
) -> None:
    """Declare and check all a converter writes before it writes (``outputs.OutputPlan``):
    the Kaggle layout's photos, ``train.csv`` and ``label_descriptions.json`` in ``out``, and
    the unlabelled layout's photos and ``tags.csv`` in ``unlabelled`` (a folder and its ids).
    A folder of the user's (a data set that fashionseg did not write) is never replaced
    without ``overwrite``."""
    plan = OutputPlan(out, inputs, overwrite, "convert")
    plan.add(out / "train.csv", "the annotation table")
    plan.add(out / "label_descriptions.json", "the category table")
    for image_id in ids:
        plan.add(out / "train" / f"{image_id}.jpg", f"the photo {image_id}")
    if unlabelled is not None:
        folder, tagged = unlabelled
        plan.add(folder / "tags.csv", "the unlabelled photos' tags", named=True)
        for image_id in tagged:
            plan.add(folder / "images" / f"{image_id}.jpg", f"the photo {image_id}", named=True)
    plan.check()
    plan.commit()


def scaled_size(width: int, height: int, scale: float) -> tuple[int, int]:
    """Each side times ``scale``, rounded as Python rounds (half to even), at least 1."""
    return max(1, round(width * scale)), max(1, round(height * scale))


def save_photo(source: Path, target: Path, scale: float = 1.0) -> tuple[int, int]:
    """The photo at ``target``: the file copied as it is at scale 1, else resized (Lanczos)
    and saved as JPEG (quality 88). Returns its (width, height)."""
    with Image.open(source) as im:
        if scale == 1.0:
            shutil.copyfile(source, target)
            return im.size
        size = scaled_size(*im.size, scale)
        im.convert("RGB").resize(size, Image.LANCZOS).save(target, "JPEG", quality=JPEG_QUALITY)
        return size


def scale_labels(labels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A label map resized to (width, height) by nearest neighbour."""
    if labels.shape[::-1] == size:
        return labels
    return np.asarray(Image.fromarray(labels).resize(size, Image.NEAREST))


class KaggleWriter:
    """Rows of a Kaggle-layout folder, one per instance, and the photos under ``train/``.

    Args:
        out: the folder (created).
        table: the categories written to ``label_descriptions.json`` (Fashionpedia's 46).
    """

    def __init__(self, out: Path, table: CategoryTable | None = None):
        self.out = Path(out)
        self.images = self.out / "train"
        self.images.mkdir(parents=True, exist_ok=True)
        self.table = table or fashionpedia()
        self.rows: list[list] = []
        self.photos = 0
        self.unmapped: Counter[str] = Counter()

    def add_instance(
        self, image_id: str, mask: np.ndarray, class_id: int, attributes: list[int] = ()
    ) -> None:
        """One instance: its mask (H, W) bool at the written photo's size."""
        if not mask.any():
            return
        height, width = mask.shape
        self.rows.append(
            [image_id, rle_encode(mask), height, width, class_id,
             ",".join(str(a) for a in sorted(set(attributes)))]
        )  # fmt: skip

    def add_label_map(self, image_id: str, labels: np.ndarray) -> None:
        """One instance per category of a semantic label map (ClassId + 1, 0 = background)."""
        for value in np.unique(labels):
            if value:
                self.add_instance(image_id, labels == value, int(value) - 1)

    def close(self) -> Path:
        """Write ``train.csv`` and ``label_descriptions.json``; report unmapped labels."""
        with atomic_open(self.out / "train.csv", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(
                ["ImageId", "EncodedPixels", "Height", "Width", "ClassId", "AttributesIds"]
            )
            writer.writerows(self.rows)
        (self.out / "label_descriptions.json").write_text(
            json.dumps(self.table.to_json(), indent=1)
        )
        report_unmapped(self.unmapped, self.out)
        return self.out


def report_unmapped(unmapped: Counter, out: Path) -> None:
    """Say which source labels had no Fashionpedia category, and how often (never silent)."""
    if unmapped:
        listed = ", ".join(f"{name} ({n})" for name, n in unmapped.most_common())
        print(f"{out}: labels without a Fashionpedia category, written as background: {listed}",
              file=sys.stderr)  # fmt: skip


def write_tags(out: Path, rows: list[dict]) -> None:
    """``tags.csv`` of the unlabelled layout: ImageId, Height, Width, ClassIds, CcpTags."""
    with atomic_open(out / "tags.csv", newline="") as f:
        writer = csv.DictWriter(f, ["ImageId", "Height", "Width", "ClassIds", "CcpTags"])
        writer.writeheader()
        writer.writerows(rows)


def photo_folder(base: Path) -> Path:
    """Where a source's photos are when not named: ``base/images`` if there, else ``base``."""
    return base / "images" if (base / "images").is_dir() else base


def inside(folder: Path, name: str) -> Path | None:
    """``folder / name`` when it stays inside ``folder`` (None for ``../x`` or ``/etc/x``): a
    file name from an annotation file never leads out of the photos' folder."""
    if not name or "\0" in name:
        return None
    path = (folder / name).resolve()
    return path if folder.resolve() in path.parents else None
