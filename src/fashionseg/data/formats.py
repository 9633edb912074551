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

import csv
import gzip
import io
import json
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .categories import Category, CategoryTable, fashionpedia
from .rle import MAX_PIXELS, rle_encode

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
csv.field_size_limit(sys.maxsize)


class DataFormatError(ValueError):
    """A data folder that cannot be read at all (as opposed to one bad image)."""


@dataclass(frozen=True)
class Instance:
    class_id: int
    rle: str
    attributes: tuple[int, ...] = ()


@dataclass
class Record:
    """One annotated image.

    ``error`` is set when the annotation rows themselves are unusable; consumers skip such a
    record and report the reason with its ``image_id``.
    """

    image_id: str
    path: Path
    height: int
    width: int
    instances: list[Instance] = field(default_factory=list)
    error: str | None = None


# File names longer than this fail on common file systems (255 bytes) once an extension or a
# suffix is added.
MAX_NAME = 200


def is_plain_name(name: str) -> bool:
    """True for a bare file name that cannot reach outside its folder."""
    return (
        bool(name)
        and len(name) <= MAX_NAME
        and name not in (".", "..")
        and not any(c in name for c in "/\\\0:")
    )


class Dataset:
    """Base class: a category table plus a stream of records."""

    layout = "?"

    def __init__(self, root: Path, categories: CategoryTable):
        self.root = root
        self.categories = categories

    def __iter__(self) -> Iterator[Record]:
        raise NotImplementedError

    def __len__(self) -> int:
        raise NotImplementedError


# --------------------------------------------------------------------------- Kaggle


