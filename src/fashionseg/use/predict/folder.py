"""``fashionseg predict``: label maps, overlays and garment summaries for a set of photos.

This file runs the command: ``sources.py`` says which photos, ``plan.py`` checks what will be
written, ``pipeline.py`` overlaps decoding, the model and writing, ``write.py`` writes one
photo's files and ``sinks/`` the whole-run files.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image

from fashionseg.files import collect_photos
from fashionseg.inference.predictor import Predictor
from fashionseg.machine import available_cores
from fashionseg.outputs import ErrorLog, output_dir
from fashionseg.use.predict.options import PredictOptions
from fashionseg.use.predict.pipeline import run_pipeline, write_processes
from fashionseg.use.predict.plan import plan_outputs
from fashionseg.use.predict.segmentation import Products
from fashionseg.use.predict.sinks import (
    SINKS,
    PhotoNaming,
    SinkContext,
    check_sinks,
    open_sinks,
    split_sinks,
)
from fashionseg.use.predict.sources import Work


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
    naming: PhotoNaming = PhotoNaming(),
    workers: int | None = None,
    processes: int | None = None,
    **changes,
) -> dict:
    """Segment photos and write ``<stem>.png``, ``<stem>_overlay.jpg`` and ``<stem>.json``
    (and ``<stem>/<garment>.png`` cut-outs with ``cutouts``), as ``options`` say
    (:class:`~fashionseg.use.predict.options.PredictOptions`), and the whole-run files named.

    Args:
        model: a ``.pt`` checkpoint or an exported ``.onnx`` model.
        inputs: photos and folders.
        out: the output folder.
        options: predict's options; ``changes`` may name options too (``device="cpu"``).
        naming: how the labelling tools' files name the photos.
        workers: threads (default: one per core) that decode photos ahead of the model and
            label and write behind it.
        processes: processes that take the writing over on machines with many cores
            (default: ``pipeline.write_processes``; 0: threads only).
        **changes: options by name, and the sinks to write by name, each with its path:
            ``table``, ``kaggle_csv``, ``coco_results``, ``labelstudio``, ``cvat``
            (``use/predict/sinks/``; a sink of instances makes the run list them).

    Unreadable photos go to ``errors.csv`` in ``out`` and are skipped. Every output is
    planned and checked first (``plan.py``); ``overwrite`` lets it replace files fashionseg
    did not write.

    Returns:
        ``{"photos", "written", "skipped", "existing", "out"}``.
    """
    sink_paths, changes = split_sinks(changes)
    o = PredictOptions.of(options, **changes)
    if any(SINKS[n].instances for n, path in sink_paths.items() if path):
        o = replace(o, instances=True)
    predictor = Predictor(model, o.device, min_area=o.min_area)
    products = Products.of(o, predictor)
    context = SinkContext(predictor, o, naming)
    check_sinks(sink_paths, context)
    work = Work.of(collect_photos(inputs), Path(out), o.skip_existing)
    out = output_dir(out, inputs)
    plan_outputs(out, inputs, work.stems, o.cutouts, o.overwrite, sink_paths)
    with open_sinks(sink_paths, context) as sinks:
        for stem, doc in work.done:
            sinks.add(stem, doc)
        errors = ErrorLog(out, append=o.skip_existing)
        written = run_pipeline(
            predictor, work.todo, work.stems, out, products, errors, sinks.add,
            batch_size=o.batch_size, tta=o.tta, workers=workers or available_cores(),
            processes=write_processes(len(work.todo), available_cores())
            if processes is None else processes,
            auto_orient=o.auto_orient,
        )  # fmt: skip
        errors.close()
    return work.summary(written, errors, out)
