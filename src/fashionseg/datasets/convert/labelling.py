"""``fashionseg convert labelstudio | cvat``: corrected labels from a labelling tool's export
back to the Kaggle layout (with attributes), which every command reads.

- Label Studio: the JSON export (``Export`` -> JSON, or the API's), regions drawn as brushes
  (``BrushLabels``, its RLE) or polygons (``PolygonLabels``), attributes as per-region
  ``Choices``; each task's last annotation that was not cancelled is taken. Photos are found
  from the task's ``image``: Label Studio's local files under ``photo_root``, anything else
  (an upload, a bucket URL) by its file name in ``photos``.
- CVAT: a "CVAT for images 1.1" file (or the export's ZIP holding ``annotations.xml``); masks
  and polygons, checkbox attributes that are ``true``. Photos by name in ``photos``.

Categories and attributes are matched by name to Fashionpedia's. A region of an unknown label,
a shape that is not a mask, a mask of another size than its photo are named and skipped like
every reader's bad rows (``strict`` stops at the first).
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np
from tqdm import tqdm

from fashionseg.data.brush_rle import brush_decode
from fashionseg.data.categories import fashionpedia
from fashionseg.data.cvat_rle import runs_mask
from fashionseg.data.images import DataError, read_photo
from fashionseg.data.rle import RLEError
from fashionseg.data.schema.door import Skipped, read_bytes, segmentation_problem
from fashionseg.data.schema.labelling import (
    ATTRIBUTES,
    LOCAL_FILES,
    CvatImage,
    LsResult,
    document_root,
    read_cvat,
    read_labelstudio,
    read_results,
)
from fashionseg.datasets.convert.instances import polygons_mask
from fashionseg.datasets.convert.layout import (
    KaggleWriter,
    Problems,
    inside,
    photo_folder,
    plan_kaggle,
    save_photo,
)
from fashionseg.errors import DataFormatError
from fashionseg.outputs import output_stems, safe_stem

UPLOAD_PREFIX = re.compile(r"^[0-9a-f]{8}-")  # Label Studio's prefix on uploaded file names

Region = tuple[np.ndarray, int, list[int]]  # mask (H, W) bool, ClassId, attribute ids


class Vocabulary:
    """Fashionpedia's category and attribute names -> ids."""

    def __init__(self):
        table = fashionpedia()
        self.classes = {n: k - 1 for k, n in enumerate(table.names()) if k}
        self.attributes = {n: k for k, n in table.attributes.items()}

    def region(
        self, mask, label: str, attributes: list[str], where: str, problems
    ) -> Region | None:
        if label not in self.classes:
            problems.add(Skipped(where, f"unknown label {label[:80]!r}"))
            return None
        ids = []
        for name in attributes:
            if name in self.attributes:
                ids.append(self.attributes[name])
            else:
                problems.add(Skipped(where, f"unknown attribute {name[:80]!r} (the region is kept)"))  # fmt: skip
        return mask, self.classes[label], ids


def convert_labelstudio(
    src: Path,
    out: Path,
    photos: Path | None = None,
    photo_root: Path | None = None,
    progress: bool = True,
    strict: bool = False,
    overwrite: bool = False,
) -> dict:
    """A Label Studio JSON export and its photos -> the Kaggle layout."""
    src = Path(src)
    where = str(src)
    problems = Problems(where, strict)
    tasks, skipped = read_labelstudio(read_bytes(src), where)
    problems.extend(skipped)
    root = document_root(photo_root)
    found = []
    for name, task in tasks:
        annotation = next((a for a in reversed(task.annotations) if not a.was_cancelled), None)
        if annotation is None:
            problems.add(Skipped(name, "no annotation (not labelled yet)"))
            continue
        photo = _ls_photo(task.data.image, root, photos)
        if photo is None:
            problems.add(Skipped(name, f"photo {task.data.image[:120]!r} not found"))
            continue
        found.append((name, annotation, photo, task.data.fashionseg_stem or photo.stem))
    ids = _ids([stem for *_, stem in found])
    inputs = [src, *(p for p in (photos, photo_root) if p)]
    plan_kaggle(out, inputs, ids, overwrite)
    writer = KaggleWriter(out)
    vocabulary = Vocabulary()
    for (name, annotation, photo, _), image_id in tqdm(
        list(zip(found, ids)), desc="labelstudio", unit="photo", disable=not progress
    ):
        size = _photo_size(photo)
        if size is None:
            problems.add(Skipped(name, f"{photo}: not a readable photo"))
            continue
        results, bad = read_results(annotation.result)
        problems.extend([Skipped(f"{name}: {b.item}", b.reason) for b in bad])
        regions = _ls_regions(results, size, vocabulary, name, problems)
        save_photo(photo, writer.images / f"{image_id}.jpg")
        for mask, class_id, attribute_ids in regions:
            writer.add_instance(image_id, mask, class_id, attribute_ids)
    writer.close()
    problems.close()
    return {"photos": len(ids), "instances": len(writer.rows)}


def _ids(stems: list[str]) -> list[str]:
    """Distinct, safe ImageIds for the stems (``a``, ``a-2`` ...)."""
    return output_stems([Path(safe_stem(Path(s + ".jpg")) + ".jpg") for s in stems])


def _ls_photo(image: str, root: Path, photos: Path | None) -> Path | None:
    """The file a task's ``image`` names: under ``root`` for Label Studio's local files,
    else by file name in ``photos`` (an upload's ``1a2b3c4d-`` prefix tried off too)."""
    if image.startswith(LOCAL_FILES):
        return _file_inside(root, unquote(image[len(LOCAL_FILES) :]))
    if photos is None:
        return None
    name = Path(unquote(urlparse(image).path)).name
    for candidate in (name, UPLOAD_PREFIX.sub("", name)):
        path = _file_inside(Path(photos), candidate)
        if path is not None:
            return path
    return None


