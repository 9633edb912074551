"""Readers for the three data layouts, all yielding one :class:`Record` per image.

1. Kaggle iMaterialist: ``train/<ImageId>.jpg`` + ``train.csv`` (optionally gzipped) +
   ``label_descriptions.json``; the 2019 ``"6_28_77"`` ClassId form is read too.
2. Fashionpedia COCO JSON (polygons or RLE, ``attribute_ids``) through pycocotools.
3. A mask folder (LIP, ATR, CIHP, Fashionista style): ``images/``, ``masks/*.png`` label maps
   and ``classes.txt`` (one name per line, background first).

Readers stream: the Kaggle CSV is read row by row and an image's instances are handed out
as soon as its rows are complete, so memory does not grow with the data set.
"""

from __future__ import annotations

from pathlib import Path

from fashionseg.data.categories import CategoryTable, fashionpedia
from fashionseg.data.coco import CocoDataset
from fashionseg.data.kaggle import KaggleDataset
from fashionseg.data.maskfolder import MaskFolderDataset
from fashionseg.data.records import Dataset
from fashionseg.errors import DataFormatError


def open_dataset(path: str | Path) -> Dataset:
    """Open a data folder of any supported layout.

    Args:
        path: a Kaggle folder (``train.csv`` + ``train/``), a folder holding a COCO JSON, a
            COCO JSON file, or a mask folder (``images/``, ``masks/``, ``classes.txt``).

    Raises:
        DataFormatError: if the layout is not recognised.
    """
    root = Path(path)
    if root.is_file() and root.suffix == ".json":
        return CocoDataset(root.parent, root, _coco_images(root.parent, root.parent.parent))
    if not root.is_dir():
        raise DataFormatError(f"{root}: no such data folder")
    for name in ("train.csv", "train.csv.gz", "test.csv", "test.csv.gz"):
        if (root / name).exists():
            csv_path = root / name
            break
    else:
        csvs = sorted(root.glob("*.csv")) + sorted(root.glob("*.csv.gz"))
        csv_path = csvs[0] if len(csvs) == 1 else None
    if csv_path is not None:
        split = csv_path.name.split(".")[0]
        labels = root / "label_descriptions.json"
        table = CategoryTable.load(labels) if labels.exists() else fashionpedia()
        return KaggleDataset(root, csv_path, root / split, table)
    if (root / "masks").is_dir() and (root / "images").is_dir():
        for name in ("classes.txt", "labels.txt", "class_names.txt"):
            if (root / name).exists():
                return MaskFolderDataset(root, root / name)
        raise DataFormatError(f"{root}: mask folder without classes.txt")
    jsons = sorted(root.glob("*.json")) + sorted(root.glob("*/*.json"))
    for j in jsons:
        if j.name != "label_descriptions.json":
            return CocoDataset(root, j, _coco_images(root))
    raise DataFormatError(
        f"{root}: not a Kaggle (train.csv), COCO (*.json) or mask-folder (images/, masks/) layout"
    )


def _coco_images(*roots: Path) -> Path:
    for root in roots:
        for name in ("train", "images", "val", "test"):
            if (root / name).is_dir():
                return root / name
    return roots[0]
