"""predict's pipeline: decoding ahead of the model, labelling and writing behind it.

Photos are decoded and resized on threads while the model works on the previous batch, and
labelled behind it on the same threads (on a GPU, a batch's label maps are made on the card).
The outputs (PNG, JPEG, JSON, RLE, colour names) are written there too on a small machine;
with many cores and a large folder they go to a process pool instead, because that work holds
the GIL for much of its time (on a 16-core machine, 16 threads wrote no faster than 2).
Decoding stays on the threads: in worker processes it saved the parent no GIL time (its
canvases then cross a pipe). Both are measured in docs/benchmarks.md.
"""

from __future__ import annotations

import sys
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from fashionseg.data.images import DataError
from fashionseg.inference.predictor import Predictor
from fashionseg.outputs import ErrorLog
from fashionseg.use.predict.segmentation import Products, Segmentation
from fashionseg.use.predict.write import write_photo


def write_processes(photos: int, cores: int) -> int:
    """Processes for the writes: none on a small machine or folder (threads do, and a process
    pool's start-up would cost more than it saves); otherwise all cores but two (the model's
    feeding thread and the decoders keep those)."""
    return max(0, cores - 2) if cores >= 4 and photos >= 64 else 0


def _label_and_write(
    predictor: Predictor, out: Path, stem: str, photo, logits, path, products, writers
):
    """Write one photo's outputs; ``logits`` (C, h, w) are labelled here first, unless they
    are already its label map (uint8 (H, W), from ``device_labels``)."""
    labels = logits if isinstance(logits, np.ndarray) else None  # from device_labels
    seg = Segmentation.from_model(predictor, photo, logits, path, products, labels)
    if writers is None:
        return write_photo(out, stem, seg, products)
    return writers.submit(write_photo, out, stem, seg, products).result()


def run_pipeline(
    predictor: Predictor,
    photos: list[Path],
    stems: list[str],
    out: Path,
    products: Products,
    errors: ErrorLog,
    done: Callable[[str, dict], None] | None,
    *,
    batch_size: int,
    tta: str | None,
    workers: int,
    processes: int,
    auto_orient: bool,
) -> int:
    """The photos through the model on one thread pool (and the writes on ``processes``
    processes when above 0); ``done(stem, doc)`` is called on this thread with each photo's
    JSON document as it is written. Returns the photos written."""
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
                pool, predictor, photos, stems, out, products, errors, done,
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
    pool, predictor, photos, stems, out, products, errors, done, batch_size, tta, auto_orient,
    writers=None, window: int = 16,
) -> int:  # fmt: skip
    """Decode ahead of the model (three batches), run it batch by batch, label and write
    behind it (two batches); returns the photos written."""
    written = 0

    def read(path: Path) -> Future:
        # The full photo for the outputs; the canvas decoded as evaluate decodes it.
        return pool.submit(predictor.photo_and_canvas, path, auto_orient)

    reads: deque[Future] = deque(read(p) for p in photos[: 3 * batch_size])
    next_read = len(reads)
    writes: deque[tuple[int, Future]] = deque()
    bar = tqdm(total=len(photos), desc="predict", unit="photo", file=sys.stderr)
    for start in range(0, len(photos), batch_size):
        batch = []
        for k in range(start, min(start + batch_size, len(photos))):
            fut = reads.popleft()
            if next_read < len(photos):
                reads.append(read(photos[next_read]))
                next_read += 1
            try:
                batch.append((k, fut.result()))
            except DataError as e:
                errors.add(str(photos[k]), str(e))
                bar.update(1)
        if not batch:
            continue
        logits = predictor.logits(np.stack([c for _, (_, c) in batch]), tta=tta)
        if (
            isinstance(logits, torch.Tensor)
            and logits.device.type != "cpu"
            and not products.instances
        ):
            logits = predictor.device_labels(logits, [(p.height, p.width) for _, (p, _) in batch])
        for (k, (photo, _)), lg in zip(batch, logits):
            # On the CPU, upsampling to the photo's size runs on the pool, beside the next batch.
            job = pool.submit(
                _label_and_write,
                predictor, out, stems[k], photo, lg, str(photos[k]), products, writers,
            )  # fmt: skip
            writes.append((k, job))
        while writes and (len(writes) > window or writes[0][1].done()):
            written += _finish(*writes.popleft(), photos, stems, errors, bar, done)
    while writes:
        written += _finish(*writes.popleft(), photos, stems, errors, bar, done)
    bar.close()
    return written


def _finish(
    k: int, fut: Future, photos: list[Path], stems: list[str], errors: ErrorLog, bar, done
) -> int:
    bar.update(1)
    try:
        doc = fut.result()
    except (OSError, ValueError) as e:  # one photo's outputs failed; the others go on
        errors.add(str(photos[k]), f"could not write its outputs: {e}")
        return 0
    if done is not None:
        done(stems[k], doc)
    return 1
