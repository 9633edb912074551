"""Kaggle iMaterialist run-length encoding.

The encoding is a space-separated list of ``start length`` pairs. Starts are 1-indexed and
pixels are numbered top to bottom, then left to right (column-major, as pycocotools does).
Decoding runs a compiled kernel (:mod:`.rle_kernel`) and falls back to NumPy for anything the
kernel does not accept, so errors and odd-but-valid inputs behave the same either way.
"""

from __future__ import annotations

import numpy as np

from fashionseg.data import rle_kernel
from fashionseg.errors import FashionsegError

# A mask larger than this many pixels is refused rather than allocated (about 16k x 16k).
MAX_PIXELS = 1 << 28


class RLEError(FashionsegError, ValueError):
    """An encoded mask that cannot be decoded; the message says why."""


def _check_size(height: int, width: int) -> int:
    if height <= 0 or width <= 0:
        raise RLEError(f"invalid size {height}x{width}")
    if height * width > MAX_PIXELS:
        raise RLEError(f"size {height}x{width} is too large to allocate")
    return height * width


def parse_runs(encoded: str, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Validate an encoded mask and return its runs as 0-indexed half-open intervals.

    Args:
        encoded: the Kaggle RLE string.
        height: mask height in pixels.
        width: mask width in pixels.

    Returns:
        ``(starts, ends)``: int64 arrays of shape (R,), ``starts`` 0-indexed, ``ends`` exclusive,
        sorted and non-overlapping.

    Raises:
        RLEError: odd token count, non-integers, starts below 1, empty runs, runs past
            height x width, unsorted or overlapping runs, or a size too large to allocate.
    """
    total = _check_size(height, width)
    tokens = encoded.split() if isinstance(encoded, str) else []
    if len(tokens) % 2:
        raise RLEError(f"odd number of RLE tokens ({len(tokens)})")
    try:
        values = np.array(tokens, dtype=np.int64)
    except (ValueError, OverflowError):
        bad = next((t for t in tokens if not t.lstrip("-").isdigit()), tokens[0])
        raise RLEError(f"non-integer or out-of-range RLE token {bad[:20]!r}") from None
    starts = values[0::2] - 1
    lengths = values[1::2]
    ends = starts + lengths
    if starts.size:
        if starts.min() < 0:
            raise RLEError("RLE start below 1")
        if lengths.min() < 1:
            raise RLEError("RLE run of length below 1")
        if ends.max() > total:
            raise RLEError(f"RLE run past Height x Width ({total} pixels)")
        if starts.size > 1 and np.any(starts[1:] < ends[:-1]):
            raise RLEError("RLE runs unsorted or overlapping")
    return starts, ends


def rle_decode(encoded: str, height: int, width: int) -> np.ndarray:
    """Decode a Kaggle RLE string into a boolean mask.

    Args:
        encoded: space-separated ``start length`` pairs, 1-indexed, column-major.
        height: mask height.
        width: mask width.

    Returns:
        bool array of shape (height, width).

    Raises:
        RLEError: if the string is malformed (see :func:`parse_runs`).
    """
    kernel = rle_kernel.compiled()
    if kernel is not None and isinstance(encoded, str) and encoded.isascii():
        flat = np.zeros(_check_size(height, width), dtype=bool)
        text = np.frombuffer(encoded.encode("ascii"), dtype=np.uint8)
        if kernel(text, flat) == rle_kernel.OK:
            return flat.reshape(width, height).T
    return rle_decode_numpy(encoded, height, width)


def rle_decode_numpy(encoded: str, height: int, width: int) -> np.ndarray:
    """:func:`rle_decode` in NumPy alone: the fallback, and the reference the kernel is
    tested against."""
    return runs_decode(*parse_runs(encoded, height, width), height, width)


def runs_decode(starts: np.ndarray, ends: np.ndarray, height: int, width: int) -> np.ndarray:
    """A mask (H, W) bool from its runs (0-indexed starts, exclusive ends, column-major)."""
    # Alternate gap and run lengths, expanded by one C-level repeat: no Python loop over runs.
    lengths = _alternating(starts, ends, _check_size(height, width))
    values = np.zeros(lengths.size, dtype=bool)
    values[1::2] = True
    return np.repeat(values, lengths).reshape(width, height).T


def runs_to_rle(starts: np.ndarray, ends: np.ndarray) -> str:
    """Runs (0-indexed starts, exclusive ends) as a Kaggle RLE string."""
    pairs = np.empty(2 * starts.size, dtype=np.int64)
    pairs[0::2] = starts + 1
    pairs[1::2] = ends - starts
    return " ".join(map(str, pairs.tolist()))


def rle_encode(mask: np.ndarray) -> str:
    """Encode a mask in the Kaggle RLE format.

    Args:
        mask: array of shape (H, W); non-zero means inside.

    Returns:
        The RLE string (empty for an empty mask).
    """
    flat = np.asarray(mask).ravel(order="F").astype(bool)
    padded = np.concatenate(([False], flat, [False]))
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return runs_to_rle(edges[0::2], edges[1::2])


def rle_area(encoded: str, height: int, width: int) -> int:
    """Pixel count of an encoded mask, without decoding it."""
    return runs_area(parse_runs(encoded, height, width))


def runs_area(runs: tuple[np.ndarray, np.ndarray]) -> int:
    """Pixel count of a mask's runs (starts, exclusive ends)."""
    starts, ends = runs
    return int((ends - starts).sum())


def sample_runs(
    starts: np.ndarray, ends: np.ndarray, rows: np.ndarray, cols: np.ndarray, height: int
) -> np.ndarray:
    """Look up a mask on a sub-grid of pixels without materialising the full mask.

    Used to build a small label map straight from the runs: the cost grows with the
    output grid, not with the photo.

    Args:
        starts: 0-indexed run starts, shape (R,), sorted.
        ends: exclusive run ends, shape (R,).
        rows: source row of each output row, shape (h,).
        cols: source column of each output column, shape (w,).
        height: source mask height (the column stride of the flat index).

    Returns:
        bool array of shape (h, w): the mask at ``(rows[i], cols[j])``.
    """
    flat = cols[None, :].astype(np.int64) * height + rows[:, None].astype(np.int64)
    run = np.searchsorted(starts, flat, side="right") - 1
    inside = run >= 0
    inside &= flat < ends[np.maximum(run, 0)]
    return inside


def coco_counts(encoded: str, height: int, width: int) -> list[int]:
    """A Kaggle RLE string as COCO's uncompressed RLE counts, without decoding the mask.

    Both number pixels column-major; COCO lists alternating run lengths starting with a run
    of zeros (possibly empty) and ending with the last run.

    Returns:
        ``counts`` for ``{"counts": counts, "size": [height, width]}``.
    """
    return _alternating(*parse_runs(encoded, height, width), height * width).tolist()


def _alternating(starts: np.ndarray, ends: np.ndarray, total: int) -> np.ndarray:
    """Runs as alternating lengths (R*2 + 1,): gap, run, gap, ..., run, final gap."""
    lengths = np.empty(2 * starts.size + 1, dtype=np.int64)
    lengths[0:-1:2] = starts - np.concatenate(([0], ends[:-1]))
    lengths[1::2] = ends - starts
    lengths[-1] = total - (ends[-1] if ends.size else 0)
    return lengths
