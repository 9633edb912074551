"""Label Studio's brush masks: the bit-packed run-length code of its ``BrushLabels`` regions
(``"format": "rle"``), written and read here so that a hostile export is checked before it is
decoded and no Label Studio package is needed at run time.

The code (the "rle-pack" layout Label Studio's front end uses) packs an RGBA image of the
photo's size, row-major, four bytes a pixel, into a bit stream read most significant bit
first: a 32-bit count of values, 5 bits of word size minus one (8 bits here), four 4-bit
run-length field sizes minus one, then chunks until the count is reached. A chunk is a flag
bit (1: one value repeated, 0: values listed), 2 bits choosing a field size, the chunk's
length minus one in that many bits, then the repeated value or the listed values.

Label Studio reads a region's pixels from the alpha channel; a brush's anti-aliased edge gives
alpha between 0 and 255, so a pixel belongs to the region from alpha 128 up.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from fashionseg.data.rle import RLEError, _check_size

WORD_BITS = 8
RUN_FIELDS = (3, 4, 8, 16)  # the field sizes Label Studio's own encoder declares
_LONGEST = 1 << RUN_FIELDS[-1]  # a chunk holds at most this many values
CHANNELS = 4  # RGBA
INSIDE = 128  # alpha from which a pixel belongs to the region

OK = 0
CUT = 1  # the stream ends inside a chunk
OVERRUN = 2  # a chunk runs past the declared count
REASONS = {CUT: "the data ends inside a chunk", OVERRUN: "a chunk runs past the image"}


def brush_encode(mask: np.ndarray) -> list[int]:
    """A mask as Label Studio's brush RLE: each pixel's four RGBA bytes 255 inside, 0 outside
    (as Label Studio's converter writes them), every run a repeat chunk.

    Args:
        mask: (H, W) bool.

    Returns:
        The bytes as a list of ints, the form of a region's ``value.rle``.
    """
    flat = np.ascontiguousarray(mask, dtype=bool).ravel()
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    starts = np.concatenate([[0], change])
    lengths = np.diff(np.concatenate([starts, [flat.size]])) * CHANNELS
    values = np.where(flat[starts], 255, 0)
    # Runs longer than a chunk's largest field split into full chunks and a remainder.
    pieces = -(-lengths // _LONGEST)
    values = np.repeat(values, pieces)
    chunk = np.full(values.size, _LONGEST, dtype=np.int64)
    chunk[np.cumsum(pieces) - 1] = lengths - (pieces - 1) * _LONGEST
    field = np.searchsorted(1 << np.array(RUN_FIELDS), chunk)  # smallest field holding len-1
    # Every chunk is four fields: flag 1, field index, length - 1, value.
    vals = np.stack([np.ones_like(chunk), field, chunk - 1, values], axis=1).ravel()
    bits = np.stack(
        [np.ones_like(chunk), np.full_like(chunk, 2), np.array(RUN_FIELDS)[field],
         np.full_like(chunk, WORD_BITS)], axis=1,
    ).ravel()  # fmt: skip
    header_vals = [flat.size * CHANNELS, WORD_BITS - 1, *[s - 1 for s in RUN_FIELDS]]
    header_bits = [32, 5, 4, 4, 4, 4]
    vals = np.concatenate([header_vals, vals]).astype(np.int64)
    bits = np.concatenate([header_bits, bits]).astype(np.int64)
    return np.packbits(_spread(vals, bits)).tolist()


def _spread(vals: np.ndarray, bits: np.ndarray) -> np.ndarray:
    """Fields (value, width) -> their bits, most significant first, one uint8 per bit."""
    starts = np.cumsum(bits) - bits
    total = int(bits.sum())
    offset = np.arange(total) - np.repeat(starts, bits)
    shift = np.repeat(bits, bits) - 1 - offset
    return ((np.repeat(vals, bits) >> shift) & 1).astype(np.uint8)


@njit(cache=True)
def _read(data: np.ndarray, pos: int, n: int) -> int:
    """``n`` bits from bit ``pos`` of ``data`` (the caller checked they are there)."""
    x = 0
    for k in range(pos, pos + n):
        x = (x << 1) | ((data[k >> 3] >> (7 - (k & 7))) & 1)
    return x


@njit(cache=True, nogil=True)
def _decode_into(data: np.ndarray, out: np.ndarray, word: int, sizes: np.ndarray) -> int:
    """Decode the chunks after the header (bit 53 on) into ``out`` (uint8 (num,)).

    Returns:
        ``OK`` or the first problem's code.
    """
    end = data.size * 8
    pos = 53
    i = 0
    num = out.size
    while i < num:
        if pos + 3 > end:
            return CUT
        repeat = _read(data, pos, 1)
        size = sizes[_read(data, pos + 1, 2)]
        pos += 3
        if pos + size > end:
            return CUT
        j = i + 1 + _read(data, pos, size)
        pos += size
        if j > num:
            return OVERRUN
        if repeat:
            if pos + word > end:
                return CUT
            value = _read(data, pos, word)
            pos += word
            for k in range(i, j):
                out[k] = value
        else:
            if pos + word * (j - i) > end:
                return CUT
            for k in range(i, j):
                out[k] = _read(data, pos, word)
                pos += word
        i = j
    return OK


def brush_decode(rle: list[int] | bytes, height: int, width: int) -> np.ndarray:
    """A region's brush RLE -> its mask (H, W) bool (alpha from 128).

    Raises:
        RLEError: not bytes, a header that is not Label Studio's (word size, a count other
            than ``height * width * 4``), or chunks that end early or run past the image.
    """
    total = _check_size(height, width) * CHANNELS
    try:
        data = np.frombuffer(bytes(rle), dtype=np.uint8)
    except (TypeError, ValueError) as e:
        raise RLEError("brush RLE: expected a list of bytes (0-255)") from e
    if data.size < 7:
        raise RLEError("brush RLE: shorter than its header")
    num = _read(data, 0, 32)
    word = _read(data, 32, 5) + 1
    sizes = np.array([_read(data, 37 + 4 * k, 4) + 1 for k in range(4)], dtype=np.int64)
    if word != WORD_BITS:
        raise RLEError(f"brush RLE: {word}-bit words, expected {WORD_BITS}")
    if num != total:
        raise RLEError(f"brush RLE: {num} values, expected {total} ({width}x{height} RGBA)")
    out = np.zeros(total, dtype=np.uint8)
    status = _decode_into(data, out, word, sizes)
    if status != OK:
        raise RLEError(f"brush RLE: {REASONS[status]}")
    return out.reshape(height, width, CHANNELS)[:, :, 3] >= INSIDE
