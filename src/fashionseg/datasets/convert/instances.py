"""``fashionseg convert modanet | deepfashion2 | lip | atr | cihp``: instance and label-map
data sets to the Kaggle layout, categories mapped by the tables of ``mappings.py``.

- ModaNet: one COCO-style JSON (``images``, ``annotations`` with polygons, ``categories``)
  and the photos (``--images``, default: beside the JSON or in ``images/``).
- DeepFashion2: ``image/NNNNNN.jpg`` and ``annos/NNNNNN.json`` (``item1``, ``item2``... each
  with ``category_id`` and ``segmentation`` polygons); sleeve lengths become attributes.
- LIP, ATR, CIHP: the mask-folder layout, ``images/<stem>.jpg`` and ``masks/<stem>.png``
  holding the data set's label values; body labels become background.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from fashionseg.data.categories import fashionpedia
from fashionseg.datasets.convert.layout import KaggleWriter, save_photo
from fashionseg.datasets.convert.mappings import (
    DEEPFASHION2,
    MODANET,
    PARSING,
    PARSING_BODY,
    PARSING_SETS,
)
from fashionseg.errors import DataFormatError

PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png")


def polygons_mask(segmentation, height: int, width: int, where: str) -> np.ndarray:
    """COCO polygons (a list of [x0, y0, x1, y1, ...]) or a COCO RLE -> mask (H, W) bool."""
    from pycocotools import mask as cocomask

    try:
        if isinstance(segmentation, list):
            polygons = [p for p in segmentation if len(p) >= 6]
            if not polygons:
                return np.zeros((height, width), dtype=bool)
            rles = cocomask.frPyObjects(polygons, height, width)
        else:
            rles = [cocomask.frPyObjects(segmentation, height, width)]
        return cocomask.decode(cocomask.merge(rles)).astype(bool)
    except (TypeError, ValueError, KeyError, IndexError) as e:
        raise DataFormatError(f"{where}: a segmentation that is not COCO polygons ({e})") from None


def _class(name: str) -> int:
    return fashionpedia().names().index(name) - 1


def _attribute_ids(names: tuple[str, ...]) -> list[int]:
    by_name = {name: k for k, name in fashionpedia().attributes.items()}
    return [by_name[n] for n in names]


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise DataFormatError(f"{path}: not readable JSON ({e})") from None


def convert_modanet(
    src: Path, out: Path, images: Path | None = None, progress: bool = True
) -> dict:
    """A ModaNet JSON (or a folder holding one) and its photos -> the Kaggle layout."""
    src = Path(src)
    files = [src] if src.is_file() else sorted(src.glob("*.json"))
    if len(files) != 1:
        raise DataFormatError(f"{src}: expected one ModaNet JSON, found {len(files)}")
    data = _read_json(files[0])
    for key in ("images", "annotations"):
        if key not in data:
            raise DataFormatError(f"{files[0]}: no {key!r} key (not a COCO-style ModaNet file)")
    folder = Path(images) if images else _photo_folder(files[0].parent)
    by_image: dict[int, list[dict]] = {}
    for k, a in enumerate(data["annotations"]):
        try:
            by_image.setdefault(a["image_id"], []).append(a)
        except (KeyError, TypeError):
            raise DataFormatError(f"{files[0]}: annotations[{k}] has no image_id") from None
    writer = KaggleWriter(out)
    for image in tqdm(data["images"], desc="modanet", unit="photo", disable=not progress):
        try:
            name, height, width = image["file_name"], int(image["height"]), int(image["width"])
        except (KeyError, TypeError, ValueError):
            raise DataFormatError(
                f"{files[0]}: image {image.get('id')} lacks file_name/height/width"
            ) from None
        image_id = Path(name).stem
        save_photo(_photo(folder / name), writer.images / f"{image_id}.jpg")
        for a in by_image.get(image["id"], []):
            category = MODANET.get(a.get("category_id"))
            if category is None:
                writer.unmapped[f"category {a.get('category_id')}"] += 1
                continue
            where = f"{files[0]}: annotation {a.get('id')}"
            mask = polygons_mask(a.get("segmentation"), height, width, where)
            writer.add_instance(image_id, mask, _class(category[1]))
    writer.close()
    return {
        "photos": len(data["images"]),
        "instances": len(writer.rows),
        "unmapped": dict(writer.unmapped),
    }


def convert_deepfashion2(src: Path, out: Path, progress: bool = True) -> dict:
    """DeepFashion2's ``image/`` and ``annos/`` -> the Kaggle layout, with sleeve lengths as
    attributes."""
    src = Path(src)
    annos = sorted((src / "annos").glob("*.json"))
    if not annos:
        raise DataFormatError(f"{src}: no annos/*.json (not DeepFashion2's layout)")
    writer = KaggleWriter(out)
    for path in tqdm(annos, desc="deepfashion2", unit="photo", disable=not progress):
        doc = _read_json(path)
        photo = _photo(src / "image" / f"{path.stem}.jpg")
        width, height = save_photo(photo, writer.images / f"{path.stem}.jpg")
        items = sorted((k for k in doc if k.startswith("item")), key=lambda k: int(k[4:] or 0))
        for key in items:
            item = doc[key]
            try:
                category = DEEPFASHION2.get(int(item["category_id"]))
            except (KeyError, TypeError, ValueError):
                raise DataFormatError(f"{path}: {key} has no category_id") from None
            if category is None:
                writer.unmapped[f"category {item['category_id']}"] += 1
                continue
            mask = polygons_mask(item.get("segmentation"), height, width, f"{path}: {key}")
            writer.add_instance(path.stem, mask, _class(category[1]), _attribute_ids(category[2]))
    writer.close()
    return {"photos": len(annos), "instances": len(writer.rows), "unmapped": dict(writer.unmapped)}


def convert_parsing(name: str, src: Path, out: Path, progress: bool = True) -> dict:
    """LIP, ATR or CIHP label maps (``images/``, ``masks/``) -> the Kaggle layout."""
    src = Path(src)
    labels = PARSING_SETS[name]
    masks = sorted((src / "masks").glob("*.png"))
    if not masks:
        raise DataFormatError(f"{src}: no masks/*.png (the mask-folder layout)")
    names = fashionpedia().names()
    lut = np.zeros(256, dtype=np.uint8)
    for value, label in enumerate(labels):
        if PARSING.get(label):
            lut[value] = names.index(PARSING[label])
    writer = KaggleWriter(out)
    seen: Counter = Counter()
    for path in tqdm(masks, desc=name, unit="photo", disable=not progress):
        photo = next((src / "images" / f"{path.stem}{s}" for s in PHOTO_SUFFIXES
                      if (src / "images" / f"{path.stem}{s}").is_file()), None)  # fmt: skip
        if photo is None:
            raise DataFormatError(f"{path}: no photo images/{path.stem}.jpg beside it")
        values = np.asarray(Image.open(path))
        if values.ndim != 2:
            raise DataFormatError(f"{path}: not a label map (shape {values.shape})")
        if values.max() >= len(labels):
            raise DataFormatError(
                f"{path}: label {values.max()} beyond {name}'s {len(labels)} labels"
            )
        size = save_photo(photo, writer.images / f"{path.stem}.jpg")
        if values.shape[::-1] != size:
            raise DataFormatError(f"{path}: {values.shape[::-1]} differs from its photo's {size}")
        seen.update(labels[v] for v in np.unique(values))
        writer.add_label_map(path.stem, lut[values])
    for label, n in seen.items():
        if label not in PARSING_BODY and not PARSING.get(label):
            writer.unmapped[label] += n
    writer.close()
    return {"photos": len(masks), "instances": len(writer.rows), "unmapped": dict(writer.unmapped)}


def _photo_folder(base: Path) -> Path:
    return base / "images" if (base / "images").is_dir() else base


def _photo(path: Path) -> Path:
    if not path.is_file():
        raise DataFormatError(f"{path}: missing (its annotation names it)")
    return path
