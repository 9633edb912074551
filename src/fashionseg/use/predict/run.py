"""``fashionseg predict``: label maps, overlays and garment summaries for a set of photos.

Photos are decoded and resized on threads while the model works on the previous batch, and
labelled behind it on the same threads. The outputs (PNG, JPEG, JSON, RLE, colour names) are
written there too on a small machine; with many cores and a large folder they go to a process
pool instead, because that work holds the GIL for most of its time (measured on a 16-core GPU
machine: 16 threads wrote no faster than 2).
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter, deque
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from ...data.images import DataError
from ...data.parallel import ErrorLog
from ...outputs import output_dir, output_file
from ...report.colors import overlay_with_legend
from ..inference import Predictor
from .garments import summarize
from .kaggle import check_kaggle_categories, write_kaggle_csv
from .products import GROUP_NAMES, cutout, cutout_name, keep_only, parse_only, to_groups

PHOTO_EXTENSIONS = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"}


def collect_photos(inputs: list[str | Path]) -> list[Path]:
    """Files as given, and the photos (by extension) anywhere under the folders given."""
    photos: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            photos += sorted(
                p for p in path.rglob("*") if p.suffix.lower() in PHOTO_EXTENSIONS and p.is_file()
            )
        elif path.is_file():
            photos.append(path)
        else:
            raise FileNotFoundError(f"{path}: no such file or folder")
    if not photos:
        raise FileNotFoundError(f"no photos found in {', '.join(map(str, inputs))}")
    return photos


def output_stems(photos: list[Path]) -> list[str]:
    """A distinct output name per photo: its stem, with ``-2``, ``-3`` ... where taken.

    Names are compared without case, so outputs stay apart on case-insensitive disks too.
    """
    taken: set[str] = set()
    tries: Counter[str] = Counter()
    stems = []
    for p in photos:
        stem = p.stem
        while stem.lower() in taken:
            tries[p.stem.lower()] += 1
            stem = f"{p.stem}-{tries[p.stem.lower()] + 1}"
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


def describe(
    predictor: Predictor,
    photo: Image.Image,
    labels: np.ndarray,
    path: str,
    with_rle=True,
    names: list[str] | None = None,
) -> dict:
    """The JSON document of one photo: image, model and garments (``names``: label value ->
    name, the model's categories unless the label map holds groups)."""
    names = names or predictor.categories.names()
    return {
        "image": {"path": path, "width": photo.width, "height": photo.height},
        "model": predictor.name,
        "garments": summarize(np.asarray(photo), labels, names, with_rle=with_rle),
    }


@dataclass
class Products:
    """What ``predict`` makes of each label map besides the plain outputs."""

    only: set[int] | None = None  # label values to keep (the rest become background)
    groups: bool = False  # body-region groups instead of categories
    cutouts: bool = False  # one RGBA cut-out per garment
    feather: float = 0.0  # soft cut-out edge, pixels


def _write(
    predictor: Predictor,
    out: Path,
    stem: str,
    photo: Image.Image,
    labels,
    path: str,
    products: Products,
):
    """Summarise one photo and write its files; returns the JSON document."""
    names = predictor.categories.names()
    if products.groups:
        labels, names = to_groups(labels, names), GROUP_NAMES
    if products.only is not None:
        labels = keep_only(labels, products.only)
    doc = describe(predictor, photo, labels, path, names=names)
    rgb = np.asarray(photo)
    if products.cutouts and doc["garments"]:
        (out / stem).mkdir(exist_ok=True)
        for g in doc["garments"]:
            name = f"{stem}/{cutout_name(g['name'])}.png"
            cutout(rgb, labels == g["class_id"] + 1, products.feather).save(out / name)
            g["cutout"] = name
    Image.fromarray(labels).save(out / f"{stem}.png", optimize=False, compress_level=1)
    overlay_with_legend(rgb, labels, names).save(out / f"{stem}_overlay.jpg", quality=88)
    # The JSON is written last and renamed into place: it marks a photo as done.
    tmp = out / f".{stem}.json.tmp"
    tmp.write_text(json.dumps(doc, indent=1))
    tmp.replace(out / f"{stem}.json")
    return doc


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
) -> dict:
    """Segment photos and write ``<stem>.png``, ``<stem>_overlay.jpg`` and ``<stem>.json``
    (and ``<stem>/<garment>.png`` cut-outs with ``cutouts``).

    ``workers`` threads (default: one per core) decode photos ahead of the model and label
    and write behind it; ``processes`` (default: ``write_processes``; 0 = threads only) take
    the writing over on machines with many cores. Unreadable photos go to ``errors.csv`` in ``out`` and are skipped. ``only`` (names or
    ClassIds, comma-separated; group names with ``groups``) keeps those garments alone;
    ``skip_existing`` leaves photos whose ``<stem>.json`` is already there.

    Returns:
        ``{"photos", "written", "skipped", "existing", "out"}``.
    """
    predictor = Predictor(model, device)
    if kaggle_csv:
        if groups or only:
            raise ValueError("--kaggle-csv needs every category: leave out --groups and --only")
        check_kaggle_categories(predictor)
    names = GROUP_NAMES if groups else predictor.categories.names()
    products = Products(
        only=parse_only(only, names) if only else None,
        groups=groups,
        cutouts=cutouts,
        feather=feather,
    )
    all_photos = collect_photos(inputs)
    all_stems = output_stems(all_photos)
    out = output_dir(out, inputs)
    if kaggle_csv:
        output_file(kaggle_csv, all_photos)
    kaggle: dict[str, list[dict]] | None = {} if kaggle_csv else None
    photos, stems = _pending(all_photos, all_stems, out, skip_existing, kaggle)
    errors = ErrorLog(out, append=skip_existing)
    written = _pipeline(
        predictor, photos, stems, out, products, errors, kaggle,
        batch_size=batch_size, tta=tta, workers=workers or os.cpu_count() or 2,
        processes=write_processes(len(photos), os.cpu_count() or 1)
        if processes is None else processes,
        auto_orient=auto_orient,
    )  # fmt: skip
    errors.close()
    if kaggle_csv:
        write_kaggle_csv(kaggle, kaggle_csv)
    return {
        "photos": len(all_photos),
        "written": written,
        "skipped": errors.count,
        "existing": len(all_photos) - len(photos),
        "out": str(out),
    }