def _open_text(path: Path) -> io.TextIOBase:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def _parse_int(text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{what} is not an integer: {text[:20]!r}") from None


class KaggleDataset(Dataset):
    """The iMaterialist layout: ``<split>/<ImageId>.jpg`` and ``<split>.csv[.gz]``."""

    layout = "kaggle"
    REQUIRED = ("ImageId", "EncodedPixels", "Height", "Width", "ClassId")

    def __init__(self, root: Path, csv_path: Path, image_dir: Path, categories: CategoryTable):
        super().__init__(root, categories)
        self.csv_path = csv_path
        self.image_dir = image_dir
        self._ids: list[str] | None = None
        self._grouped = True

    def _rows(self) -> Iterator[list[str]]:
        try:
            yield from self._read_rows()
        except UnicodeDecodeError as e:
            raise DataFormatError(
                f"{self.csv_path}: not UTF-8 text (byte 0x{e.object[e.start]:02x} at offset "
                f"{e.start} of a block)"
            ) from None
        except (EOFError, gzip.BadGzipFile, zlib.error) as e:
            raise DataFormatError(
                f"{self.csv_path}: truncated or corrupt compressed file ({e})"
            ) from None
        except csv.Error as e:
            raise DataFormatError(f"{self.csv_path}: not a readable CSV ({e})") from None

    def _read_rows(self) -> Iterator[list[str]]:
        with _open_text(self.csv_path) as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if header is None:
                raise DataFormatError(f"{self.csv_path}: empty CSV")
            missing = [c for c in self.REQUIRED if c not in header]
            if missing:
                raise DataFormatError(f"{self.csv_path}: missing columns {', '.join(missing)}")
            cols = [header.index(c) for c in self.REQUIRED]
            attr_col = header.index("AttributesIds") if "AttributesIds" in header else None
            for row in reader:
                if not row:
                    continue
                out = [row[c] if c < len(row) else "" for c in cols]
                out.append(row[attr_col] if attr_col is not None and attr_col < len(row) else "")
                yield out

    def image_ids(self) -> list[str]:
        """ImageIds in file order (first pass over the CSV; only ids are kept)."""
        if self._ids is None:
            ids: list[str] = []
            seen: set[str] = set()
            last = None
            for row in self._rows():
                image_id = row[0]
                if image_id != last:
                    if image_id in seen:
                        self._grouped = False
                    else:
                        seen.add(image_id)
                        ids.append(image_id)
                    last = image_id
            self._ids = ids
        return self._ids

    def __len__(self) -> int:
        return len(self.image_ids())

    def __iter__(self) -> Iterator[Record]:
        self.image_ids()
        if self._grouped:
            yield from self._stream()
        else:
            # Rows of one image are scattered: group them in memory (RLE text only).
            groups: dict[str, list[list[str]]] = {}
            for row in self._rows():
                groups.setdefault(row[0], []).append(row)
            for image_id in self.image_ids():
                yield self._record(image_id, groups.pop(image_id))

    def _stream(self) -> Iterator[Record]:
        rows: list[list[str]] = []
        for row in self._rows():
            if rows and row[0] != rows[0][0]:
                yield self._record(rows[0][0], rows)
                rows = []
            rows.append(row)
        if rows:
            yield self._record(rows[0][0], rows)

    def _record(self, image_id: str, rows: list[list[str]]) -> Record:
        record = Record(image_id, self.image_dir / f"{image_id}.jpg", 0, 0)
        if not is_plain_name(image_id):
            record.error = f"ImageId {image_id[:40]!r} is not a plain file name"
            return record
        try:
            sizes = {(_parse_int(r[2], "Height"), _parse_int(r[3], "Width")) for r in rows}
            if len(sizes) > 1:
                raise ValueError(f"rows disagree on Height/Width: {sorted(sizes)}")
            record.height, record.width = sizes.pop()
            if record.height <= 0 or record.width <= 0:
                raise ValueError(f"invalid Height/Width {record.height}x{record.width}")
            if record.height * record.width > MAX_PIXELS:
                raise ValueError(f"size {record.height}x{record.width} is too large to allocate")
            known = self.categories.ids()
            seen = set()
            for _, encoded, _, _, class_text, attr_text in rows:
                # 2019 files fuse attributes into ClassId: "6_28_77".
                parts = class_text.strip().split("_")
                class_id = _parse_int(parts[0], "ClassId")
                if class_id not in known:
                    raise ValueError(f"unknown ClassId {class_id}")
                attr_tokens = parts[1:] + attr_text.replace(",", " ").split()
                attrs = tuple(_parse_int(a, "AttributesIds") for a in attr_tokens)
                key = (class_id, encoded.strip(), attrs)
                if key in seen:  # duplicate rows are harmless; keep one
                    continue
                seen.add(key)
                record.instances.append(Instance(class_id, encoded.strip(), attrs))
        except ValueError as e:
            record.error = str(e)
        return record


# --------------------------------------------------------------------------- COCO


class CocoDataset(Dataset):
    """Fashionpedia ``instances_attributes_*.json`` (COCO with ``attribute_ids``)."""

    layout = "coco"

    def __init__(self, root: Path, json_path: Path, image_dir: Path):
        try:
            with open(json_path, encoding="utf-8") as f:
                self.data = json.load(f)
            if not isinstance(self.data, dict):
                raise ValueError("the top level is not an object")
            cats = sorted(self.data.get("categories", []), key=lambda c: c["id"])
            annotations = [(a["image_id"], a) for a in self.data.get("annotations", [])]
        except (ValueError, KeyError, TypeError) as e:  # JSONDecodeError, UnicodeDecodeError
            reason = f"missing {e}" if isinstance(e, KeyError) else str(e).splitlines()[0][:100]
            raise DataFormatError(f"{json_path}: not a COCO annotation file ({reason})") from None
        # COCO ids need not be dense; label ids are their rank.
        self.to_class = {c["id"]: i for i, c in enumerate(cats)}
        table = CategoryTable(
            [Category(i, c["name"], c.get("supercategory", "")) for i, c in enumerate(cats)],
            {int(a["id"]): a["name"] for a in self.data.get("attributes", [])},
        )
        super().__init__(root, table)
        self.json_path = json_path
        self.image_dir = image_dir
        self.by_image: dict[int, list[dict]] = {}
        for image_id, ann in annotations:
            self.by_image.setdefault(image_id, []).append(ann)

    def __len__(self) -> int:
        return len(self.data.get("images", []))

    def __iter__(self) -> Iterator[Record]:

        for number, img in enumerate(self.data.get("images", [])):
            name = str(img.get("file_name", "")) if isinstance(img, dict) else ""
            record = Record(Path(name).stem or f"#{number}", self.image_dir / name, 0, 0)
            if not is_plain_name(name):
                record.error = f"file_name {name[:40]!r} is not a plain file name"
                yield record
                continue
            try:
                record.height, record.width = _coco_size(img)
                for ann in self.by_image.get(img.get("id"), []):
                    record.instances.append(self._instance(ann, record.height, record.width))
            except Exception as e:  # pycocotools raises bare Exceptions on malformed input
                record.error = f"bad annotation: {str(e).splitlines()[0][:120] if str(e) else type(e).__name__}"
                record.instances = []
            yield record

    def _instance(self, ann: dict, h: int, w: int) -> Instance:
        from pycocotools import mask as mask_utils

        seg = ann["segmentation"]
        if isinstance(seg, list):
            polygons = [p for p in seg if isinstance(p, list)]
            if not polygons or len(polygons) != len(seg):
                raise ValueError("segmentation is an empty or malformed polygon list")
            if any(len(p) < 6 or len(p) % 2 for p in polygons):
                raise ValueError("a polygon needs at least 3 points as x, y pairs")
            rle = mask_utils.merge(mask_utils.frPyObjects(polygons, h, w))
        elif isinstance(seg, dict):
            if [int(v) for v in seg.get("size", [])] != [h, w]:
                raise ValueError(f"RLE size {seg.get('size')} differs from the image's [{h}, {w}]")
            rle = mask_utils.frPyObjects(seg, h, w) if isinstance(seg.get("counts"), list) else seg
        else:
            raise ValueError(f"segmentation of type {type(seg).__name__}")
        if ann["category_id"] not in self.to_class:
            raise ValueError(f"unknown category_id {ann['category_id']}")
        return Instance(
            self.to_class[ann["category_id"]],
            rle_encode(mask_utils.decode(rle)),
            tuple(int(a) for a in ann.get("attribute_ids", [])),
        )


def _coco_size(img: dict) -> tuple[int, int]:
    """(height, width) of a COCO image entry, checked before any mask is decoded."""
    try:
        h, w = int(img["height"]), int(img["width"])
    except (KeyError, TypeError, ValueError):
        raise ValueError("image entry without an integer height and width") from None
    if h <= 0 or w <= 0:
        raise ValueError(f"invalid height/width {h}x{w}")
    if h * w > MAX_PIXELS:
        raise ValueError(f"size {h}x{w} is too large to allocate")
    return h, w


# --------------------------------------------------------------------------- mask folder


class MaskFolderDataset(Dataset):
    """``images/<stem>.<ext>``, ``masks/<stem>.png`` (value k = class k-1, 0 background)."""

    layout = "maskfolder"

    def __init__(self, root: Path, classes_file: Path):
        try:
            names = [
                n.strip()
                for n in classes_file.read_text(encoding="utf-8").splitlines()
                if n.strip()
            ]
        except UnicodeDecodeError:
            raise DataFormatError(f"{classes_file}: not UTF-8 text") from None
        if len(names) < 2:
            raise DataFormatError(f"{classes_file}: needs background plus at least one class")
        if len(names) > 255:  # label maps are 8 bit, with 255 kept for "ignore"
            raise DataFormatError(
                f"{classes_file}: {len(names) - 1} classes; at most 254 fit an 8-bit label map"
            )
        super().__init__(root, CategoryTable([Category(i, n) for i, n in enumerate(names[1:])]))
        self.mask_dir = root / "masks"
        self.masks = sorted(self.mask_dir.glob("*.png"))
        images = {
            p.stem: p for p in (root / "images").iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS
        }
        self.images = images

    def __len__(self) -> int:
        return len(self.masks)

    def __iter__(self) -> Iterator[Record]:
        from PIL import Image

        num = len(self.categories.categories)
        for mask_path in self.masks:
            stem = mask_path.stem
            path = self.images.get(stem, self.root / "images" / f"{stem}.jpg")
            record = Record(stem, path, 0, 0)
            try:
                with Image.open(mask_path) as im:
                    if im.width * im.height > MAX_PIXELS:
                        raise ValueError(f"{im.width}x{im.height} is too large")
                    labels = np.asarray(im)
            except (OSError, ValueError, Image.DecompressionBombError) as e:
                record.error = f"unreadable mask {mask_path.name}: {str(e)[:120]}"
                yield record
                continue
            if labels.ndim != 2:
                record.error = f"mask {mask_path.name} is not a single-channel label map"
                yield record
                continue
            record.height, record.width = labels.shape
            for value in np.unique(labels):
                if value == 0 or value == 255:
                    continue
                if value > num:
                    record.error = f"mask value {value} has no class in the class list"
                    break
                record.instances.append(Instance(int(value) - 1, rle_encode(labels == value)))
            yield record


# --------------------------------------------------------------------------- detection


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