def _file_inside(folder: Path, name: str) -> Path | None:
    """``layout.inside``, and a file there."""
    path = inside(folder, name)
    return path if path is not None and path.is_file() else None


def _photo_size(path: Path) -> tuple[int, int] | None:
    """(height, width) of a photo that the photo door opens."""
    try:
        photo = read_photo(path)
    except DataError:
        return None
    return photo.height, photo.width


def _ls_regions(results: list[LsResult], size, vocabulary, name, problems) -> list[Region]:
    """The brush and polygon regions of one annotation, with their per-region choices."""
    h, w = size
    chosen: dict[str, list[str]] = {}
    for r in results:
        if r.type == "choices" and r.from_name == ATTRIBUTES and r.id is not None:
            chosen.setdefault(r.id, []).extend(r.value.choices)
    regions = []
    for k, r in enumerate(results):
        where = f"{name}: region {r.id or k}"
        if r.type == "choices":
            continue
        labels = r.value.brushlabels if r.type == "brushlabels" else r.value.polygonlabels
        if r.type not in ("brushlabels", "polygonlabels"):
            problems.add(Skipped(where, f"a {r.type} region is not a mask (brush or polygon)"))
            continue
        if len(labels) != 1:
            problems.add(Skipped(where, f"{len(labels)} labels; a region needs exactly one"))
            continue
        if (r.original_height, r.original_width) not in ((h, w), (None, None)):
            problems.add(Skipped(where, f"drawn on {r.original_width}x{r.original_height}, "
                                        f"the photo is {w}x{h}"))  # fmt: skip
            continue
        mask = _ls_mask(r, h, w, where, problems)
        if mask is not None:
            region = vocabulary.region(mask, labels[0], chosen.get(r.id, []), where, problems)
            regions += [region] if region else []
    return regions


def _ls_mask(r: LsResult, h: int, w: int, where: str, problems) -> np.ndarray | None:
    if r.type == "brushlabels":
        if r.value.format != "rle" or r.value.rle is None:
            problems.add(Skipped(where, "a brush region without its rle"))
            return None
        try:
            return brush_decode(r.value.rle, h, w)
        except RLEError as e:
            problems.add(Skipped(where, str(e)))
            return None
    polygon = [v for x, y in r.value.points for v in (x * w / 100, y * h / 100)]
    return _polygon(polygon, h, w, where, problems)


def _polygon(polygon: list[float], h: int, w: int, where: str, problems) -> np.ndarray | None:
    reason = "fewer than 3 points" if len(polygon) < 6 else segmentation_problem([polygon], h, w)
    if reason:
        problems.add(Skipped(where, reason))
        return None
    return polygons_mask([polygon], h, w)


def convert_cvat(
    src: Path,
    out: Path,
    photos: Path | None = None,
    progress: bool = True,
    strict: bool = False,
    overwrite: bool = False,
) -> dict:
    """A CVAT for images 1.1 export (the XML, or the ZIP holding ``annotations.xml``) and its
    photos (``photos``; default: the XML's folder, or its ``images/``) -> the Kaggle layout."""
    src = Path(src)
    where = str(src)
    data = _cvat_bytes(src)
    images, skipped = read_cvat(data, where)
    problems = Problems(where, strict)
    problems.extend(skipped)
    folder = Path(photos) if photos else photo_folder(src.parent)
    found = []
    for image in images:
        photo = _file_inside(folder, image.name) or _file_inside(folder, Path(image.name).name)
        if photo is None:
            problems.add(Skipped(f"image {image.name}", f"no such photo in {folder}"))
            continue
        found.append((image, photo))
    ids = _ids([Path(image.name).stem for image, _ in found])
    plan_kaggle(out, [src, folder], ids, overwrite)
    writer = KaggleWriter(out)
    vocabulary = Vocabulary()
    for (image, photo), image_id in tqdm(
        list(zip(found, ids)), desc="cvat", unit="photo", disable=not progress
    ):
        if _photo_size(photo) != (image.height, image.width):
            problems.add(Skipped(f"image {image.name}", f"{photo} is not {image.width}x{image.height}"))  # fmt: skip
            continue
        save_photo(photo, writer.images / f"{image_id}.jpg")
        for region in _cvat_regions(image, vocabulary, problems):
            writer.add_instance(image_id, *region)
    writer.close()
    problems.close()
    return {"photos": len(ids), "instances": len(writer.rows)}


def _cvat_bytes(src: Path) -> bytes:
    if src.is_dir():
        src = src / "annotations.xml"
    if zipfile.is_zipfile(src):
        with zipfile.ZipFile(src) as z:
            if "annotations.xml" not in z.namelist():
                raise DataFormatError(f"{src}: no annotations.xml inside (not a CVAT export)")
            return z.read("annotations.xml")
    return read_bytes(src)


def _cvat_regions(image: CvatImage, vocabulary: Vocabulary, problems) -> list[Region]:
    """A CVAT image's masks and polygons, with the checkbox attributes that are true."""
    regions = []
    size = (image.height, image.width)
    for k, shape in enumerate(image.shapes):
        where = f"image {image.name}: {shape.kind} {k}"
        if shape.kind == "mask":
            try:
                mask = runs_mask(shape.runs, shape.box, size)
            except RLEError as e:
                problems.add(Skipped(where, str(e)))
                continue
        else:
            mask = _polygon(shape.points, *size, where, problems)
            if mask is None:
                continue
        chosen = [n for n, v in shape.attributes.items() if v.strip().lower() == "true"]
        region = vocabulary.region(mask, shape.label, chosen, where, problems)
        regions += [region] if region else []
    return regions
