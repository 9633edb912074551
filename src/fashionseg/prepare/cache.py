"""The training cache: every photo and label map decoded once, resized, and stored as uint8
memory-mapped arrays, so training reads no JPEG and no RLE.

Layout of a cache folder::

    meta.json     settings, ImageIds, original sizes, category table
    images.npy    (N, H, W, 3) uint8 photos
    masks.npy     (N, H, W) uint8 label maps (ClassId + 1, 0 background, 255 padding)
    status.npy    (N,) uint8: 0 pending, 1 done, 2 skipped (see errors.csv)
    errors.csv    skipped images and why

Writing is resumable: ``status`` is flushed only after the data it vouches for, so a killed
run redoes at most the last few images. One process builds a cache at a time: the others (two
``prepare`` runs, or two machines training on one raw folder through a shared user cache) wait
on ``.lock`` and then open the finished cache; readers never open an unfinished one.
"""

from __future__ import annotations

import functools
import json
import mmap
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.lib.format import open_memmap

from fashionseg.data.categories import CategoryTable
from fashionseg.data.compose import (
    compose_resized,
    decode_and_sample,
    fit,
    keep_classes,
    sample_instances,
)
from fashionseg.data.formats import open_dataset
from fashionseg.data.images import load_resized
from fashionseg.data.records import Dataset, Record
from fashionseg.errors import ConfigError, FashionsegError
from fashionseg.files import FileLock, atomic_write
from fashionseg.outputs import ErrorLog
from fashionseg.prepare.instances import InstanceLog, read_instances, resized_instances
from fashionseg.prepare.parallel import StrictError, run_records
from fashionseg.sizes import parse_size
from fashionseg.tasks import task_facts

CACHE_VERSION = 1


class CacheError(FashionsegError, ValueError):
    """A cache folder that cannot be used as asked (unfinished, or of other settings)."""


PENDING, DONE, SKIPPED = 0, 1, 2


def prepare_one(
    record: Record,
    out_h: int,
    out_w: int,
    keep_aspect: bool,
    classes: str,
    instance_rule: str | None = None,
) -> tuple:
    """Photo (out_h, out_w, 3) and label map (out_h, out_w) for one record, both uint8, and
    with ``instance_rule`` its instances at that size (``prepare/instances.py``)."""
    image = load_resized(record.path, record.height, record.width, out_h, out_w, keep_aspect)
    h, w = record.height, record.width
    instances = keep_classes(record.instances, classes)
    new_size = fit(h, w, out_h, out_w, keep_aspect)[:2]
    decoded = None
    if instance_rule == "components":
        # The rule decodes every row at full resolution anyway: sample those masks (a
        # gather) instead of looking each row's runs up on the grid a second way.
        decoded, sampled = decode_and_sample(instances, h, w, *new_size)
    else:
        # Each row's mask at the canvas's size, once: the label map and instances share it.
        sampled = sample_instances(instances, h, w, *new_size)
    labels = compose_resized(instances, h, w, out_h, out_w, keep_aspect, sampled)
    if instance_rule is None:
        return image, labels
    args = (out_h, out_w, keep_aspect, classes, instance_rule, sampled, decoded)
    return image, labels, resized_instances(record, *args)


@dataclass
class Cache:
    """A prepared cache opened read-only; ``indices`` are the images that were prepared."""

    root: Path
    meta: dict
    images: np.ndarray
    masks: np.ndarray
    indices: np.ndarray

    @functools.cached_property
    def instances(self) -> dict[int, list[dict]]:
        """Row index -> the photo's instances at the cache's size (an instance cache only)."""
        if not task_facts(self.meta.get("task")).instances:
            raise CacheError(f"{self.root}: not an instance cache (prepare --task instances)")
        return read_instances(self.root, self.indices)

    @property
    def categories(self) -> CategoryTable:
        return CategoryTable.from_json(self.meta["categories"])

    @property
    def size(self) -> tuple[int, int]:
        return tuple(self.meta["size"])

    @property
    def ids(self) -> list[str]:
        return [self.meta["ids"][i] for i in self.indices]

    def __len__(self) -> int:
        return len(self.indices)


def is_cache(path: str | Path) -> bool:
    return (Path(path) / "meta.json").is_file() and (Path(path) / "masks.npy").is_file()


def cache_lock(root: Path) -> FileLock:
    """The lock a process holds while it builds (or finishes) the cache in ``root``."""
    return FileLock(root / ".lock", f"the cache {root}")


def open_cache(path: str | Path) -> Cache:
    """Open a finished cache for reading (memory-mapped). A cache that another process is
    still building is waited for; one that nobody is building is refused."""
    root = Path(path)
    meta = json.loads((root / "meta.json").read_text())
    if not meta.get("complete") and cache_lock(root).held_elsewhere():
        with cache_lock(root):
            meta = json.loads((root / "meta.json").read_text())
    if not meta.get("complete"):
        raise CacheError(f"{root}: cache is incomplete; rerun `fashionseg prepare` to finish it")
    status = np.load(root / "status.npy")
    return Cache(
        root,
        meta,
        np.load(root / "images.npy", mmap_mode="r"),
        np.load(root / "masks.npy", mmap_mode="r"),
        np.flatnonzero(status == DONE),
    )


