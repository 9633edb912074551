"""Colouring label maps and drawing category legends."""

from __future__ import annotations

from functools import cache

import numpy as np

from fashionseg.data.categories import IGNORE, palette


def colorize(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Label map (H, W) uint8 -> RGB (H, W, 3) uint8; ignore pixels are grey."""
    table = np.zeros((256, 3), dtype=np.uint8)
    table[:num_classes] = np.array(palette(num_classes), dtype=np.uint8)
    table[IGNORE] = (128, 128, 128)
    return table[labels]


def _blend(
    image: np.ndarray, labels: np.ndarray, table: np.ndarray, alpha: float, out: np.ndarray
) -> None:
    """``out`` = ``image`` with ``table[label]`` blended in (float32, truncated to uint8) at
    every garment pixel; background (0) and ignore pixels keep the photo's colour."""
    keep = np.float32(1.0 - alpha)
    put = np.float32(alpha)
    for y in range(labels.shape[0]):
        for x in range(labels.shape[1]):
            v = labels[y, x]
            for ch in range(3):
                if v == 0 or v == IGNORE:
                    out[y, x, ch] = image[y, x, ch]
                else:
                    out[y, x, ch] = np.uint8(
                        keep * np.float32(image[y, x, ch]) + put * np.float32(table[v, ch])
                    )


@cache
def _compiled_blend():
    # numpy makes a float32 copy of the photo and of its colours, then masked gathers and
    # scatters; one compiled pass is an order of magnitude faster (docs/benchmarks.md).
    from numba import njit

    return njit(cache=True, nogil=True)(_blend)


def overlay(
    image: np.ndarray, labels: np.ndarray, num_classes: int, alpha: float = 0.55
) -> np.ndarray:
    """Blend category colours over a photo (RGB uint8 (H, W, 3), labels (H, W) uint8);
    background and ignore pixels stay untouched. Returns RGB uint8 (H, W, 3)."""
    table = np.zeros((256, 3), dtype=np.uint8)
    table[:num_classes] = np.array(palette(num_classes), dtype=np.uint8)
    out = np.empty(image.shape, np.uint8)
    _compiled_blend()(np.ascontiguousarray(image), np.ascontiguousarray(labels), table, alpha, out)
    return out


def legend_handles(values, names: list[str]):
    """Matplotlib patches for the label values present, named after their categories."""
    from matplotlib.patches import Patch

    pal = palette(len(names))
    return [
        Patch(color=np.array(pal[v]) / 255, label=names[v])
        for v in sorted(values)
        if 0 < v < len(names)
    ]


def overlay_with_legend(image: np.ndarray, labels: np.ndarray, names: list[str]):
    """The overlay of a photo with a legend panel on its right: swatch, name, area share.

    Args:
        image: RGB uint8 (H, W, 3).
        labels: label map (H, W) uint8.
        names: label value -> category name.

    Returns:
        A PIL RGB image of width W + panel width and height H.
    """
    from PIL import Image, ImageDraw, ImageFont

    h, w = labels.shape
    base = Image.fromarray(overlay(image, labels, len(names)))
    counts = np.bincount(labels.ravel(), minlength=256)
    present = [v for v in np.argsort(-counts) if counts[v] and 0 < v < len(names)]
    # The text scales with the photo so the legend stays legible on 400 px and 4000 px photos.
    size = max(12, h // 40)
    font = ImageFont.load_default(size=size)
    texts = {
        v: f"{names[v]}  {100 * counts[v] / labels.size:.1f}%" if v else "no garments found"
        for v in present or [0]
    }
    panel_w = int(max(font.getlength(t) for t in texts.values())) + 3 * size
    canvas = Image.new("RGB", (w + panel_w, h), (255, 255, 255))
    canvas.paste(base, (0, 0))
    draw = ImageDraw.Draw(canvas)
    pal = palette(len(names))
    y = size
    for v in present or [0]:
        if y + size > h:
            break
        if v:
            draw.rectangle([w + size // 2, y, w + size // 2 + size, y + size], fill=pal[v])
        draw.text((w + 2 * size, y), texts[v], fill=(0, 0, 0), font=font)
        y += int(size * 1.6)
    return canvas


def plain_figures() -> None:
    """matplotlib without a screen, drawing every label as it is given: text from the data or
    the user (category names, paths, search choices) is never parsed as mathtext (``$..$``)."""
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams["text.parse_math"] = False
