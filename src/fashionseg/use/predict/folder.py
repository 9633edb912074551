"""``fashionseg predict``: label maps, overlays and garment summaries for a set of photos.

This file gathers the photos and names their outputs; ``pipeline.py`` overlaps decoding,
the model and writing; ``write.py`` writes one photo's files.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from fashionseg.data.groups import GROUP_NAMES
from fashionseg.data.schema.predictions import SchemaError, read_prediction
from fashionseg.errors import UsageError
from fashionseg.files import atomic_write, collect_photos
from fashionseg.inference.predictor import Predictor
from fashionseg.machine import available_cores
from fashionseg.outputs import (
    ErrorLog,
    OutputPlan,
    output_dir,
    output_file,
    output_stems,
)
from fashionseg.use.labelling.sinks import LabellingFiles, LabellingSinks
from fashionseg.use.predict.instances import coco_entries
from fashionseg.use.predict.kaggle import check_kaggle_categories, write_kaggle_csv
from fashionseg.use.predict.options import PredictOptions
from fashionseg.use.predict.pipeline import run_pipeline, write_processes
from fashionseg.use.predict.products import parse_only
from fashionseg.use.predict.segmentation import Products
from fashionseg.use.table import GarmentTable

# The files each photo gets in the output folder: suffix after its stem, and what it is.
PHOTO_FILES = (
    (".png", "the label map"),
    ("_overlay.jpg", "the overlay"),
    (".json", "the prediction"),
)


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
    options: PredictOptions | None = None,
    *,
    kaggle_csv: str | Path | None = None,
    table: str | Path | None = None,
    coco_results: str | Path | None = None,
    labelling: LabellingFiles = LabellingFiles(),
    workers: int | None = None,
    processes: int | None = None,
    **changes,
) -> dict:
    """Segment photos and write ``<stem>.png``, ``<stem>_overlay.jpg`` and ``<stem>.json``
    (and ``<stem>/<garment>.png`` cut-outs with ``cutouts``), as ``options`` say
    (:class:`~fashionseg.use.predict.options.PredictOptions`; ``changes`` by option name).

    ``workers`` threads (default: one per core) decode photos ahead of the model and label
    and write behind it; ``processes`` (default: ``write_processes``; 0 = threads only) take
    the writing over on machines with many cores. Unreadable photos go to ``errors.csv`` in ``out`` and are skipped. ``only`` (names or
    ClassIds, comma-separated; group names with ``groups``) keeps those garments alone;
    ``skip_existing`` leaves photos whose ``<stem>.json`` is already there; ``table`` writes
    the catalogue table (Parquet, one row per garment, ``use/table.py``); ``min_area`` is the
    fragment rule (``inference/fragments.py``; 0: the model's label maps as they are);
    ``instances`` adds each photo's instances to its JSON (and makes the cut-outs and the
    Kaggle rows per instance); ``coco_results`` writes them in COCO's results format, which
    ``fashionseg score`` reads; ``labelling`` names pre-annotation files for Label Studio and
    CVAT (``use/labelling/``). Every output is planned and checked first
    (:func:`plan_outputs`); ``overwrite`` lets it replace files fashionseg did not write.

    Returns:
        ``{"photos", "written", "skipped", "existing", "out"}``.
    """
    o = PredictOptions.of(options, **changes)
    predictor = Predictor(model, o.device, min_area=o.min_area)
    instances = o.instances or bool(coco_results) or predictor.lists_instances
    groups, only = o.groups, o.only
    if instances and groups:
        raise UsageError("instances are of categories: leave out --groups")
    if labelling and groups:
        raise UsageError("labels are categories: leave out --groups with --labelstudio and --cvat")
    if kaggle_csv:
        if groups or only:
            raise UsageError("--kaggle-csv needs every category: leave out --groups and --only")
        check_kaggle_categories(predictor)
    names = GROUP_NAMES if groups else predictor.categories.names()
    only_values = frozenset(parse_only(only, names)) if only else None
    products = Products(only_values, groups, o.cutouts, o.feather, instances)
    all_photos = collect_photos(inputs)
    all_stems = output_stems(all_photos)
    photos, stems, done = pending(all_photos, all_stems, Path(out), o.skip_existing)
    out = output_dir(out, inputs)
    plan_outputs(
        out, inputs, stems, products, o.overwrite, kaggle_csv, table, coco_results, labelling
    )
    labelling_sinks = LabellingSinks.of(labelling, predictor) if labelling else None
    with Sinks(kaggle_csv, table, coco_results, labelling_sinks) as sinks:
        for stem, doc in done:
            sinks.add(stem, doc)
        errors = ErrorLog(out, append=o.skip_existing)
        written = run_pipeline(
            predictor, photos, stems, out, products, errors, sinks.add,
            batch_size=o.batch_size, tta=o.tta, workers=workers or available_cores(),
            processes=write_processes(len(photos), available_cores())
            if processes is None else processes,
            auto_orient=o.auto_orient,
        )  # fmt: skip
        errors.close()
    return summary(len(all_photos), len(photos), written, errors, out)


def plan_outputs(
    out: Path | None,
    inputs,
    stems: list[str],
    products: Products,
    overwrite: bool,
    kaggle_csv=None,
    table=None,
    coco_results=None,
    labelling: LabellingFiles = LabellingFiles(),
) -> None:
    """Declare and check everything predict writes (``outputs.OutputPlan``): each photo's
    files in ``out``, the error log and the named sinks; refused as a whole before any work
    when two land on one path, one lands on an input, or one replaces a file of the user's."""
    plan = OutputPlan(out, inputs, overwrite, "predict")
    if out is not None:
        plan.add(out / "errors.csv", "the error log")
        for stem in stems:
            for suffix, what in PHOTO_FILES:
                plan.add(out / f"{stem}{suffix}", f"{what} of photo {stem!r}")
            if products.cutouts:
                plan.add(out / stem, f"the cut-outs of photo {stem!r}")
    for path, flag in (
        (kaggle_csv, "--kaggle-csv"),
        (table, "--table"),
        (coco_results, "--coco-results"),
        (labelling.labelstudio, "--labelstudio"),
        (labelling.cvat, "--cvat"),
    ):
        if path:
            output_file(path)
            plan.add(path, flag, named=True)
    plan.check()
    plan.commit()


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
        labelling: LabellingSinks | None = None,
    ):
        self.labelling = labelling
        self.kaggle_csv = kaggle_csv
        self.kaggle: dict[str, list[dict]] = {}
        self.table = GarmentTable(table) if table else None
        self.coco_results = coco_results
        self.coco: list[dict] = []

    def add(self, stem: str, doc: dict) -> None:
        """One photo's document, under its output stem (the key of its rows in every sink,
        so two photos of one name in two folders keep their rows apart)."""
        if self.kaggle_csv:
            # One row per instance where the document lists them, else one per category.
            self.kaggle[stem] = doc.get("instances", doc["garments"])
        if self.coco_results:
            self.coco += coco_entries(doc, stem)
        if self.table is not None:
            self.table.add(doc)
        if self.labelling is not None:
            self.labelling.add(stem, doc)

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
        if self.labelling is not None:
            self.labelling.close()


def pending(
    photos: list[Path], stems: list[str], out: Path | None, skip_existing: bool
) -> tuple[list[Path], list[str], list[tuple[str, dict]]]:
    """The photos still to do and their stems (all, unless ``skip_existing`` finds their
    JSON), and the (stem, document) of those done before, for the sinks."""
    todo, todo_stems, done = [], [], []
    for photo, stem in zip(photos, stems):
        path = out / f"{stem}.json" if out is not None else None
        if skip_existing and path is not None and path.is_file():
            try:
                done.append((stem, read_prediction(path.read_bytes(), str(path), complete=True)))
                continue
            except SchemaError as e:  # a damaged document: the photo is done again
                print(f"{e}; predicting {photo} again", file=sys.stderr)
        todo.append(photo)
        todo_stems.append(stem)
    return todo, todo_stems, done
