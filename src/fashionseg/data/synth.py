"""Synthetic fashion photos in the Kaggle layout, deterministic per seed.

Each photo shows a drawn figure (head, arms, legs) wearing an outfit: an upper garment, a
dress or a jumpsuit; trousers, shorts or a skirt; shoes; and optional accessories (hat,
glasses, bag, belt, scarf, tie, watch, gloves, tights, umbrella). Garment parts overlap their
garments as in Fashionpedia: sleeves, necklines, collars, lapels, pockets, zippers, buckles and
decorations. Textures and colours are drawn independently of the category, so a model has to
learn shape and position, not look up colours.
"""

from __future__ import annotations

import csv
import functools
import json
import multiprocessing as mp
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from .categories import fashionpedia
from .rle import rle_encode

UPPER = [
    "shirt, blouse",
    "top, t-shirt, sweatshirt",
    "sweater",
    "cardigan",
    "jacket",
    "vest",
    "coat",
]
LOWER = ["pants", "shorts", "skirt"]


@dataclass
class Drawn:
    name: str
    mask: Image.Image  # "L", 255 inside
    layer: int  # paint order in the photo
    attributes: tuple[int, ...] = ()


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


def _texture(rng: np.random.Generator, width: int, height: int) -> Image.Image:
    """A random fabric: solid, stripes, checks, dots or mottled, at low resolution upscaled."""
    lw, lh = max(8, width // 4), max(8, height // 4)
    c1, c2 = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    kind = rng.integers(0, 5)
    yy, xx = np.mgrid[0:lh, 0:lw]
    period = rng.uniform(3, 14)
    angle = rng.uniform(0, np.pi)
    u = xx * np.cos(angle) + yy * np.sin(angle)
    v = -xx * np.sin(angle) + yy * np.cos(angle)
    if kind == 0:
        t = np.zeros((lh, lw))
    elif kind == 1:
        t = (np.sin(u / period * 2 * np.pi) > 0).astype(float)
    elif kind == 2:
        t = ((np.floor(u / period) + np.floor(v / period)) % 2).astype(float)
    elif kind == 3:
        t = ((np.sin(u / period * 2 * np.pi) * np.sin(v / period * 2 * np.pi)) > 0.6).astype(float)
    else:
        t = rng.random((lh // 4 + 1, lw // 4 + 1))
        t = np.kron(t, np.ones((4, 4)))[:lh, :lw]
    rgb = c1[None, None] * (1 - t[..., None]) + c2[None, None] * t[..., None]
    rgb += rng.normal(0, 6, rgb.shape)  # weave noise
    img = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8))
    return img.resize((width, height), Image.BILINEAR)


def _background(rng: np.random.Generator, width: int, height: int) -> Image.Image:
    bg = _texture(rng, width, height)
    draw = ImageDraw.Draw(bg)
    for _ in range(rng.integers(2, 7)):  # furniture, windows, street clutter
        x0, y0 = rng.uniform(0, width), rng.uniform(0, height)
        x1, y1 = x0 + rng.uniform(0.05, 0.4) * width, y0 + rng.uniform(0.05, 0.4) * height
        draw.rectangle([x0, y0, x1, y1], fill=tuple(int(c) for c in rng.integers(0, 256, 3)))
    return bg


def _outfit(p: Painter, rng: np.random.Generator) -> tuple[list[Drawn], dict]:
    """Instance masks of one outfit, plus the body masks (skin) to paint first."""
    items: list[Drawn] = []
    u = rng.uniform
    arm_dx = u(0.03, 0.09)  # how far the hands swing out
    body = {}
    skin, d = p.blank()
    p.ellipse(d, -0.055, 0.0, 0.055, 0.13)  # head
    p.polygon(d, [(-0.025, 0.11), (0.025, 0.11), (0.03, 0.16), (-0.03, 0.16)])  # neck
    for s in (-1, 1):
        p.limb(d, s * 0.13, 0.17, s * (0.15 + arm_dx), 0.5, 0.055)  # arms
        p.limb(d, s * 0.055, 0.48, s * u(0.05, 0.09), 0.93, 0.07)  # legs
    p.polygon(d, [(-0.14, 0.15), (0.14, 0.15), (0.11, 0.5), (-0.11, 0.5)])  # torso
    body["skin"] = skin

    def add(name: str, draw_fn, layer: int):
        im, dr = p.blank()
        draw_fn(dr)
        items.append(Drawn(name, im, layer))
        return im

    one_piece = u() < 0.25
    upper = None
    if one_piece:
        name = "dress" if u() < 0.7 else "jumpsuit"
        hem = u(0.6, 0.85)
        flare = u(0.14, 0.24)

        def dress(dr):
            p.polygon(
                dr,
                [
                    (-0.14, 0.15),
                    (0.14, 0.15),
                    (0.11, 0.45),
                    (flare, hem),
                    (-flare, hem),
                    (-0.11, 0.45),
                ],
            )
            if name == "jumpsuit":
                for s in (-1, 1):
                    p.limb(dr, s * 0.055, 0.5, s * 0.07, 0.9, 0.085)

        upper = add(name, dress, 3)
        lower_hem = hem
    else:
        name = str(rng.choice(UPPER))
        hem = {"coat": u(0.7, 0.85), "jacket": u(0.5, 0.58), "vest": u(0.45, 0.52)}.get(
            name, u(0.45, 0.55)
        )
        sleeves = name != "vest"
        sleeve_len = u(0.25, 0.5)

        def top(dr):
            p.polygon(dr, [(-0.15, 0.145), (0.15, 0.145), (0.13, hem), (-0.13, hem)])
            if sleeves:
                for s in (-1, 1):
                    t = sleeve_len / 0.5
                    p.limb(
                        dr, s * 0.13, 0.17, s * (0.13 + (0.02 + arm_dx) * t), 0.17 + 0.33 * t, 0.07
                    )

        layer = 5 if name in ("jacket", "coat", "cardigan", "vest") else 4
        upper = add(name, top, layer)
        if sleeves:
            for s in (-1, 1):
                t = sleeve_len / 0.5
                add(
                    "sleeve",
                    lambda dr, s=s, t=t: p.limb(
                        dr, s * 0.13, 0.17, s * (0.13 + (0.02 + arm_dx) * t), 0.17 + 0.33 * t, 0.07
                    ),
                    layer,
                )
        lower = str(rng.choice(LOWER))
        lower_hem = {"pants": u(0.88, 0.93), "shorts": u(0.58, 0.65), "skirt": u(0.6, 0.8)}[lower]

        def bottom(dr):
            if lower == "skirt":
                fl = u(0.13, 0.2)
                p.polygon(dr, [(-0.115, 0.45), (0.115, 0.45), (fl, lower_hem), (-fl, lower_hem)])
            else:
                p.polygon(dr, [(-0.115, 0.45), (0.115, 0.45), (0.12, 0.52), (-0.12, 0.52)])
                for s in (-1, 1):
                    p.limb(dr, s * 0.06, 0.5, s * 0.07, lower_hem, 0.085)

        add(lower, bottom, 2)
        if lower != "skirt" and u() < 0.5:
            x = rng.choice([-1, 1]) * u(0.04, 0.07)
            add(
                "pocket",
                lambda dr: p.polygon(
                    dr, [(x - 0.025, 0.49), (x + 0.025, 0.49), (x + 0.025, 0.54), (x - 0.025, 0.54)]
                ),
                2,
            )
        if name in ("shirt, blouse", "jacket", "coat") and u() < 0.7:
            add(
                "collar",
                lambda dr: [
                    p.polygon(dr, [(s * 0.01, 0.145), (s * 0.07, 0.145), (s * 0.02, 0.2)])
                    for s in (-1, 1)
                ],
                layer,
            )
        if name in ("jacket", "coat") and u() < 0.6:
            add(
                "lapel",
                lambda dr: [
                    p.polygon(dr, [(s * 0.02, 0.2), (s * 0.06, 0.19), (s * 0.015, 0.3)])
                    for s in (-1, 1)
                ],
                layer,
            )
            if u() < 0.5:
                add(
                    "pocket",
                    lambda dr: p.polygon(
                        dr, [(0.04, 0.24), (0.09, 0.24), (0.09, 0.29), (0.04, 0.29)]
                    ),
                    layer,
                )
        if name in ("jacket", "coat", "sweater", "top, t-shirt, sweatshirt") and u() < 0.3:
            add(
                "zipper",
                lambda dr: p.polygon(
                    dr, [(-0.006, 0.2), (0.006, 0.2), (0.006, hem), (-0.006, hem)]
                ),
                layer,
            )
    depth = u(0.04, 0.09)
    add(
        "neckline",
        lambda dr: p.polygon(dr, [(-0.05, 0.145), (0.05, 0.145), (0.0, 0.145 + depth)]),
        6,
    )
    for s in (-1, 1):
        foot = s * u(0.06, 0.09)
        add("shoe", lambda dr, f=foot: p.ellipse(dr, f - 0.045, 0.905, f + 0.045, 0.96), 2)
    if lower_hem < 0.85 and u() < 0.3:
        add(
            "tights, stockings",
            lambda dr: [
                p.limb(dr, s * 0.055, lower_hem - 0.02, s * 0.07, 0.92, 0.065) for s in (-1, 1)
            ],
            1,
        )
    if u() < 0.4:
        add(
            "belt",
            lambda dr: p.polygon(dr, [(-0.12, 0.44), (0.12, 0.44), (0.12, 0.465), (-0.12, 0.465)]),
            7,
        )
        if u() < 0.7:
            add(
                "buckle",
                lambda dr: p.polygon(
                    dr, [(-0.015, 0.438), (0.015, 0.438), (0.015, 0.467), (-0.015, 0.467)]
                ),
                7,
            )
    if u() < 0.35:
        add(
            "hat",
            lambda dr: (
                p.ellipse(dr, -0.09, 0.015, 0.09, 0.045),
                p.polygon(dr, [(-0.05, -0.04), (0.05, -0.04), (0.055, 0.03), (-0.055, 0.03)]),
            ),
            8,
        )
    if u() < 0.3:
        add(
            "glasses",
            lambda dr: [p.ellipse(dr, s * 0.005, 0.05, s * 0.045, 0.07) for s in (-1, 1)],
            8,
        )
    if u() < 0.4:
        s = rng.choice([-1, 1])
        add(
            "bag, wallet",
            lambda dr: p.polygon(
                dr,
                [
                    (s * (0.15 + arm_dx), 0.46),
                    (s * (0.26 + arm_dx), 0.46),
                    (s * (0.27 + arm_dx), 0.6),
                    (s * (0.14 + arm_dx), 0.6),
                ],
            ),
            9,
        )
    if u() < 0.25:
        add(
            "scarf",
            lambda dr: p.polygon(
                dr,
                [
                    (-0.08, 0.13),
                    (0.08, 0.13),
                    (0.07, 0.18),
                    (0.03, 0.35),
                    (0.0, 0.35),
                    (-0.07, 0.18),
                ],
            ),
            8,
        )
    elif not one_piece and u() < 0.15:
        add(
            "tie",
            lambda dr: p.polygon(
                dr, [(-0.012, 0.16), (0.012, 0.16), (0.025, 0.36), (0.0, 0.39), (-0.025, 0.36)]
            ),
            8,
        )
    if u() < 0.2:
        add("watch", lambda dr: p.ellipse(dr, 0.14 + arm_dx, 0.44, 0.18 + arm_dx, 0.47), 9)
    if u() < 0.1:
        add(
            "glove",
            lambda dr: [
                p.ellipse(dr, s * (0.13 + arm_dx), 0.47, s * (0.19 + arm_dx), 0.54) for s in (-1, 1)
            ],
            9,
        )
    if u() < 0.1:
        add("umbrella", lambda dr: p.polygon(dr, [(-0.3, 0.05), (0.3, 0.05), (0.0, -0.08)]), 10)
    if upper is not None and u() < 0.35:
        deco = str(
            rng.choice(["applique", "bow", "flower", "ruffle", "sequin", "rivet", "bead", "ribbon"])
        )
        x, y = u(-0.08, 0.08), u(0.22, 0.38)
        add(deco, lambda dr: p.ellipse(dr, x - 0.025, y - 0.02, x + 0.025, y + 0.02), 6)
    return items, body


def draw_example(index: int, seed: int, width: int, height: int, names: dict, attr_ids: list[int]):
    """One synthetic photo and its instances (class id, RLE, attribute ids)."""
    rng = np.random.default_rng([seed, index])
    photo = _background(rng, width, height)
    p = Painter(width, height, rng)
    items, body = _outfit(p, rng)
    tone = tuple(int(c) for c in rng.integers([120, 80, 60], [255, 200, 170]))
    photo.paste(Image.new("RGB", (width, height), tone), mask=body["skin"])
    for item in sorted(items, key=lambda d: d.layer):
        bbox = item.mask.getbbox()
        if bbox is None:
            continue
        photo.paste(_texture(rng, width, height), mask=item.mask)
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
            n = int(rng.integers(0, 4))
            attrs = sorted(int(a) for a in rng.choice(attr_ids, n, replace=False)) if n else []
            instances.append((names[item.name], rle_encode(mask), attrs))
    return photo, instances


def _write_one(
    index: int, seed: int, width: int, height: int, names, attr_ids, out: Path, quality: int
):
    image_id = f"{index:012d}"
    photo, instances = draw_example(index, seed, width, height, names, attr_ids)
    photo.save(out / "train" / f"{image_id}.jpg", quality=quality)
    return image_id, instances


def synth(
    out: str | Path,
    images: int = 100,
    size: str = "256x384",
    seed: int = 0,
    workers: int | None = None,
    quality: int = 90,
) -> Path:
    """Write a synthetic data set in the Kaggle layout.

    Args:
        out: output folder; gets ``train/``, ``train.csv`` and ``label_descriptions.json``.
        images: number of photos.
        size: ``WxH`` (or N for square).
        seed: the same seed gives the same files.
        workers: processes (default: all cores).
        quality: JPEG quality.

    Returns:
        The output folder.
    """
    from .parallel import default_workers
    from .sizes import parse_size

    height, width = parse_size(size)
    out = Path(out)
    (out / "train").mkdir(parents=True, exist_ok=True)
    table = fashionpedia()
    names = {c.name: c.id for c in table.categories}
    attr_ids = sorted(table.attributes)
    (out / "label_descriptions.json").write_text(json.dumps(table.to_json(), indent=1))
    fn = functools.partial(
        _write_one,
        seed=seed,
        width=width,
        height=height,
        names=names,
        attr_ids=attr_ids,
        out=out,
        quality=quality,
    )
    workers = min(workers or default_workers(), max(1, images))
    from tqdm import tqdm

    with open(out / "train.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["ImageId", "EncodedPixels", "Height", "Width", "ClassId", "AttributesIds"])
        ctx = mp.get_context("fork")
        pool = ctx.Pool(workers) if workers > 1 else None
        results = pool.imap(fn, range(images)) if pool else map(fn, range(images))
        try:
            for image_id, instances in tqdm(results, total=images, desc="synth", unit="img"):
                for class_id, rle, attrs in instances:
                    writer.writerow(
                        [image_id, rle, height, width, class_id, ",".join(map(str, attrs))]
                    )
        finally:
            if pool:
                pool.close()
                pool.join()
    return out
