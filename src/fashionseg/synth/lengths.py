"""The lengths synth names as Fashionpedia attributes: a skirt's or a dress's hem and a
sleeve's length, each drawn inside one of its named ranges."""

from __future__ import annotations

# Read off what was drawn, by their Fashionpedia names (label_descriptions.json has the ids):
# the hem of skirts and dresses in figure heights from the top of the head (thigh, knee, shin)
# and the sleeves' length as a share of the arm (upper arm, elbow, wrist). A length is drawn
# inside one of its named ranges, never in the gaps between them: every skirt, dress and sleeve
# carries its length, and none hangs on a few pixels (the gaps are 5-13 pixels of a 192-pixel
# photo). The fabric's pattern is named in painter.py.
HEMS = {"mini (length)": (0.56, 0.64), "knee (length)": (0.68, 0.76), "maxi (length)": (0.84, 0.92)}
SLEEVES = {"short (length)": (0.25, 0.4), "elbow-length": (0.5, 0.65), "wrist-length": (0.9, 1.0)}
SLEEVELESS = "sleeveless"


def in_ranges(ranges: dict[str, tuple[float, float]], share: float) -> float:
    """The length at ``share`` (0-1) of the named ranges laid end to end: a uniform draw
    becomes a length uniform over the ranges, in none of the gaps."""
    total = sum(hi - lo for lo, hi in ranges.values())
    left = share * total
    for lo, hi in ranges.values():
        if left <= hi - lo:
            return lo + left
        left -= hi - lo
    return hi  # share 1.0 after rounding


def length_label(ranges: dict[str, tuple[float, float]], value: float) -> tuple[str, ...]:
    """The named range a drawn length falls in (none in the gaps)."""
    return tuple(name for name, (lo, hi) in ranges.items() if lo <= value <= hi)
