"""The compiled label step on the CPU (Numba): bilinear upsampling of a canvas's logits to the
photo's size fused with the argmax over classes.

``F.interpolate`` then an argmax writes and reads a (C, H, W) float tensor, 21 MB for a
275x413 photo of 47 classes, and took about 25 ms of predict's time per photo on the CPU (more
than a third of what the model costs). Fused, each output row is interpolated vertically once
into a small buffer and each pixel keeps a running best over the classes: no large
intermediate, and the GIL is released, so predict's threads label photos in parallel.
The sample positions are ``F.interpolate(..., mode="bilinear", align_corners=False)``'s; the
arithmetic order differs (rows first), so a pixel whose two best classes tie to the last bit
may go the other way (the test bounds it).
"""

from __future__ import annotations

from functools import cache

import numpy as np


def _bilinear_argmax(
    logits: np.ndarray, top: int, left: int, in_h: int, in_w: int, out: np.ndarray
) -> None:
    """Fill ``out`` with the argmax over classes of the bilinearly upsampled logits.

    Args:
        logits: float32 (C, h, w), C-contiguous: one canvas's logits.
        top, left, in_h, in_w: the photo's region in the canvas (letterbox offsets and size).
        out: uint8 (H, W), the label map at the photo's size (C <= 256).
    """
    c_count = logits.shape[0]
    out_h, out_w = out.shape
    scale_y = np.float32(in_h / out_h)
    scale_x = np.float32(in_w / out_w)
    x0 = np.empty(out_w, np.int64)
    x1 = np.empty(out_w, np.int64)
    wx = np.empty(out_w, np.float32)
    for x in range(out_w):
        src = (np.float32(x) + np.float32(0.5)) * scale_x - np.float32(0.5)
        if src < 0:
            src = np.float32(0.0)
        i = int(src)
        x0[x] = left + i
        x1[x] = left + (i + 1 if i < in_w - 1 else i)
        wx[x] = src - np.float32(i)
    row = np.empty((logits.shape[2], c_count), np.float32)  # (w, C): classes contiguous
    for y in range(out_h):
        src = (np.float32(y) + np.float32(0.5)) * scale_y - np.float32(0.5)
        if src < 0:
            src = np.float32(0.0)
        i = int(src)
        y0 = top + i
        y1 = top + (i + 1 if i < in_h - 1 else i)
        b = src - np.float32(i)
        a = np.float32(1.0) - b
        for c in range(c_count):
            for x in range(left, left + in_w):
                row[x, c] = a * logits[c, y0, x] + b * logits[c, y1, x]
        for x in range(out_w):
            q = wx[x]
            p = np.float32(1.0) - q
            r0 = x0[x]
            r1 = x1[x]
            best = p * row[r0, 0] + q * row[r1, 0]
            arg = 0
            for c in range(1, c_count):
                v = p * row[r0, c] + q * row[r1, c]
                if v > best:
                    best = v
                    arg = c
            out[y, x] = arg


@cache
def compiled():
    """The kernel compiled by Numba (about 1 s the first time, then cached next to this file)."""
    from numba import njit

    return njit(cache=True, nogil=True)(_bilinear_argmax)


def bilinear_argmax(
    logits: np.ndarray, top: int, left: int, in_h: int, in_w: int, height: int, width: int
) -> np.ndarray:
    """Label map (height, width) uint8 of the logits (C, h, w) region at (top, left, in_h,
    in_w), upsampled bilinearly (align_corners=False) and argmaxed over the C <= 256 classes."""
    out = np.empty((height, width), np.uint8)
    compiled()(np.ascontiguousarray(logits, dtype=np.float32), top, left, in_h, in_w, out)
    return out
