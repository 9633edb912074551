"""Run one function over every record of a data set: in parallel, with a progress bar, and
with bad images reported instead of crashing the run.
"""

from __future__ import annotations

import functools
import multiprocessing as mp
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from tqdm import tqdm

from fashionseg.data.images import DataError
from fashionseg.data.records import Record
from fashionseg.data.rle import RLEError
from fashionseg.errors import FashionsegError
from fashionseg.machine import available_cores


class StrictError(FashionsegError, RuntimeError):
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
    workers = workers or available_cores()
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
