"""Instances drawn on a photo: one outline in the category's colour and one label each."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from scipy import ndimage

from fashionseg.data.categories import palette
from fashionseg.inference.instances import Detection


def outline_instances(photo: Image.Image, detections: list[Detection], names: list[str]):
    """The photo with each instance's outline (2 px, its category colour) and a label
    ``name score`` at the top left of its box; returns a new PIL RGB image."""
    rgb = np.asarray(photo.convert("RGB")).copy()
    pal = palette(len(names))
    # Thicker lines on larger photos, so outlines stay visible on 4000 px photos too.
    width = max(2, min(photo.size) // 200)
    for det in detections:
        edge = det.mask & ~ndimage.binary_erosion(det.mask, iterations=width)
        rgb[edge] = pal[det.class_id + 1]
    out = Image.fromarray(rgb)
    draw = ImageDraw.Draw(out)
    font = ImageFont.load_default(size=max(10, photo.height // 45))
    for det in detections:
        x0, y0, _, _ = det.bbox
        text = f"{names[det.class_id + 1]} {det.score:.2f}"
        left, top, right, bottom = draw.textbbox((x0, y0), text, font=font)
        draw.rectangle([left, top, right, bottom], fill=pal[det.class_id + 1])
        draw.text((x0, y0), text, fill=(255, 255, 255), font=font)
    return out
