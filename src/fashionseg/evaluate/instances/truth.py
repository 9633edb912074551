"""Ground truth for instance scoring: a COCO object (pycocotools) from a Fashionpedia/COCO JSON
as it is, or from any data folder through the readers and an instance rule."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np

from fashionseg.data.components import apply_rule
from fashionseg.data.formats import open_dataset
from fashionseg.data.rle import coco_counts
from fashionseg.data.schema.coco import read_coco
from fashionseg.data.schema.door import read_bytes
from fashionseg.errors import DataFormatError


def quiet_coco(dataset: dict):
    """A ``pycocotools.coco.COCO`` of an annotation dict, without its prints."""
    from pycocotools.coco import COCO

    coco = COCO()
    coco.dataset = dataset
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def coco_json(path: Path) -> Path | None:
    """The COCO annotation file a ``--data`` argument names (a .json, or a folder of one)."""
    if path.is_file() and path.suffix == ".json":
        return path
    if path.is_dir() and not any((path / n).exists() for n in ("train.csv", "train.csv.gz")):
        found = sorted(path.glob("*.json")) + sorted(path.glob("*/*.json"))
        found = [p for p in found if p.name != "label_descriptions.json"]
        return found[0] if found else None
    return None


def _from_json(path: Path, wanted: set[str] | None) -> dict:
    """A COCO ground truth through the schema door; scoring stops at a bad item (a score
    on a ground truth with holes would be silently wrong)."""
    coco = read_coco(read_bytes(path), str(path))
    if coco.skipped:
        more = f" (and {len(coco.skipped) - 1} more)" if len(coco.skipped) > 1 else ""
        raise DataFormatError(f"{path}: {coco.skipped[0]}{more}")
    if wanted is not None:
        coco.images = [i for i in coco.images if Path(i.file_name).stem in wanted]
    return coco.to_builtins()


def annotation(
    number: int, image_id, class_id: int, rle: str, h: int, w: int, attributes
) -> dict | None:
    """One COCO annotation of a Kaggle-RLE mask (None for an empty mask); ids count from 1,
    since COCOeval takes id 0 for "unmatched"."""
    from pycocotools import mask as mask_utils

    coco = mask_utils.frPyObjects({"counts": coco_counts(rle, h, w), "size": [h, w]}, h, w)
    area = int(mask_utils.area(coco))
    if area == 0:
        return None
    coco["counts"] = coco["counts"].decode("ascii")
    return {
        "id": number,
        "image_id": image_id,
        "category_id": class_id,
        "segmentation": coco,
        "area": area,
        "bbox": [float(v) for v in mask_utils.toBbox(coco)],
        "iscrowd": 0,
        "attribute_ids": list(attributes),
    }


def coco_dataset(images: list[dict], instances: dict, table) -> dict:
    """A COCO annotation dict from image entries (``id``, ``file_name``, ``height``,
    ``width``), their instances (image id -> (class id, Kaggle RLE, attribute ids) triples)
    and a category table."""
    annotations = []
    for image in images:
        for class_id, rle, attributes in instances.get(image["id"], []):
            h, w = image["height"], image["width"]
            ann = annotation(len(annotations) + 1, image["id"], class_id, rle, h, w, attributes)
            if ann is not None:
                annotations.append(ann)
    return {
        "images": images,
        "annotations": annotations,
        "categories": [
            {"id": c.id, "name": c.name, "supercategory": c.supercategory} for c in table.categories
        ],
        "attributes": [{"id": a, "name": n} for a, n in sorted(table.attributes.items())],
    }


def _from_records(data: str, rule: str, wanted: set[str] | None) -> dict:
    dataset = open_dataset(data)
    images, instances = [], {}
    for record in dataset:
        if record.error or (wanted is not None and record.image_id not in wanted):
            continue
        h, w = record.height, record.width
        images.append(
            {"id": record.image_id, "file_name": record.path.name, "height": h, "width": w}
        )
        instances[record.image_id] = [
            (i.class_id, i.rle, i.attributes) for i in apply_rule(record.instances, h, w, rule)
        ]
    return coco_dataset(images, instances, dataset.categories)


def ground_truth(data: str, rule: str = "rows", wanted: set[str] | None = None):
    """The ground truth of ``data`` as a COCO object.

    Args:
        data: a COCO/Fashionpedia JSON (or a folder holding one), a Kaggle folder or a mask
            folder.
        rule: ``rows`` (the source's instances; a COCO JSON is then used exactly as it is,
            polygons and areas included, as FPEval reads it) or ``components``
            (``data/components.py``).
        wanted: ImageIds (file-name stems) to keep (None: all).

    Returns:
        ``pycocotools.coco.COCO``; image ids are the file's ids (COCO) or the ImageIds.
    """
    path = Path(data)
    json_path = coco_json(path)
    if json_path is not None and rule == "rows":
        return _with_boxes(quiet_coco(_from_json(json_path, wanted)))
    return quiet_coco(_from_records(data, rule, wanted))


def _with_boxes(gt):
    """Box AP needs every instance's box, and the area ranges its area; a file without them
    gets its masks' boxes and areas."""
    from pycocotools import mask as mask_utils

    for ann in gt.dataset["annotations"]:
        if "bbox" not in ann or "area" not in ann:
            rle = gt.annToRLE(ann)
            ann.setdefault("bbox", [float(v) for v in mask_utils.toBbox(rle)])
            ann.setdefault("area", float(mask_utils.area(rle)))
    return gt


def image_sizes(gt) -> dict:
    """Image id -> (height, width) of a ground truth."""
    return {i["id"]: (int(i["height"]), int(i["width"])) for i in gt.dataset["images"]}


def stems(gt) -> dict[str, object]:
    """File-name stem -> image id, so results may name photos as ``predict`` does."""
    return {Path(str(i.get("file_name", ""))).stem: i["id"] for i in gt.dataset["images"]}


def instance_counts(gt) -> np.ndarray:
    """Ground-truth instances per category, in the order of the sorted category ids."""
    ids = sorted(gt.getCatIds())
    return np.array([len(gt.getAnnIds(catIds=[c])) for c in ids])
