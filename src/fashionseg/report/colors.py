"""Colouring label maps and drawing category legends."""

from __future__ import annotations

import numpy as np

from ..data.categories import IGNORE, palette


def colorize(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Label map (H, W) uint8 -> RGB (H, W, 3) uint8; ignore pixels are grey."""
    table = np.zeros((256, 3), dtype=np.uint8)
    table[:num_classes] = np.array(palette(num_classes), dtype=np.uint8)
    table[IGNORE] = (128, 128, 128)
    return table[labels]


def overlay(
    image: np.ndarray, labels: np.ndarray, num_classes: int, alpha: float = 0.55
) -> np.ndarray:
    """Blend category colours over a photo (both (H, W, ...)); background stays untouched."""
    colours = colorize(labels, num_classes).astype(np.float32)
    out = image.astype(np.float32)
    on = (labels > 0) & (labels != IGNORE)
    out[on] = (1 - alpha) * out[on] + alpha * colours[on]
    return out.clip(0, 255).astype(np.uint8)


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
