"""``--kaggle-csv``: the iMaterialist (Fashion) submission, written from predict's documents."""

from __future__ import annotations

import csv
from pathlib import Path

from fashionseg.data.categories import fashionpedia
from fashionseg.errors import UsageError
from fashionseg.files import atomic_open
from fashionseg.use.predict.sinks.base import SinkContext, SinkSpec, WrittenAtClose


def check(context: SinkContext) -> None:
    """The format numbers Fashionpedia's categories, every one of them: refuse other category
    sets, groups and ``only``."""
    if context.options.groups or context.options.only:
        raise UsageError("--kaggle-csv needs every category: leave out --groups and --only")
    predictor = context.predictor
    names = predictor.categories.names()
    if names != fashionpedia().names()[: len(names)]:
        raise UsageError(
            f"{predictor.name}: its categories are not Fashionpedia's, so it cannot write "
            "the Kaggle submission format"
        )


class KaggleCsv(WrittenAtClose):
    """The rows of each photo, written at the end (sorted by photo, then ClassId)."""

    def __init__(self, path: Path, context: SinkContext | None = None):
        self.path = path
        self.rows: dict[str, list[dict]] = {}

    def add(self, stem: str, doc: dict) -> None:
        # One row per instance where the document lists them, else one per category.
        self.rows[stem] = doc.get("instances", doc["garments"])

    def close(self) -> None:
        write_kaggle_csv(self.rows, self.path)
        self.written("Kaggle submission", f"{len(self.rows)} photos")


def write_kaggle_csv(predictions: dict[str, list[dict]], path: str | Path) -> None:
    """The iMaterialist submission (2020 format): one row per instance, or per (photo,
    category) where no instances were listed, with the mask's RLE and the AttributesIds
    (comma-separated; empty without attributes).

    Photos with nothing found get one row with empty EncodedPixels and ClassId, so every
    photo of the test folder appears in the file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["ImageId", "EncodedPixels", "ClassId", "AttributesIds"])
        for image_id in sorted(predictions):
            garments = sorted(predictions[image_id], key=lambda g: g["class_id"])
            for g in garments:
                attributes = ",".join(str(a["id"]) for a in g.get("attributes", []))
                w.writerow([image_id, g["rle"], g["class_id"], attributes])
            if not garments:
                w.writerow([image_id, "", "", ""])


SPEC = SinkSpec(
    name="kaggle_csv",
    metavar="FILE.csv",
    help="the iMaterialist submission CSV (one row per instance with --instances)",
    open=KaggleCsv,
    check=check,
    ray=True,  # filled on the driver from the documents the actors return
)