def _label_and_write(
    predictor: Predictor, out: Path, stem: str, photo, logits, path, products, writers
):
    """Write one photo's outputs; ``logits`` (C, h, w) are labelled here first, unless they
    are already its label map (uint8 (H, W), from ``device_labels``)."""
    if isinstance(logits, torch.Tensor):
        labels = predictor.labels(logits, photo.height, photo.width)
    else:
        labels = logits
    if writers is None:
        return _write(predictor, out, stem, photo, labels, path, products)
    # What _write needs of the model, without the model: its name and categories.
    meta = SimpleNamespace(name=predictor.name, categories=predictor.categories)
    return writers.submit(_write, meta, out, stem, photo, labels, path, products).result()


def write_processes(photos: int, cores: int) -> int:
    """Processes for the writes: none on a small machine or folder (threads do, and a process
    pool's start-up would cost more than it saves); otherwise all cores but two (the model's
    feeding thread and the decoders keep those)."""
    return max(0, cores - 2) if cores >= 4 and photos >= 64 else 0


def _pending(photos: list[Path], stems: list[str], out: Path, skip_existing: bool, kaggle):
    """The photos still to do (all, unless ``skip_existing`` finds their JSON; those join the
    Kaggle rows from what they wrote)."""
    todo, todo_stems = [], []
    for photo, stem in zip(photos, stems):
        done = out / f"{stem}.json"
        if skip_existing and done.is_file():
            if kaggle is not None:
                kaggle[photo.stem] = json.loads(done.read_text())["garments"]
            continue
        todo.append(photo)
        todo_stems.append(stem)
    return todo, todo_stems


