"""Run one function over every record of a data set: in parallel, with a progress bar, and
with bad images reported instead of crashing the run.
"""

from __future__ import annotations

import csv
import functools
import multiprocessing as mp
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from tqdm import tqdm

from .formats import Record
from .images import DataError
from .rle import RLEError


class StrictError(RuntimeError):
    """Raised in ``--strict`` mode at the first bad image; the message names it."""


def _call(fn: Callable[[Record], Any], item: tuple[int, Record]):
    index, record = item
    try:
        if record.error:
            raise DataError(record.error)
        return index, fn(record), None
    except (DataError, RLEError) as e:
        return index, None, str(e)
    except MemoryError:
        return index, None, "image too large to allocate"


class ErrorLog:
    """``errors.csv`` in the output folder: one row per skipped image with its reason."""

    def __init__(self, out_dir: Path, append: bool = False):
        self.path = out_dir / "errors.csv"
        self.count = 0
        fresh = not (append and self.path.exists())
        self.file = open(self.path, "w" if fresh else "a", newline="")
        self.writer = csv.writer(self.file)
        if fresh:
            self.writer.writerow(["ImageId", "reason"])

    def add(self, image_id: str, reason: str) -> None:
        self.writer.writerow([image_id, reason])
        self.file.flush()
        self.count += 1

    def close(self) -> None:
        self.file.close()
        if self.count:
            print(f"{self.count} image(s) skipped; reasons in {self.path}", file=sys.stderr)


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def run_records(
    fn: Callable[[Record], Any],
    items: Iterable[tuple[int, Record]],
    total: int,
    workers: int | None = None,
    desc: str = "images",
) -> Iterator[tuple[int, str, Any, str | None]]:
    """Apply ``fn`` to each record, yielding ``(index, image_id, result, error)``.

    ``fn`` must be picklable (a module-level function or a ``functools.partial`` of one).
    Results come back in any order; bad records yield ``error`` instead of a result.
    """
    workers = workers or default_workers()
    bar = tqdm(total=total, desc=desc, unit="img", dynamic_ncols=True, file=sys.stderr)
    ids: dict[int, str] = {}

    def tagged() -> Iterator[tuple[int, Record]]:
        for index, record in items:
            ids[index] = record.image_id
            yield index, record

    call = functools.partial(_call, fn)
    try:
        if workers <= 1:
            results = map(call, tagged())
            for index, result, error in results:
                bar.update()
                yield index, ids.pop(index), result, error
        else:
            # fork keeps start-up cheap; the records stream in through imap's queue.
            ctx = mp.get_context("fork")
            with ctx.Pool(workers) as pool:
                for index, result, error in pool.imap_unordered(call, tagged(), chunksize=4):
                    bar.update()
                    yield index, ids.pop(index), result, error
    finally:
        bar.close()
