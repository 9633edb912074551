"""The instance side of a cache (``prepare --task instances``): beside the photos and label
maps of the semantic cache, each photo's instances at the cache's size.

``instances.jsonl`` holds one line per prepared photo: its row index and its instances (class
id, Kaggle RLE at the cache's size, box ``[x0, y0, x1, y1]``, attribute ids). A line is
written and flushed before ``status`` marks its row done, so after a kill the rows marked done
all have their line; a line of a row not marked done is ignored and rewritten.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from fashionseg.data.components import apply_rule, class_unions, piece_labels
from fashionseg.data.compose import Sampled, fit, keep_classes, nearest_index, sample_instances
from fashionseg.data.records import Record
from fashionseg.data.rle import rle_encode

FILE = "instances.jsonl"


def resized_instances(
    record: Record,
    out_h: int,
    out_w: int,
    keep_aspect: bool,
    classes: str,
    rule: str,
    sampled: list[Sampled] | None = None,
    decoded: list[np.ndarray] | None = None,
) -> list[dict]:
    """A record's instances (under ``rule``) at the cache's size, nearest-neighbour as the
    label maps; instances that vanish at that size are dropped. ``sampled`` is the kept rows'
    masks at that size when the caller has them (``prepare_one`` composes the label map from
    them too), ``decoded`` the same at full resolution (the components rule works there)."""
    h, w = record.height, record.width
    new_h, new_w, top, left = fit(h, w, out_h, out_w, keep_aspect)
    kept = keep_classes(record.instances, classes)
    if rule == "components":
        small = _components(kept, h, w, new_h, new_w, decoded)
    else:
        apply_rule(kept, h, w, rule)  # an unknown rule fails here
        if sampled is None:
            sampled = sample_instances(kept, h, w, new_h, new_w)
        small = [(i.class_id, s.mask, i.attributes) for i, s in zip(kept, sampled)]
    out = []
    letterboxed = (new_h, new_w) != (out_h, out_w)
    for class_id, piece, attributes in small:
        rows = piece.any(1)
        if not rows.any():
            continue
        mask = piece
        if letterboxed:
            mask = np.zeros((out_h, out_w), dtype=bool)
            mask[top : top + new_h, left : left + new_w] = piece
            rows = mask.any(1)
        ys, xs = np.flatnonzero(rows), np.flatnonzero(mask.any(0))
        out.append(
            {
                "class_id": class_id,
                "rle": rle_encode(mask),
                "box": [int(xs[0]), int(ys[0]), int(xs[-1]) + 1, int(ys[-1]) + 1],
                "attributes": list(attributes),
            }
        )
    return out


def _components(kept, h: int, w: int, new_h: int, new_w: int, decoded=None):
    """The components rule at full resolution (``data/components.py``), each class's pieces
    sampled on the (new_h, new_w) grid as one label array: no full-size mask per piece."""
    rows, cols = nearest_index(h, new_h), nearest_index(w, new_w)
    out = []
    for class_id, union, attributes in class_unions(kept, h, w, decoded):
        split = piece_labels(union)
        if split is None:
            continue
        pieces, (y0, x0), order = split
        inside_r = (rows >= y0) & (rows < y0 + pieces.shape[0])
        inside_c = (cols >= x0) & (cols < x0 + pieces.shape[1])
        small = np.zeros((new_h, new_w), dtype=pieces.dtype)
        taken = pieces.take(rows[inside_r] - y0, 0).take(cols[inside_c] - x0, 1)
        small[np.ix_(inside_r, inside_c)] = taken
        out.extend((class_id, small == k, attributes) for k in order)
    return out


class InstanceLog:
    """Appends the instance lines of a cache being built (see the module docstring)."""

    def __init__(self, root: Path):
        self.file = open(root / FILE, "a", encoding="utf-8")

    def write(self, index: int, instances: list[dict]) -> None:
        self.file.write(json.dumps({"index": index, "instances": instances}) + "\n")

    def flush(self) -> None:
        import os

        self.file.flush()
        os.fsync(self.file.fileno())

    def close(self) -> None:
        self.file.close()


def read_instances(root: Path, done: np.ndarray) -> dict[int, list[dict]]:
    """Row index -> instances, for the rows of ``done`` (the last line of each wins)."""
    wanted = set(done.tolist())
    out: dict[int, list[dict]] = {}
    with open(root / FILE, encoding="utf-8") as f:
        for line in f:
            if not line.endswith("\n"):
                break  # the torn last line of a killed build
            entry = json.loads(line)
            if entry["index"] in wanted:
                out[entry["index"]] = entry["instances"]
    return out
