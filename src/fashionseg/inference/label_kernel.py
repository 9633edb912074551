"""The compiled label step on the CPU (Numba): bilinear upsampling of a canvas's logits to the
photo's size fused with the argmax over classes.

``F.interpolate`` then an argmax writes and reads a (C, H, W) float tensor at the photo's size
(tens of MB for 47 classes), which cost a large share of predict's time per photo on the CPU
(docs/benchmarks.md). Here the argmax is first taken at the canvas's own
resolution; an output pixel whose four source samples share their best class keeps that class
without any interpolation. That is exact, not an approximation: a bilinear sample is a weighted
sum of its four sources with weights >= 0, so a class that is at least as high as every other at
all four stays at least as high in the sum (rounding of products and sums is monotonic too).
Only pixels at the borders between garments (a few percent) interpolate all classes. No large
intermediate is written, and the GIL is released, so predict's threads label photos in
parallel. The sample positions are ``F.interpolate(..., mode="bilinear",
align_corners=False)``'s; the arithmetic order differs (rows first), so a pixel whose two best
classes tie to the last bit may go the other way (the tests bound it).
"""

from __future__ import annotations

from functools import cache

import numpy as np


def _taps(out_n: int, in_n: int, start: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where each output position samples along one axis: the two source indices (offset by
    ``start``) and the second one's weight, float32 as ``F.interpolate`` computes them
    (align_corners=False, clamped at the ends)."""
    src = (np.arange(out_n, dtype=np.float32) + np.float32(0.5)) * np.float32(
        in_n / out_n
    ) - np.float32(0.5)
    src = np.maximum(src, np.float32(0.0))
    i = src.astype(np.int64)
    return start + i, start + np.minimum(i + 1, in_n - 1), src - i.astype(np.float32)


def _bilinear_argmax(
    logits: np.ndarray,
    top: int,
    left: int,
    in_h: int,
    in_w: int,
    ys0: np.ndarray,
    ys1: np.ndarray,
    wy: np.ndarray,
    xs0: np.ndarray,
    xs1: np.ndarray,
    wx: np.ndarray,
    out: np.ndarray,
) -> None:
    """Fill ``out`` with the argmax over classes of the bilinearly upsampled logits.

    Args:
        logits: float32 (C, h, w), C-contiguous: one canvas's logits.
        top, left, in_h, in_w: the photo's region in the canvas (letterbox offsets and size).
        ys0, ys1, wy, xs0, xs1, wx: the rows' and columns' ``_taps``.
        out: uint8 (H, W), the label map at the photo's size (C <= 256).
    """
    c_count = logits.shape[0]
    out_h, out_w = out.shape
    # The canvas's own argmax (first best wins, as torch's argmax), row by row: one row's
    # running best stays in the cache while the classes pass over it. Kept at the canvas's
    # width so that the taps below index it as they index the logits.
    low = np.zeros((logits.shape[1], logits.shape[2]), np.uint8)
    best = np.empty(in_w, np.float32)
    for y in range(top, top + in_h):
        labels = low[y, left : left + in_w]
        best[:] = logits[0, y, left : left + in_w]
        for c in range(1, c_count):
            scores = logits[c, y, left : left + in_w]
            for x in range(in_w):
                if scores[x] > best[x]:
                    best[x] = scores[x]
                    labels[x] = c
    for y in range(out_h):
        y0 = ys0[y]
        y1 = ys1[y]
        b = wy[y]
        a = np.float32(1.0) - b
        for x in range(out_w):
            r0 = xs0[x]
            r1 = xs1[x]
            k = low[y0, r0]
            if low[y0, r1] == k and low[y1, r0] == k and low[y1, r1] == k:
                out[y, x] = k
                continue
            q = wx[x]
            p = np.float32(1.0) - q
            top_v = p * (a * logits[0, y0, r0] + b * logits[0, y1, r0]) + q * (
                a * logits[0, y0, r1] + b * logits[0, y1, r1]
            )
            arg = 0
            for c in range(1, c_count):
                v = p * (a * logits[c, y0, r0] + b * logits[c, y1, r0]) + q * (
                    a * logits[c, y0, r1] + b * logits[c, y1, r1]
                )
                if v > top_v:
                    top_v = v
                    arg = c
            out[y, x] = arg


@cache
def compiled():
    """The kernel compiled by Numba (once, then cached next to this file)."""
    from numba import njit

    return njit(cache=True, nogil=True)(_bilinear_argmax)


def bilinear_argmax(
    logits: np.ndarray, top: int, left: int, in_h: int, in_w: int, height: int, width: int
) -> np.ndarray:
    """Label map (height, width) uint8 of the logits (C, h, w) region at (top, left, in_h,
    in_w), upsampled bilinearly (align_corners=False) and argmaxed over the C <= 256 classes."""
    out = np.empty((height, width), np.uint8)
    logits = np.ascontiguousarray(logits, dtype=np.float32)
    rows, cols = _taps(height, in_h, top), _taps(width, in_w, left)
    compiled()(logits, top, left, in_h, in_w, *rows, *cols, out)
    return out
