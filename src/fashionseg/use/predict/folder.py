"""``fashionseg predict``: label maps, overlays and garment summaries for a set of photos.

This file gathers the photos and names their outputs; ``pipeline.py`` overlaps decoding,
the model and writing; ``write.py`` writes one photo's files.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image

from fashionseg.data.groups import GROUP_NAMES
from fashionseg.errors import UsageError
from fashionseg.files import atomic_write, is_photo
from fashionseg.inference.fragments import DEFAULT_MIN_AREA
from fashionseg.inference.predictor import Predictor
from fashionseg.machine import available_cores
from fashionseg.outputs import ErrorLog, output_dir, output_file
from fashionseg.use.predict.instances import coco_entries
from fashionseg.use.predict.kaggle import check_kaggle_categories, write_kaggle_csv
from fashionseg.use.predict.pipeline import run_pipeline, write_processes
from fashionseg.use.predict.products import parse_only
from fashionseg.use.predict.segmentation import Products
from fashionseg.use.table import GarmentTable


def collect_photos(inputs: list[str | Path]) -> list[Path]:
    """Files as given, and the photos (by extension) anywhere under the folders given."""
    photos: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            photos += sorted(p for p in path.rglob("*") if is_photo(p) and p.is_file())
        elif path.is_file():
            photos.append(path)
        else:
            raise FileNotFoundError(f"{path}: no such file or folder")
    if not photos:
        raise FileNotFoundError(f"no photos found in {', '.join(map(str, inputs))}")
    return photos


def safe_stem(path: Path) -> str:
    """A photo's stem as an output name that stays inside the output folder and is not hidden:
    leading dots become ``_`` (``...jpg`` has the stem ``..``), and an empty one is ``photo``."""
    stem = path.stem
    bare = stem.lstrip(".")
    stem = "_" * (len(stem) - len(bare)) + bare
    return "".join("_" if c in "/\\\0:" or ord(c) < 32 else c for c in stem) or "photo"


def output_stems(photos: list[Path]) -> list[str]:
    """A distinct output name per photo: its :func:`safe_stem`, with ``-2``, ``-3`` ... where
    taken.

    Names are compared without case, so outputs stay apart on case-insensitive disks too.
    """
    taken: set[str] = set()
    tries: Counter[str] = Counter()
    stems = []
    for p in photos:
        base = stem = safe_stem(p)
        while stem.lower() in taken:
            tries[base.lower()] += 1
            stem = f"{base}-{tries[base.lower()] + 1}"
        taken.add(stem.lower())
        stems.append(stem)
    return stems


def segment(
    predictor: Predictor,
    photos: list[Image.Image],
    tta: str | None = None,
    canvases: list[np.ndarray] | None = None,
):
    """Label maps (H, W) uint8 at each photo's own size, one batch through the model.

    ``canvases`` (from ``predictor.canvas`` on the files) are used when given; otherwise they
    are made from the decoded photos.
    """
    if not photos:
        return []
    if canvases is None:
        canvases = [predictor.canvas(p) for p in photos]
    logits = predictor.logits(np.stack(canvases), tta=tta)
    return [predictor.labels(lg, p.height, p.width) for lg, p in zip(logits, photos)]


def predict(
    model: str | Path,
    inputs: list[str | Path],
    out: str | Path,
    batch_size: int = 8,
    tta: str | None = None,
    kaggle_csv: str | Path | None = None,
    device: str = "auto",
    workers: int | None = None,
    processes: int | None = None,
    auto_orient: bool = False,
    only: str | None = None,
    groups: bool = False,
    cutouts: bool = False,
    feather: float = 0.0,
    skip_existing: bool = False,
    table: str | Path | None = None,
    min_area: float = DEFAULT_MIN_AREA,
    instances: bool = False,
    coco_results: str | Path | None = None,
) -> dict:
    """Segment photos and write ``<stem>.png``, ``<stem>_overlay.jpg`` and ``<stem>.json``
    (and ``<stem>/<garment>.png`` cut-outs with ``cutouts``).

    ``workers`` threads (default: one per core) decode photos ahead of the model and label
    and write behind it; ``processes`` (default: ``write_processes``; 0 = threads only) take
    the writing over on machines with many cores. Unreadable photos go to ``errors.csv`` in ``out`` and are skipped. ``only`` (names or
    ClassIds, comma-separated; group names with ``groups``) keeps those garments alone;
    ``skip_existing`` leaves photos whose ``<stem>.json`` is already there; ``table`` writes
    the catalogue table (Parquet, one row per garment, ``use/table.py``); ``min_area`` is the
    fragment rule (``inference/fragments.py``; 0: the model's label maps as they are);
    ``instances`` adds each photo's instances to its JSON (and makes the cut-outs and the
    Kaggle rows per instance); ``coco_results`` writes them in COCO's results format, which
    ``fashionseg score`` reads.

    Returns:
        ``{"photos", "written", "skipped", "existing", "out"}``.
    """
    predictor = Predictor(model, device, min_area=min_area)
    instances = instances or bool(coco_results) or predictor.task == "instances"
    if instances and groups:
        raise UsageError("instances are of categories: leave out --groups")
    if kaggle_csv:
        if groups or only:
            raise UsageError("--kaggle-csv needs every category: leave out --groups and --only")
        check_kaggle_categories(predictor)
    names = GROUP_NAMES if groups else predictor.categories.names()
    products = Products(
        only=frozenset(parse_only(only, names)) if only else None,
        groups=groups,
        cutouts=cutouts,
        feather=feather,
        instances=instances,
    )
    all_photos = collect_photos(inputs)
    all_stems = output_stems(all_photos)
    out = output_dir(out, inputs)
    for extra in (kaggle_csv, table, coco_results):
        if extra:
            output_file(extra, all_photos)
    with Sinks(kaggle_csv, table, coco_results) as sinks:
        photos, stems = pending(all_photos, all_stems, out, skip_existing, sinks)
        errors = ErrorLog(out, append=skip_existing)
        written = run_pipeline(
            predictor, photos, stems, out, products, errors, sinks.add,
            batch_size=batch_size, tta=tta, workers=workers or available_cores(),
            processes=write_processes(len(photos), available_cores())
            if processes is None else processes,
            auto_orient=auto_orient,
        )  # fmt: skip
        errors.close()
    return summary(len(all_photos), len(photos), written, errors, out)


def summary(photos: int, todo: int, written: int, errors: ErrorLog, out) -> dict:
    """What a predict run returns: ``{"photos", "written", "skipped", "existing", "out"}``."""
    return {
        "photos": photos,
        "written": written,
        "skipped": errors.count,
        "existing": photos - todo,
        "out": str(out),
    }


class Sinks:
    """Where each finished photo's document goes besides its own files: the Kaggle CSV's rows
    and the COCO results (written at the end) and the catalogue table (written as photos
    finish). As a context manager: all are written on a clean exit, and the unfinished table
    is dropped on an error."""

    def __init__(
        self,
        kaggle_csv: str | Path | None,
        table: str | Path | None,
        coco_results: str | Path | None = None,
    ):
        self.kaggle_csv = kaggle_csv
        self.kaggle: dict[str, list[dict]] = {}
        self.table = GarmentTable(table) if table else None
        self.coco_results = coco_results
        self.coco: list[dict] = []

    def add(self, photo: Path, doc: dict) -> None:
        if self.kaggle_csv:
            # One row per instance where the document lists them, else one per category.
            self.kaggle[photo.stem] = doc.get("instances", doc["garments"])
        if self.coco_results:
            self.coco += coco_entries(doc, photo.stem)
        if self.table is not None:
            self.table.add(doc)

    def __enter__(self) -> Sinks:
        return self

    def __exit__(self, kind, *_) -> None:
        if kind is not None:
            if self.table is not None:
                self.table.abort()
            return
        if self.kaggle_csv:
            write_kaggle_csv(self.kaggle, self.kaggle_csv)
        if self.coco_results:
            atomic_write(self.coco_results, json.dumps(self.coco))
            print(
                f"COCO results: {self.coco_results} ({len(self.coco)} instances)", file=sys.stderr
            )
        if self.table is not None:
            self.table.close()


def pending(photos: list[Path], stems: list[str], out: Path, skip_existing: bool, sinks: Sinks):
    """The photos still to do (all, unless ``skip_existing`` finds their JSON; those join the
    Kaggle rows and the table from what they wrote)."""
    todo, todo_stems = [], []
    for photo, stem in zip(photos, stems):
        done = out / f"{stem}.json"
        if skip_existing and done.is_file():
            sinks.add(photo, json.loads(done.read_text()))
            continue
        todo.append(photo)
        todo_stems.append(stem)
    return todo, todo_stems
