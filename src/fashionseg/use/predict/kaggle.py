"""The iMaterialist (Fashion) submission format, written from predict's garment lists."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

from fashionseg.data.categories import fashionpedia
from fashionseg.errors import UsageError
from fashionseg.files import atomic_open
from fashionseg.inference.predictor import Predictor


def check_kaggle_categories(predictor: Predictor) -> None:
    """The Kaggle format needs ClassIds of Fashionpedia; refuse other category sets."""
    reference = fashionpedia().names()
    names = predictor.categories.names()
    if names != reference[: len(names)]:
        raise UsageError(
            f"{predictor.name}: its categories are not Fashionpedia's, so it cannot write "
            "the Kaggle submission format"
        )


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
    print(f"Kaggle submission: {path} ({len(predictions)} photos)", file=sys.stderr)
