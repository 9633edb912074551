"""One synthetic fashion photo and its instances, deterministic per (seed, index).

Each photo shows a drawn figure (head, arms, legs) wearing an outfit: an upper garment, a
dress or a jumpsuit; trousers, shorts or a skirt; shoes; and optional accessories (hat,
glasses, bag, belt, scarf, tie, watch, gloves, tights, umbrella). Garment parts overlap their
garments as in Fashionpedia: sleeves, necklines, collars, lapels, pockets, zippers, buckles and
decorations. Textures and colours are drawn independently of the category, so a model has to
learn shape and position, not look up colours.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from PIL import Image, ImageDraw

from fashionseg.data.rle import rle_encode
from fashionseg.synth.outfits import PATTERNED, draw_outfit


class Painter:
    """Draws shapes into per-instance masks in figure coordinates (units of figure height)."""

    def __init__(self, width: int, height: int, rng: np.random.Generator):
        self.w, self.h, self.rng = width, height, rng
        self.fh = height * rng.uniform(0.78, 0.95)
        self.cx = width * rng.uniform(0.38, 0.62)
        self.top = rng.uniform(0.02, 0.97 - self.fh / height) * height
        self.k = min(1.0, width / (0.55 * self.fh))  # keep narrow canvases inside

    def xy(self, x: float, y: float) -> tuple[float, float]:
        return self.cx + x * self.fh * self.k, self.top + y * self.fh

    def blank(self) -> tuple[Image.Image, ImageDraw.ImageDraw]:
        im = Image.new("L", (self.w, self.h), 0)
        return im, ImageDraw.Draw(im)

    def polygon(self, draw: ImageDraw.ImageDraw, points) -> None:
        draw.polygon([self.xy(x, y) for x, y in points], fill=255)

    def ellipse(self, draw: ImageDraw.ImageDraw, x0, y0, x1, y1) -> None:
        (a, b), (c, d) = self.xy(x0, y0), self.xy(x1, y1)
        draw.ellipse([min(a, c), min(b, d), max(a, c), max(b, d)], fill=255)

    def limb(self, draw, x0, y0, x1, y1, width) -> None:
        """A thick segment with rounded ends."""
        (a, b), (c, d) = self.xy(x0, y0), self.xy(x1, y1)
        wpx = max(1, int(width * self.fh * self.k))
        draw.line([(a, b), (c, d)], fill=255, width=wpx)
        r = wpx / 2
        for px, py in ((a, b), (c, d)):
            draw.ellipse([px - r, py - r, px + r, py + r], fill=255)


# The texture kinds of ``_texture`` that are Fashionpedia patterns (mottled, kind 4, is none).
PATTERNS = ("plain (pattern)", "stripe", "check", "dot")
# A pattern is named only where it shows: at least REPEATS periods across the garment's box
# both ways (a stripe wider than half the garment reads as two-tone) and colours at least
# MIN_CONTRAST apart in RGB (the weave noise is 6 levels).
REPEATS = 2.0
MIN_CONTRAST = 60.0


class Fabric(NamedTuple):
    kind: int  # 0-4: solid, stripes, checks, dots, mottled
    period: float  # of the stripes, checks or dots, in photo pixels
    contrast: float  # RGB distance of its two colours

    def pattern(self, box: tuple[int, int, int, int]) -> str | None:
        """The Fashionpedia pattern a garment of this fabric with bounding ``box`` (x0, y0,
        x1, y1) visibly has, or None."""
        if self.kind >= len(PATTERNS):
            return None
        if self.kind == 0:
            return PATTERNS[0]
        side = min(box[2] - box[0], box[3] - box[1])
        if side < REPEATS * self.period or self.contrast < MIN_CONTRAST:
            return None
        return PATTERNS[self.kind]


# A garment's fabric repeats every FABRIC_PERIOD[0]-[1] of its box's short side (never under
# MIN_PERIOD pixels), so that its pattern shows on the garment and at the photo's resolution;
# backgrounds keep periods in photo terms. The random draws are the same either way, so this
# rule leaves a seed's masks as they are (which patterns get named can change with it).
FABRIC_PERIOD = (0.12, 0.37)
MIN_PERIOD = 6.0


def _texture(
    rng: np.random.Generator, width: int, height: int, side: float | None = None
) -> tuple[Image.Image, Fabric]:
    """A random fabric: solid, stripes, checks, dots or mottled; returns it and what it is.

    Backgrounds (``side`` None) are drawn at a quarter of the resolution and upscaled; a
    garment's fabric, with its box's short ``side`` in pixels, is drawn at full resolution with
    its period relative to that side (``FABRIC_PERIOD``), so fine patterns stay sharp.
    """
    lw, lh = max(8, width // 4), max(8, height // 4)
    c1, c2 = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    kind = rng.integers(0, 5)
    drawn = rng.uniform(3, 14)
    angle = rng.uniform(0, np.pi)
    if side is None:
        gw, gh, period, scale = lw, lh, drawn, width / lw
    else:
        low, high = FABRIC_PERIOD
        relative = low + (high - low) * (drawn - 3) / 11
        gw, gh, period, scale = width, height, max(MIN_PERIOD, side * relative), 1.0
    yy, xx = np.mgrid[0:gh, 0:gw]
    u = xx * np.cos(angle) + yy * np.sin(angle)
    v = -xx * np.sin(angle) + yy * np.cos(angle)
    if kind == 0:
        t = np.zeros((gh, gw))
    elif kind == 1:
        t = (np.sin(u / period * 2 * np.pi) > 0).astype(float)
    elif kind == 2:
        t = ((np.floor(u / period) + np.floor(v / period)) % 2).astype(float)
    elif kind == 3:
        t = ((np.sin(u / period * 2 * np.pi) * np.sin(v / period * 2 * np.pi)) > 0.6).astype(float)
    else:
        t = rng.random((lh // 4 + 1, lw // 4 + 1))
        t = _upscaled(np.kron(t, np.ones((4, 4)))[:lh, :lw], gw, gh, Image.NEAREST)
    rgb = c1[None, None] * (1 - t[..., None]) + c2[None, None] * t[..., None]
    noise = rng.normal(0, 6, (lh, lw, 3))  # weave noise, drawn at low resolution either way
    if side is not None:
        noise = np.stack([_upscaled(noise[..., c], gw, gh, Image.BILINEAR) for c in range(3)], -1)
    img = Image.fromarray(np.clip(rgb + noise, 0, 255).astype(np.uint8))
    contrast = float(np.linalg.norm(c1.astype(float) - c2))
    return img.resize((width, height), Image.BILINEAR), Fabric(int(kind), period * scale, contrast)


def _upscaled(a: np.ndarray, width: int, height: int, resample) -> np.ndarray:
    """A 2-D float array resized to (height, width)."""
    if a.shape == (height, width):
        return a
    return np.asarray(Image.fromarray(a.astype(np.float32), "F").resize((width, height), resample))


def _background(rng: np.random.Generator, width: int, height: int) -> Image.Image:
    bg, _ = _texture(rng, width, height)
    draw = ImageDraw.Draw(bg)
    for _ in range(rng.integers(2, 7)):  # furniture, windows, street clutter
        x0, y0 = rng.uniform(0, width), rng.uniform(0, height)
        x1, y1 = x0 + rng.uniform(0.05, 0.4) * width, y0 + rng.uniform(0.05, 0.4) * height
        draw.rectangle([x0, y0, x1, y1], fill=tuple(int(c) for c in rng.integers(0, 256, 3)))
    return bg


def draw_example(index: int, seed: int, width: int, height: int, names: dict, attr_ids: dict):
    """One synthetic photo and its instances (class id, RLE, attribute ids); ``attr_ids``
    maps attribute names to ids."""
    rng = np.random.default_rng([seed, index])
    photo = _background(rng, width, height)
    p = Painter(width, height, rng)
    items, body = draw_outfit(p, rng)
    tone = tuple(int(c) for c in rng.integers([120, 80, 60], [255, 200, 170]))
    photo.paste(Image.new("RGB", (width, height), tone), mask=body["skin"])
    for item in sorted(items, key=lambda d: d.layer):
        bbox = item.mask.getbbox()
        if bbox is None:
            continue
        side = min(bbox[2] - bbox[0], bbox[3] - bbox[1])
        fabric, cloth = _texture(rng, width, height, side)
        photo.paste(fabric, mask=item.mask)
        pattern = cloth.pattern(bbox) if item.name in PATTERNED else None
        if pattern is not None:
            item.attributes = (pattern, *item.attributes)
        # Seams and shading so garment borders are visible even between similar fabrics.
        edge = item.mask.resize((max(1, width // 3), max(1, height // 3)), Image.BILINEAR)
        shade = Image.new("RGB", (width, height), (0, 0, 0))
        photo.paste(
            shade, mask=edge.point(lambda v: 70 if 20 < v < 235 else 0).resize((width, height))
        )
    instances = []
    for item in items:
        mask = np.asarray(item.mask) > 127
        if mask.any():
            attrs = sorted(attr_ids[a] for a in item.attributes)
            instances.append((names[item.name], rle_encode(mask), attrs))
    return photo, instances
