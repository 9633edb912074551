"""Synthetic outfits: garment templates (shapes in figure coordinates) and the draws that
combine them into one outfit per photo.

Coordinates are in units of the figure's height, x from the body's centre line, y from the
top of the head; :class:`synth.Painter` maps them to pixels. Every random draw is made in a
fixed order, so a seed always gives the same outfit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image

from fashionseg.synth.lengths import HEMS, SLEEVELESS, SLEEVES, in_ranges, length_label

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
OUTER = ("jacket", "coat", "cardigan", "vest")  # drawn over the other upper-body garments

# Garments and accessories of fixed shape: (painter method, its arguments) per stroke.
SHAPES: dict[str, list[tuple[str, tuple]]] = {
    "collar": [
        ("polygon", ([(s * 0.01, 0.145), (s * 0.07, 0.145), (s * 0.02, 0.2)],)) for s in (-1, 1)
    ],
    "lapel": [
        ("polygon", ([(s * 0.02, 0.2), (s * 0.06, 0.19), (s * 0.015, 0.3)],)) for s in (-1, 1)
    ],
    "chest pocket": [("polygon", ([(0.04, 0.24), (0.09, 0.24), (0.09, 0.29), (0.04, 0.29)],))],
    "belt": [("polygon", ([(-0.12, 0.44), (0.12, 0.44), (0.12, 0.465), (-0.12, 0.465)],))],
    "buckle": [("polygon", ([(-0.015, 0.438), (0.015, 0.438), (0.015, 0.467), (-0.015, 0.467)],))],
    "hat": [
        ("ellipse", (-0.09, 0.015, 0.09, 0.045)),
        ("polygon", ([(-0.05, -0.04), (0.05, -0.04), (0.055, 0.03), (-0.055, 0.03)],)),
    ],
    "glasses": [("ellipse", (s * 0.005, 0.05, s * 0.045, 0.07)) for s in (-1, 1)],
    "scarf": [
        (
            "polygon",
            (
                [
                    (-0.08, 0.13),
                    (0.08, 0.13),
                    (0.07, 0.18),
                    (0.03, 0.35),
                    (0.0, 0.35),
                    (-0.07, 0.18),
                ],
            ),
        )
    ],
    "tie": [
        ("polygon", ([(-0.012, 0.16), (0.012, 0.16), (0.025, 0.36), (0.0, 0.39), (-0.025, 0.36)],))
    ],
    "umbrella": [("polygon", ([(-0.3, 0.05), (0.3, 0.05), (0.0, -0.08)],))],
}
DECORATIONS = ["applique", "bow", "flower", "ruffle", "sequin", "rivet", "bead", "ribbon"]

# Garments whose fabric pattern is named as an attribute.
PATTERNED = {*UPPER, *LOWER, "dress", "jumpsuit"}


@dataclass
class Drawn:
    name: str
    mask: Image.Image  # "L", 255 inside
    layer: int  # paint order in the photo
    attributes: tuple[str, ...] = ()  # Fashionpedia attribute names (besides the pattern)


class Outfit:
    """One outfit being drawn: the painter, the random draws and the instances so far."""

    def __init__(self, painter, rng: np.random.Generator):
        self.p, self.rng, self.u = painter, rng, rng.uniform
        self.items: list[Drawn] = []
        self.arm_dx = self.u(0.03, 0.09)  # how far the hands swing out

    def add(
        self, name: str, draw_fn: Callable, layer: int, attributes: tuple[str, ...] = ()
    ) -> Image.Image:
        im, dr = self.p.blank()
        draw_fn(dr)
        self.items.append(Drawn(name, im, layer, attributes))
        return im

    def add_shape(self, name: str, layer: int, template: str | None = None) -> Image.Image:
        """An instance of a fixed-shape template (``SHAPES``)."""
        strokes = SHAPES[template or name]
        return self.add(
            name, lambda dr: [getattr(self.p, kind)(dr, *args) for kind, args in strokes], layer
        )

    def maybe(self, name: str, chance: float, layer: int) -> None:
        if self.u() < chance:
            self.add_shape(name, layer)


def draw_outfit(p, rng: np.random.Generator) -> tuple[list[Drawn], dict]:
    """Instance masks of one outfit, plus the body masks (skin) to paint first."""
    o = Outfit(p, rng)
    body = {"skin": _body(o)}
    one_piece = o.u() < 0.25
    if one_piece:
        upper, lower_hem = _one_piece(o)
    else:
        upper, name, hem, layer = _top(o)
        lower_hem = _bottom(o)
        _top_details(o, name, hem, layer)
    _basics(o, lower_hem)
    _accessories(o, one_piece, upper)
    return o.items, body


def _body(o: Outfit) -> Image.Image:
    """Head, neck, arms, legs and torso: the skin under the clothes."""
    p, u = o.p, o.u
    skin, d = p.blank()
    p.ellipse(d, -0.055, 0.0, 0.055, 0.13)  # head
    p.polygon(d, [(-0.025, 0.11), (0.025, 0.11), (0.03, 0.16), (-0.03, 0.16)])  # neck
    for s in (-1, 1):
        p.limb(d, s * 0.13, 0.17, s * (0.15 + o.arm_dx), 0.5, 0.055)  # arms
        p.limb(d, s * 0.055, 0.48, s * u(0.05, 0.09), 0.93, 0.07)  # legs
    p.polygon(d, [(-0.14, 0.15), (0.14, 0.15), (0.11, 0.5), (-0.11, 0.5)])  # torso
    return skin


def _one_piece(o: Outfit) -> tuple[Image.Image, float]:
    """A dress or a jumpsuit; returns its mask and hem height."""
    p, u = o.p, o.u
    name = "dress" if u() < 0.7 else "jumpsuit"
    hem = in_ranges(HEMS, u())
    flare = u(0.14, 0.24)
    outline = [
        (-0.14, 0.15),
        (0.14, 0.15),
        (0.11, 0.45),
        (flare, hem),
        (-flare, hem),
        (-0.11, 0.45),
    ]

    def dress(dr):
        p.polygon(dr, outline)
        if name == "jumpsuit":
            for s in (-1, 1):
                p.limb(dr, s * 0.055, 0.5, s * 0.07, 0.9, 0.085)

    hem_label = length_label(HEMS, hem) if name == "dress" else ()
    return o.add(name, dress, 3, hem_label), hem


def _top(o: Outfit) -> tuple[Image.Image, str, float, int]:
    """An upper-body garment and its sleeves; returns (mask, name, hem, layer)."""
    p, u = o.p, o.u
    name = str(o.rng.choice(UPPER))
    # All four lengths are drawn whatever the garment, so later draws do not depend on it.
    hem = {"coat": u(0.7, 0.85), "jacket": u(0.5, 0.58), "vest": u(0.45, 0.52)}.get(
        name, u(0.45, 0.55)
    )
    sleeves = name != "vest"
    t = in_ranges(SLEEVES, u())  # sleeve length, as a share of the arm

    def sleeve(dr, s):
        p.limb(dr, s * 0.13, 0.17, s * (0.13 + (0.02 + o.arm_dx) * t), 0.17 + 0.33 * t, 0.07)

    def top(dr):
        p.polygon(dr, [(-0.15, 0.145), (0.15, 0.145), (0.13, hem), (-0.13, hem)])
        if sleeves:
            for s in (-1, 1):
                sleeve(dr, s)

    layer = 5 if name in OUTER else 4
    sleeve_label = length_label(SLEEVES, t) if sleeves else (SLEEVELESS,)
    upper = o.add(name, top, layer, sleeve_label)
    if sleeves:
        for s in (-1, 1):
            o.add("sleeve", lambda dr, s=s: sleeve(dr, s), layer, sleeve_label)
    return upper, name, hem, layer


def _bottom(o: Outfit) -> float:
    """Pants, shorts or a skirt (and maybe a pocket); returns the hem height."""
    p, u = o.p, o.u
    lower = str(o.rng.choice(LOWER))
    hem = {"pants": u(0.88, 0.93), "shorts": u(0.58, 0.65), "skirt": in_ranges(HEMS, u())}[lower]

    def bottom(dr):
        if lower == "skirt":
            fl = u(0.13, 0.2)
            p.polygon(dr, [(-0.115, 0.45), (0.115, 0.45), (fl, hem), (-fl, hem)])
        else:
            p.polygon(dr, [(-0.115, 0.45), (0.115, 0.45), (0.12, 0.52), (-0.12, 0.52)])
            for s in (-1, 1):
                p.limb(dr, s * 0.06, 0.5, s * 0.07, hem, 0.085)

    o.add(lower, bottom, 2, length_label(HEMS, hem) if lower == "skirt" else ())
    if lower != "skirt" and u() < 0.5:
        x = o.rng.choice([-1, 1]) * u(0.04, 0.07)
        corners = [(x - 0.025, 0.49), (x + 0.025, 0.49), (x + 0.025, 0.54), (x - 0.025, 0.54)]
        o.add("pocket", lambda dr: p.polygon(dr, corners), 2)
    return hem


def _top_details(o: Outfit, name: str, hem: float, layer: int) -> None:
    """Collar, lapels, a chest pocket and a zipper, where the garment has them."""
    u = o.u
    if name in ("shirt, blouse", "jacket", "coat") and u() < 0.7:
        o.add_shape("collar", layer)
    if name in ("jacket", "coat") and u() < 0.6:
        o.add_shape("lapel", layer)
        if u() < 0.5:
            o.add_shape("pocket", layer, template="chest pocket")
    if name in ("jacket", "coat", "sweater", "top, t-shirt, sweatshirt") and u() < 0.3:
        zipper = [(-0.006, 0.2), (0.006, 0.2), (0.006, hem), (-0.006, hem)]
        o.add("zipper", lambda dr: o.p.polygon(dr, zipper), layer)


def _basics(o: Outfit, lower_hem: float) -> None:
    """Neckline, shoes, maybe tights, maybe a belt with a buckle."""
    p, u = o.p, o.u
    depth = u(0.04, 0.09)
    o.add(
        "neckline",
        lambda dr: p.polygon(dr, [(-0.05, 0.145), (0.05, 0.145), (0.0, 0.145 + depth)]),
        6,
    )
    for s in (-1, 1):
        foot = s * u(0.06, 0.09)
        o.add("shoe", lambda dr, f=foot: p.ellipse(dr, f - 0.045, 0.905, f + 0.045, 0.96), 2)
    if lower_hem < 0.85 and u() < 0.3:
        o.add(
            "tights, stockings",
            lambda dr: [
                p.limb(dr, s * 0.055, lower_hem - 0.02, s * 0.07, 0.92, 0.065) for s in (-1, 1)
            ],
            1,
        )
    if u() < 0.4:
        o.add_shape("belt", 7)
        o.maybe("buckle", 0.7, 7)


def _accessories(o: Outfit, one_piece: bool, upper) -> None:
    """Hat, glasses, bag, scarf or tie, watch, gloves, umbrella, a decoration."""
    p, u, dx = o.p, o.u, o.arm_dx
    o.maybe("hat", 0.35, 8)
    o.maybe("glasses", 0.3, 8)
    if u() < 0.4:
        s = o.rng.choice([-1, 1])
        corners = [
            (s * (0.15 + dx), 0.46),
            (s * (0.26 + dx), 0.46),
            (s * (0.27 + dx), 0.6),
            (s * (0.14 + dx), 0.6),
        ]
        o.add("bag, wallet", lambda dr: p.polygon(dr, corners), 9)
    if u() < 0.25:
        o.add_shape("scarf", 8)
    elif not one_piece and u() < 0.15:
        o.add_shape("tie", 8)
    if u() < 0.2:
        o.add("watch", lambda dr: p.ellipse(dr, 0.14 + dx, 0.44, 0.18 + dx, 0.47), 9)
    if u() < 0.1:
        o.add(
            "glove",
            lambda dr: [
                p.ellipse(dr, s * (0.13 + dx), 0.47, s * (0.19 + dx), 0.54) for s in (-1, 1)
            ],
            9,
        )
    o.maybe("umbrella", 0.1, 10)
    if upper is not None and u() < 0.35:
        deco = str(o.rng.choice(DECORATIONS))
        x, y = u(-0.08, 0.08), u(0.22, 0.38)
        o.add(deco, lambda dr: p.ellipse(dr, x - 0.025, y - 0.02, x + 0.025, y + 0.02), 6)
