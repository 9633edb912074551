"""The instance side of a cache equals its definition: every instance built at the photo's
full resolution (the components rule included), then resized nearest-neighbour as the label
maps are, and dropped where it vanishes; the cache samples once and never builds the
full-size masks."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from fashionseg.data.components import component_masks
from fashionseg.data.compose import compose_resized
from fashionseg.data.records import Instance, Record
from fashionseg.data.rle import rle_decode, rle_encode
from fashionseg.prepare.cache import prepare_one


def _record(tmp_path) -> Record:
    h, w = 61, 47
    Image.new("RGB", (w, h), (120, 80, 40)).save(tmp_path / "a.jpg")
    shoes = np.zeros((h, w), bool)
    shoes[50:58, 3:14] = shoes[49:59, 27:40] = True  # two shoes in one row
    shoes[45, 30] = True  # a speck: joins the right shoe
    shoes[1, 1] = True  # a speck too far from nothing but the left shoe
    dress = np.zeros((h, w), bool)
    dress[10:48, 12:36] = True
    belt = np.zeros((h, w), bool)
    belt[28:31, 12:36] = True  # on the dress: the overlap rule paints it on top
    left_sleeve = np.zeros((h, w), bool)
    left_sleeve[12:20, 8:14] = True
    right_sleeve = np.zeros((h, w), bool)
    right_sleeve[12:20, 34:40] = True  # two rows of one class: pooled, then split
    tiny = np.zeros((h, w), bool)
    tiny[5, 40] = True  # vanishes at the cache's size
    rows = [(23, shoes, ()), (10, dress, (317,)), (35, belt, ()), (31, left_sleeve, (157,)),
            (31, right_sleeve, ()), (38, tiny, ())]  # fmt: skip
    instances = [Instance(c, rle_encode(m), a) for c, m, a in rows]
    return Record("a", tmp_path / "a.jpg", h, w, instances)


def _resized(full: np.ndarray, out_h: int, out_w: int, keep_aspect: bool) -> np.ndarray:
    """A full-resolution mask as the label maps are resized: Pillow's nearest, letterboxed."""
    h, w = full.shape
    if keep_aspect:
        scale = min(out_h / h, out_w / w)
        new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
    else:
        new_h, new_w = out_h, out_w
    small = np.asarray(Image.fromarray(full).resize((new_w, new_h), Image.NEAREST))
    out = np.zeros((out_h, out_w), bool)
    top, left = (out_h - new_h) // 2, (out_w - new_w) // 2
    out[top : top + new_h, left : left + new_w] = small
    return out


@pytest.mark.parametrize("keep_aspect", [False, True])
@pytest.mark.parametrize("rule", ["rows", "components"])
def test_instances_of_the_cache_are_the_full_resolution_ones_resized(tmp_path, rule, keep_aspect):
    record = _record(tmp_path)
    out_h, out_w = 24, 20
    _, labels, cached = prepare_one(record, out_h, out_w, keep_aspect, "all", rule)
    if rule == "rows":
        full = [(i.class_id, rle_decode(i.rle, 61, 47), i.attributes) for i in record.instances]
    else:
        full = component_masks(record.instances, 61, 47)
    expected = [(c, _resized(m, out_h, out_w, keep_aspect), a) for c, m, a in full]
    expected = [(c, m, a) for c, m, a in expected if m.any()]
    assert len(cached) == len(expected) == (5 if rule == "rows" else 6)
    for got, (class_id, mask, attributes) in zip(cached, expected):
        assert got["class_id"] == class_id and got["attributes"] == list(attributes)
        assert np.array_equal(rle_decode(got["rle"], out_h, out_w), mask)
        ys, xs = np.nonzero(mask)
        assert got["box"] == [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
    # The label map is the one composed without the shared sampling.
    args = (record.instances, 61, 47, out_h, out_w, keep_aspect)
    assert np.array_equal(labels, compose_resized(*args))