def prepare(
    data: str | Path | Dataset,
    out: str | Path,
    size: str | int = 256,
    workers: int | None = None,
    keep_aspect: bool = False,
    classes: str = "all",
    strict: bool = False,
    task: str = "semantic",
    instance_rule: str = "rows",
) -> Cache:
    """Build (or finish) a training cache.

    Args:
        data: a data folder in any supported layout, or an opened :class:`Dataset`.
        out: the cache folder; an unfinished cache there with the same settings is resumed.
        size: N or WxH.
        workers: processes (default: all cores).
        keep_aspect: letterbox instead of squashing to the target size.
        classes: ``all`` or ``garments``.
        strict: stop at the first bad image with :class:`StrictError`.
        task: ``semantic``, or ``instances`` to keep each photo's instances too.
        instance_rule: how instances are made (``data/components.py``), with ``instances``.

    Returns:
        The opened cache.
    """
    dataset = data if isinstance(data, Dataset) else open_dataset(data)
    out_h, out_w = parse_size(size)
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    table = dataset.categories if classes == "all" else dataset.categories.garments_only()
    settings = {
        "version": CACHE_VERSION,
        "size": [out_h, out_w],
        "keep_aspect": keep_aspect,
        "classes": classes,
        "source": str(Path(dataset.root).resolve()),
        "layout": dataset.layout,
    }
    try:
        facts = task_facts(task)
    except ConfigError as e:
        raise CacheError(str(e)) from None
    if facts.instances:
        settings.update(task=task, instance_rule=instance_rule)
    with cache_lock(root):
        return _build(dataset, root, settings, table, workers, strict)


def _build(dataset: Dataset, root: Path, settings: dict, table, workers, strict: bool) -> Cache:
    """Create, resume or just open the cache (the caller holds its lock)."""
    out_h, out_w = settings["size"]
    meta_path = root / "meta.json"
    n = len(dataset)
    resume = meta_path.exists()
    opened = _open_arrays(root, settings, n, table)
    if isinstance(opened, Cache):
        return opened
    meta, images, masks, status = opened
    ids: list[str] = []
    heights: list[int] = []
    widths: list[int] = []

    def todo():
        for index, record in enumerate(dataset):
            ids.append(record.image_id)
            heights.append(record.height)
            widths.append(record.width)
            if status[index] == PENDING:
                yield index, record

    fn = functools.partial(
        prepare_one,
        out_h=out_h,
        out_w=out_w,
        keep_aspect=settings["keep_aspect"],
        classes=settings["classes"],
        instance_rule=settings.get("instance_rule"),
    )
    errors = ErrorLog(root, append=resume)
    log = InstanceLog(root) if task_facts(settings.get("task")).instances else None
    try:
        _fill(fn, todo(), (images, masks, status), workers, strict, errors, log)
    finally:
        errors.close()
        if log is not None:
            log.close()
    meta.update(ids=ids, heights=heights, widths=widths, complete=True)
    _write_meta(meta_path, meta)
    return open_cache(root)


def _fill(fn, todo, arrays, workers, strict: bool, errors: ErrorLog, log=None) -> None:
    """Run ``fn`` over the pending records and write the results, marking rows done in
    ``status`` only once their pixels (and instance lines, to ``log``) are flushed, so a kill
    never leaves a row marked done that is not on disk."""
    images, masks, status = arrays
    pending = int((status == PENDING).sum())
    last_flush = time.monotonic()
    done_since_flush: list[int] = []

    def flush() -> None:
        images.flush()
        masks.flush()
        _release(images)
        _release(masks)
        if log is not None:
            log.flush()
        for i in done_since_flush:
            status[i] = DONE
        status.flush()
        done_since_flush.clear()

    try:
        for index, image_id, result, error in run_records(fn, todo, pending, workers, "prepare"):
            if error is not None:
                if strict:
                    raise StrictError(f"{image_id}: {error}")
                errors.add(image_id, error)
                status[index] = SKIPPED
                continue
            images[index], masks[index] = result[:2]
            if log is not None:
                log.write(index, result[2])
            done_since_flush.append(index)
            if len(done_since_flush) >= 32 or time.monotonic() - last_flush > 0.5:
                flush()
                last_flush = time.monotonic()
    finally:
        flush()


def _open_arrays(root: Path, settings: dict, n: int, table: CategoryTable):
    """The arrays of an unfinished cache with these settings (resumed), or new ones; a
    finished cache is returned opened. Raises ValueError for a cache of other settings."""
    meta_path = root / "meta.json"
    out_h, out_w = settings["size"]
    if meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if {k: meta.get(k) for k in settings} != settings or meta.get("num_images") != n:
            raise CacheError(
                f"{root} holds a cache with other settings or data; choose another --out"
            )
        if meta.get("complete"):
            return open_cache(root)
        arrays = [open_memmap(root / f"{k}.npy", mode="r+") for k in ("images", "masks", "status")]
        return (meta, *arrays)
    meta = dict(settings, num_images=n, categories=table.to_json(), complete=False)
    images = open_memmap(root / "images.npy", "w+", np.uint8, (n, out_h, out_w, 3))
    masks = open_memmap(root / "masks.npy", "w+", np.uint8, (n, out_h, out_w))
    status = open_memmap(root / "status.npy", "w+", np.uint8, (n,))
    status.flush()
    _write_meta(meta_path, meta)
    return meta, images, masks, status


def _release(array: np.ndarray) -> None:
    """Drop a flushed memory map's pages from this process's resident set.

    Written pages of a shared file mapping stay resident (and count in RSS) until unmapped,
    so without this the memory of ``prepare`` would grow with the cache. After ``flush`` the
    data is in the file; the kernel reads it back if the pages are touched again.
    """
    mm = getattr(array, "_mmap", None)
    if mm is not None and hasattr(mmap, "MADV_DONTNEED"):
        mm.madvise(mmap.MADV_DONTNEED)


def _write_meta(path: Path, meta: dict) -> None:
    atomic_write(path, json.dumps(meta))
