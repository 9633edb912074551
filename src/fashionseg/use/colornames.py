"""Naming the colour of a garment from a fixed palette of common colour names.

Each pixel under the mask is given the nearest palette name in CIELAB (where Euclidean
distance roughly follows perceived difference); the garment's colour is the most frequent
name, and its hex is the mean of the pixels that carry that name.
"""

from __future__ import annotations

from functools import cache

import numpy as np

# Names a shopper would use, with a typical sRGB value each.
PALETTE: dict[str, tuple[int, int, int]] = {
    "black": (25, 25, 25),
    "dark gray": (70, 70, 70),
    "gray": (128, 128, 128),
    "light gray": (190, 190, 190),
    "white": (245, 245, 245),
    "beige": (220, 200, 165),
    "brown": (115, 75, 45),
    "khaki": (170, 150, 100),
    "olive": (110, 110, 50),
    "red": (200, 30, 40),
    "burgundy": (110, 20, 40),
    "pink": (240, 150, 180),
    "orange": (240, 130, 40),
    "yellow": (240, 210, 50),
    "green": (40, 140, 60),
    "teal": (0, 125, 125),
    "light blue": (140, 185, 230),
    "denim": (75, 100, 140),
    "blue": (40, 80, 200),
    "navy": (30, 35, 100),
    "purple": (110, 50, 140),
}
_NAMES = list(PALETTE)
# At most this many pixels are looked at per garment (an even subsample beyond that).
MAX_SAMPLES = 20000


_LEVELS = np.arange(256) / 255
# sRGB -> linear for each of the 256 byte values (a table look-up instead of a power per pixel).
_LINEAR = np.where(_LEVELS > 0.04045, ((_LEVELS + 0.055) / 1.055) ** 2.4, _LEVELS / 12.92)


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB uint8 (..., 3) -> CIELAB float (..., 3), D65 white."""
    rgb = np.asarray(rgb)
    if rgb.dtype == np.uint8:
        c = _LINEAR[rgb]
    else:
        c = rgb.astype(np.float64) / 255
        c = np.where(c > 0.04045, ((c + 0.055) / 1.055) ** 2.4, c / 12.92)
    m = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
    xyz = c @ m.T / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack(
        [116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1
    )


_PALETTE_LAB = rgb_to_lab(np.array(list(PALETTE.values())))


def _nearest(lab: np.ndarray, palette: np.ndarray, out: np.ndarray) -> None:
    """Fill ``out`` (N,) with the index of the palette colour (K, 3) nearest each CIELAB
    colour of ``lab`` (3, N) (squared Euclidean distance; the first of equals wins)."""
    best = np.full(lab.shape[1], np.inf)
    # One palette colour at a time over all pixels (channels apart): a loop the compiler
    # turns into vector instructions.
    for k in range(palette.shape[0]):
        for i in range(lab.shape[1]):
            d0 = lab[0, i] - palette[k, 0]
            d1 = lab[1, i] - palette[k, 1]
            d2 = lab[2, i] - palette[k, 2]
            d = d0 * d0 + d1 * d1 + d2 * d2
            closer = d < best[i]
            best[i] = d if closer else best[i]
            out[i] = k if closer else out[i]


@cache
def _compiled_nearest():
    # numpy's argmin over the 21 names of each pixel (a call per row) was most of what naming
    # a garment cost; compiled, the search is an order of magnitude faster.
    from numba import njit

    return njit(cache=True, nogil=True)(_nearest)


def name_pixels(pixels: np.ndarray) -> np.ndarray:
    """RGB uint8 (N, 3) -> index into the palette names (N,) int."""
    out = np.zeros(len(pixels), np.int64)
    _compiled_nearest()(np.ascontiguousarray(rgb_to_lab(pixels).T), _PALETTE_LAB, out)
    return out


def dominant_color(pixels: np.ndarray) -> dict:
    """The most common colour name of some pixels.

    Args:
        pixels: RGB uint8 (N, 3), N > 0.

    Returns:
        ``{"name", "hex", "share"}``: the name, the mean colour of the pixels so named, and
        the share of the pixels that got the name.
    """
    pixels = np.asarray(pixels).reshape(-1, 3)
    if len(pixels) > MAX_SAMPLES:
        pixels = pixels[:: len(pixels) // MAX_SAMPLES + 1]
    names = name_pixels(pixels)
    counts = np.bincount(names, minlength=len(_NAMES))
    best = int(counts.argmax())
    mean = pixels[names == best].mean(0).round().astype(int)
    return {
        "name": _NAMES[best],
        "hex": "#{:02x}{:02x}{:02x}".format(*mean.tolist()),
        "share": round(float(counts[best] / len(pixels)), 4),
    }
