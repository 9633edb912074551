"""``fashionseg convert modanet | deepfashion2 | lip | atr | cihp``: instance and label-map
data sets to the Kaggle layout, categories mapped by the tables of ``mappings.py``.

- ModaNet: one COCO-style JSON (``images``, ``annotations`` with polygons, ``categories``)
  and the photos (``--images``, default: beside the JSON or in ``images/``).
- DeepFashion2: ``image/NNNNNN.jpg`` and ``annos/NNNNNN.json`` (``item1``, ``item2``... each
  with ``category_id`` and ``segmentation`` polygons); sleeve lengths become attributes.
- LIP, ATR, CIHP: the mask-folder layout, ``images/<stem>.jpg`` and ``masks/<stem>.png``
  holding the data set's label values; body labels become background.

Every source file passes the schema door (``data/schema/``) first. A bad item (an annotation,
an item of a DeepFashion2 file, a label map) is named on stderr and left out with its photo,
as the readers skip bad rows; ``strict`` stops at the first instead.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
from tqdm import tqdm

from fashionseg.data.categories import fashionpedia
from fashionseg.data.schema.coco import read_coco
from fashionseg.data.schema.door import SchemaError, Skipped, read_bytes, segmentation_problem
from fashionseg.data.schema.labels import read_label_png
from fashionseg.data.schema.sources import read_deepfashion2
from fashionseg.datasets.convert.layout import (
    KaggleWriter,
    Problems,
    inside,
    photo_folder,
    plan_kaggle,
    save_photo,
)
from fashionseg.datasets.convert.mappings import (
    DEEPFASHION2,
    MODANET,
    PARSING,
    PARSING_BODY,
    PARSING_SETS,
)
from fashionseg.errors import DataFormatError
from fashionseg.outputs import output_stems

PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png")


def polygons_mask(polygons: list[list[float]], height: int, width: int) -> np.ndarray:
    """Checked polygons (``segmentation_problem`` found none) -> mask (H, W) bool; polygons
    of fewer than 3 points draw nothing."""
    from pycocotools import mask as cocomask

    polygons = [p for p in polygons if len(p) >= 6]
    if not polygons:
        return np.zeros((height, width), dtype=bool)
    rles = cocomask.frPyObjects(polygons, height, width)
    return cocomask.decode(cocomask.merge(rles)).astype(bool)


def _class(name: str) -> int:
    return fashionpedia().names().index(name) - 1


def _attribute_ids(names: tuple[str, ...]) -> list[int]:
    by_name = {name: k for k, name in fashionpedia().attributes.items()}
    return [by_name[n] for n in names]


def convert_modanet(
    src: Path,
    out: Path,
    images: Path | None = None,
    progress: bool = True,
    strict: bool = False,
    overwrite: bool = False,
) -> dict:
    """A ModaNet JSON (or a folder holding one) and its photos -> the Kaggle layout."""
    src = Path(src)
    files = [src] if src.is_file() else sorted(src.glob("*.json"))
    if len(files) != 1:
        raise DataFormatError(f"{src}: expected one ModaNet JSON, found {len(files)}")
    where = str(files[0])
    coco = read_coco(read_bytes(files[0]), where, known_categories=False)
    problems = Problems(where, strict)
    problems.extend(coco.skipped)
    folder = Path(images) if images else photo_folder(files[0].parent)
    # Photos of one name in two folders (x/a.jpg, y/a.jpg) get distinct ImageIds.
    ids = output_stems([Path(i.file_name) for i in coco.images])
    plan_kaggle(out, [src, folder], ids, overwrite)
    writer = KaggleWriter(out)
    todo = zip(coco.images, ids)
    for image, image_id in tqdm(todo, total=len(ids), desc="modanet", unit="photo", disable=not progress):  # fmt: skip
        if image.id in coco.bad_images:
            continue
        photo = inside(folder, image.file_name)
        if photo is None:
            problems.add(
                Skipped(f"image {image.id}", f"file_name {image.file_name!r} leaves {folder}")
            )
            continue
        save_photo(_photo(photo), writer.images / f"{image_id}.jpg")
        for a in coco.annotations.get(image.id, []):
            category = MODANET.get(a.category_id)
            if category is None:
                writer.unmapped[f"category {a.category_id}"] += 1
                continue
            mask = polygons_mask(a.segmentation, image.height, image.width)
            writer.add_instance(image_id, mask, _class(category[1]))
    writer.close()
    problems.close()
    return {"photos": len(ids), "instances": len(writer.rows), "unmapped": dict(writer.unmapped)}


def convert_deepfashion2(
    src: Path, out: Path, progress: bool = True, strict: bool = False, overwrite: bool = False
) -> dict:
    """DeepFashion2's ``image/`` and ``annos/`` -> the Kaggle layout, with sleeve lengths as
    attributes."""
    src = Path(src)
    annos = sorted((src / "annos").glob("*.json"))
    if not annos:
        raise DataFormatError(f"{src}: no annos/*.json (not DeepFashion2's layout)")
    plan_kaggle(out, [src], [p.stem for p in annos], overwrite)
    writer = KaggleWriter(out)
    problems = Problems(str(src / "annos"), strict)
    for path in tqdm(annos, desc="deepfashion2", unit="photo", disable=not progress):
        items, skipped = read_deepfashion2(read_bytes(path), str(path))
        photo = _photo(src / "image" / f"{path.stem}.jpg")
        if skipped:
            problems.add(Skipped(path.name, f"{skipped[0]}; the photo is left out"))
            continue
        width, height = save_photo(photo, writer.images / f"{path.stem}.jpg")
        for key, item in items:
            category = DEEPFASHION2.get(item.category_id)
            if category is None:
                writer.unmapped[f"category {item.category_id}"] += 1
                continue
            polygons = [p for p in item.segmentation if len(p) >= 6]
            reason = segmentation_problem(polygons, height, width) if polygons else None
            if reason:
                problems.add(Skipped(f"{path.name}: {key}", reason))
                continue
            mask = polygons_mask(polygons, height, width)
            writer.add_instance(path.stem, mask, _class(category[1]), _attribute_ids(category[2]))
    writer.close()
    problems.close()
    return {"photos": len(annos), "instances": len(writer.rows), "unmapped": dict(writer.unmapped)}


def convert_parsing(
    name: str,
    src: Path,
    out: Path,
    progress: bool = True,
    strict: bool = False,
    overwrite: bool = False,
) -> dict:
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
    plan_kaggle(out, [src], [p.stem for p in masks], overwrite)
    writer = KaggleWriter(out)
    problems = Problems(str(src / "masks"), strict)
    seen: Counter = Counter()
    for path in tqdm(masks, desc=name, unit="photo", disable=not progress):
        photo = next((src / "images" / f"{path.stem}{s}" for s in PHOTO_SUFFIXES
                      if (src / "images" / f"{path.stem}{s}").is_file()), None)  # fmt: skip
        if photo is None:
            raise DataFormatError(f"{path}: no photo images/{path.stem}.jpg beside it")
        try:
            values = read_label_png(path, len(labels))
        except SchemaError as e:
            problems.add(Skipped(path.name, str(e).removeprefix(f"{path}: ")))
            continue
        size = save_photo(photo, writer.images / f"{path.stem}.jpg")
        if values.shape[::-1] != size:
            raise DataFormatError(f"{path}: {values.shape[::-1]} differs from its photo's {size}")
        seen.update(labels[v] for v in np.unique(values))
        writer.add_label_map(path.stem, lut[values])
    for label, n in seen.items():
        if label not in PARSING_BODY and not PARSING.get(label):
            writer.unmapped[label] += n
    writer.close()
    problems.close()
    return {"photos": len(masks), "instances": len(writer.rows), "unmapped": dict(writer.unmapped)}


def _photo(path: Path) -> Path:
    if not path.is_file():
        raise DataFormatError(f"{path}: missing (its annotation names it)")
    return path
