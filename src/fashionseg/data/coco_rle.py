"""COCO's compressed RLE (the ``counts`` string of pycocotools), read and written without
pycocotools, so that a string is checked before any C code sees it.

pycocotools decodes a counts string without bounds: counts that claim more pixels than the
image has make ``decode`` loop for ever, and a string cut in the middle of a number is read
past its end. Here a string decodes to its run lengths and is accepted only when they are
non-negative and sum to exactly height x width.

The format (pycocotools' ``rleToString``): each run length is written in 5-bit groups, low
first, as characters ``48 + group``, bit 0x20 set while more groups follow and bit 0x10 of the
last group the sign; from the fourth run on, the difference to the run two before is written.
Runs alternate background and mask, starting with background, column-major like Kaggle's.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from fashionseg.data.rle import RLEError, _check_size

OK = 0
BAD_CHAR = 1  # a character outside 48..111
CUT = 2  # the string ends inside a number
TOO_LONG = 3  # a number of more than 12 groups (60 bits)
NEGATIVE = 4  # a run length below 0
REASONS = {
    BAD_CHAR: "a character outside the RLE alphabet",
    CUT: "the string ends inside a number",
    TOO_LONG: "a number too long",
    NEGATIVE: "a negative run length",
}


def _counts_into(text: np.ndarray, out: np.ndarray) -> tuple[int, int]:
    """Decode ``text`` (uint8 (B,)) into ``out`` (int64 (B,), room for every run).

    Returns:
        (status, number of runs): ``OK`` or the first problem's code.
    """
    m = 0
    p = 0
    n = text.size
    while p < n:
        x = 0
        k = 0
        more = True
        while more:
            if p >= n:
                return CUT, m
            c = np.int64(text[p]) - 48
            if c < 0 or c > 63:
                return BAD_CHAR, m
            if k >= 12:
                return TOO_LONG, m
            x |= (c & 0x1F) << (5 * k)
            more = (c & 0x20) != 0
            p += 1
            k += 1
            if not more and (c & 0x10) != 0:
                x |= np.int64(-1) << (5 * k)
        if m > 2:
            x += out[m - 2]
        if x < 0:
            return NEGATIVE, m
        out[m] = x
        m += 1
    return OK, m


@cache
def _kernel():
    """The compiled decoder (Numba, cached beside this file), or the Python one without it."""
    try:
        from numba import njit
    except ImportError:  # pragma: no cover - numba is a dependency
        return _counts_into
    return njit(cache=True, nogil=True)(_counts_into)


def _sums_with(counts_into):
    def sums_into(text, offsets, scratch, sums):
        for i in range(offsets.size - 1):
            status, m = counts_into(text[offsets[i] : offsets[i + 1]], scratch)
            total = 0
            for j in range(m):
                total += scratch[j]
            sums[i] = total if status == OK else -1

    return sums_into


@cache
def _sums_kernel():
    """Many strings' pixel totals in one call (the per-call cost dominates short strings)."""
    try:
        from numba import njit
    except ImportError:  # pragma: no cover - numba is a dependency
        return _sums_with(_counts_into)
    return njit(cache=True, nogil=True)(_sums_with(_kernel()))


def counts_sums(counts: list[str | bytes]) -> np.ndarray:
    """The pixels each compressed counts string covers (int64 (N,); -1 where a string is not
    compressed RLE or a run is negative): a batch check before :func:`checked_counts` is
    needed for the message."""
    raw = [c.encode("latin-1", "replace") if isinstance(c, str) else bytes(c) for c in counts]
    offsets = np.zeros(len(raw) + 1, dtype=np.int64)
    np.cumsum([len(r) for r in raw], out=offsets[1:])
    text = np.frombuffer(b"".join(raw), dtype=np.uint8)
    scratch = np.zeros(max([1, *map(len, raw)]), dtype=np.int64)
    sums = np.zeros(len(raw), dtype=np.int64)
    if raw:
        _sums_kernel()(text, offsets, scratch, sums)
    return sums


def decode_counts(counts: str | bytes) -> np.ndarray:
    """A compressed counts string -> its run lengths (int64 (R,)).

    Raises:
        RLEError: a string that is not compressed RLE, saying why.
    """
    raw = counts.encode("latin-1", "replace") if isinstance(counts, str) else bytes(counts)
    text = np.frombuffer(raw, dtype=np.uint8)
    out = np.zeros(max(1, text.size), dtype=np.int64)
    status, m = _kernel()(text, out)
    if status != OK:
        raise RLEError(f"compressed RLE counts: {REASONS[status]} (run {m})")
    return out[:m]


def checked_counts(counts: str | bytes | list[int], height: int, width: int) -> np.ndarray:
    """The run lengths of a COCO RLE (compressed or a list), checked against the image.

    Raises:
        RLEError: malformed, negative, or not summing to ``height * width``.
    """
    total = _check_size(height, width)
    if isinstance(counts, (str, bytes)):
        runs = decode_counts(counts)
    else:
        runs = np.asarray(counts, dtype=np.int64)
        if runs.size and runs.min() < 0:
            raise RLEError("RLE counts: a negative run length")
    covered = int(runs.sum())
    if covered != total:
        raise RLEError(
            f"RLE counts cover {covered} pixels where the image has {height}x{width} = {total}"
        )
    return runs


def encode_counts(runs: np.ndarray) -> str:
    """Run lengths (background first) -> pycocotools' compressed counts string."""
    runs = np.asarray(runs, dtype=np.int64).tolist()
    chars = bytearray()
    for i, x in enumerate(runs):
        if i > 2:
            x -= runs[i - 2]
        more = True
        while more:
            c = x & 0x1F
            x >>= 5
            more = x != -1 if c & 0x10 else x != 0
            chars.append((c | 0x20 if more else c) + 48)
    return chars.decode("ascii")


def counts_to_runs(runs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """COCO run lengths (background first) -> the mask's runs as Kaggle's readers hold them
    (0-indexed starts, exclusive ends): both number pixels column-major, so no mask is
    decoded. Mask runs that touch (an empty background run between them) become one, as
    :func:`~fashionseg.data.rle.rle_encode` writes them."""
    runs = np.asarray(runs, dtype=np.int64)
    ends = np.cumsum(runs)
    starts = ends - runs
    keep = (np.arange(runs.size) % 2 == 1) & (runs > 0)
    starts, ends = starts[keep], ends[keep]
    if starts.size > 1:
        joined = np.concatenate(([False], starts[1:] == ends[:-1]))
        starts = starts[~joined]
        ends = ends[np.concatenate((~joined[1:], [True]))]
    return starts, ends
