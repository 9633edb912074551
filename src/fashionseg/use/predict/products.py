"""What users make of a label map: chosen garments (``--only``), body-region groups
(``--groups``, the table of ``data/groups.py``) and cut-outs (``--cutouts``).

Parts, closures and decorations (sleeve, neckline, pocket, zipper, bow...) have no region of
their own: their pixels join the garment group they touch most in the same photo, so a dress
with its sleeves stays one whole-body mask.
"""

from __future__ import annotations

import difflib
import re

import numpy as np
from PIL import Image, ImageFilter

from fashionseg.data.categories import IGNORE
from fashionseg.data.groups import GROUP_NAMES, GROUP_OF, PART_GROUP
from fashionseg.errors import UsageError

TOUCH = 3  # pixels around a part searched for the garment it sits on


def parse_only(text: str, names: list[str]) -> set[int]:
    """``"dress,skirt"`` or ``"10,8"`` (names or ClassIds) -> label values.

    Raises:
        ValueError: an unknown name or id, with the valid names listed.
    """
    wanted: set[int] = set()
    rest = text
    # Names that hold commas ("bag, wallet") are taken whole before the list is split.
    for name in sorted(names[1:], key=len, reverse=True):
        if "," in name and name in rest:
            wanted.add(names.index(name))
            rest = rest.replace(name, "")
    for token in (t.strip() for t in rest.split(",")):
        if not token:
            continue
        if token.isdigit() and int(token) + 1 < len(names):
            wanted.add(int(token) + 1)
        elif token in names[1:]:
            wanted.add(names.index(token))
        else:
            raise UsageError(f"--only: unknown garment {token!r}; {suggest(token, names[1:])}")
    return wanted


def suggest(token: str, valid: list[str]) -> str:
    """The closest valid names to a mistyped one, and where the full list is."""
    lowered = {name.lower(): name for name in valid}
    # Names like "bag, wallet" are matched by each of their words too.
    words = {w.strip(): name for name in valid for w in name.split(",")}
    close = difflib.get_close_matches(token.lower(), list(lowered) + list(words), n=6, cutoff=0.6)
    picks = list(dict.fromkeys(lowered.get(c) or words[c] for c in close))[:3]
    hint = f"did you mean {' or '.join(repr(p) for p in picks)}? " if picks else ""
    return f"{hint}`fashionseg categories` lists all {len(valid)}"


def keep_only(labels: np.ndarray, wanted: set[int]) -> np.ndarray:
    """The label map with every value outside ``wanted`` set to background."""
    keep = np.zeros(256, dtype=bool)
    keep[list(wanted)] = True
    keep[IGNORE] = True
    return np.where(keep[labels], labels, 0).astype(np.uint8)


def to_groups(labels: np.ndarray, names: list[str]) -> np.ndarray:
    """A category label map -> a body-region label map (values index ``GROUP_NAMES``)."""
    lut = np.zeros(256, dtype=np.uint8)
    lut[IGNORE] = IGNORE
    part_values = []
    for value, name in enumerate(names):
        if value == 0:
            continue
        group = GROUP_OF.get(name, "accessories")
        lut[value] = GROUP_NAMES.index(group)
        if group == PART_GROUP:
            part_values.append(value)
    groups = lut[labels]
    part_id = GROUP_NAMES.index(PART_GROUP)
    for value in part_values:
        part = labels == value
        if not part.any():
            continue
        ring = _dilate(part, TOUCH) & ~part
        touching = groups[ring]
        touching = touching[(touching != 0) & (touching != part_id) & (touching != IGNORE)]
        if touching.size:
            groups[part] = np.bincount(touching).argmax()
    return groups


def _dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    """Binary dilation by a (2r+1)^2 square, with shifted ORs (no SciPy needed)."""
    out = mask.copy()
    for _ in range(radius):
        grown = out.copy()
        grown[1:] |= out[:-1]
        grown[:-1] |= out[1:]
        grown[:, 1:] |= out[:, :-1]
        grown[:, :-1] |= out[:, 1:]
        out = grown
    return out


def cutout_name(name: str) -> str:
    """A category name as a file name: ``bag, wallet`` -> ``bag-wallet``."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "garment"


def cutout(rgb: np.ndarray, mask: np.ndarray, feather: float = 0.0) -> Image.Image:
    """One garment as an RGBA image cropped to its bounding box: the photo's pixels where the
    garment is, transparent elsewhere; ``feather`` (pixels) softens the edge.

    Args:
        rgb: the photo, uint8 (H, W, 3).
        mask: bool (H, W), the garment.
        feather: Gaussian blur radius of the alpha edge (0: hard edge).
    """
    rows = np.flatnonzero(mask.any(1))
    cols = np.flatnonzero(mask.any(0))
    y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    pad = int(np.ceil(2 * feather))  # room for the soft edge
    y0, x0 = max(0, y0 - pad), max(0, x0 - pad)
    y1, x1 = min(mask.shape[0], y1 + pad), min(mask.shape[1], x1 + pad)
    alpha = Image.fromarray((mask[y0:y1, x0:x1] * 255).astype(np.uint8))
    if feather > 0:
        alpha = alpha.filter(ImageFilter.GaussianBlur(feather))
    rgba = np.dstack([rgb[y0:y1, x0:x1], np.asarray(alpha)])
    return Image.fromarray(rgba, "RGBA")