def _pipeline(
    predictor: Predictor,
    photos: list[Path],
    stems: list[str],
    out: Path,
    products: Products,
    errors: ErrorLog,
    kaggle,
    *,
    batch_size: int,
    tta: str | None,
    workers: int,
    processes: int,
    auto_orient: bool,
) -> int:
    """The photos through the model on one thread pool (and the writes on ``processes``
    processes when above 0); returns the photos written."""
    threads = torch.get_num_threads()
    if predictor.backend == "onnxruntime":
        # Torch only upsamples here, on the pool's threads, beside ONNX Runtime's own: one
        # thread each keeps them from fighting over the cores.
        torch.set_num_threads(1)
    writers = None
    if processes > 0:
        # forkserver: the writers start from a clean process, not a fork of this one with its
        # CUDA context and thread pools.
        writers = ProcessPoolExecutor(processes, mp_context=get_context("forkserver"))
    try:
        with ThreadPoolExecutor(max(1, workers, processes + 2)) as pool:
            written = _run_batches(
                pool, predictor, photos, stems, out, products, errors, kaggle,
                batch_size, tta, auto_orient, writers,
                # Writes in flight: two batches, or two per writer process if more.
                max(2 * batch_size, 2 * processes),
            )  # fmt: skip
    finally:
        torch.set_num_threads(threads)
        if writers is not None:
            writers.shutdown()
    return written


def _run_batches(
    pool, predictor, photos, stems, out, products, errors, kaggle, batch_size, tta, auto_orient,
    writers=None, window: int = 16,
) -> int:  # fmt: skip
    """Decode ahead of the model (three batches), run it batch by batch, label and write
    behind it (two batches); returns the photos written."""
    written = 0

    def read(path: Path) -> tuple[Image.Image, np.ndarray]:
        # The full photo for the outputs; the canvas decoded as evaluate decodes it.
        return predictor.photo_and_canvas(path, auto_orient)

    reads: deque[Future] = deque(pool.submit(read, p) for p in photos[: 3 * batch_size])
    next_read = len(reads)
    writes: deque[tuple[int, Future]] = deque()
    bar = tqdm(total=len(photos), desc="predict", unit="photo", file=sys.stderr)
    for start in range(0, len(photos), batch_size):
        batch = []
        for k in range(start, min(start + batch_size, len(photos))):
            fut = reads.popleft()
            if next_read < len(photos):
                reads.append(pool.submit(read, photos[next_read]))
                next_read += 1
            try:
                batch.append((k, fut.result()))
            except DataError as e:
                errors.add(str(photos[k]), str(e))
                bar.update(1)
        if not batch:
            continue
        logits = predictor.logits(np.stack([c for _, (_, c) in batch]), tta=tta)
        if logits.device.type != "cpu":
            logits = predictor.device_labels(logits, [(p.height, p.width) for _, (p, _) in batch])
        for (k, (photo, _)), lg in zip(batch, logits):
            # On the CPU, upsampling to the photo's size runs on the pool, beside the next batch.
            job = pool.submit(
                _label_and_write,
                predictor, out, stems[k], photo, lg, str(photos[k]), products, writers,
            )  # fmt: skip
            writes.append((k, job))
        while writes and (len(writes) > window or writes[0][1].done()):
            written += _finish(*writes.popleft(), photos, errors, bar, kaggle)
    while writes:
        written += _finish(*writes.popleft(), photos, errors, bar, kaggle)
    bar.close()
    return written


def _finish(k: int, fut: Future, photos: list[Path], errors: ErrorLog, bar, kaggle) -> int:
    bar.update(1)
    try:
        doc = fut.result()
    except OSError as e:
        errors.add(str(photos[k]), f"could not write its outputs: {e}")
        return 0
    if kaggle is not None:
        kaggle[photos[k].stem] = doc["garments"]
    return 1
