"""Label Studio's brush RLE and CVAT's box runs, written and read by fashionseg's own code;
Label Studio's converter reads what it writes in tests/e2e/test_labelling_tools.py."""

from __future__ import annotations

import numpy as np
import pytest

from fashionseg.data.brush_rle import brush_decode, brush_encode
from fashionseg.data.cvat_rle import mask_runs, runs_mask
from fashionseg.data.rle import RLEError


def _pack(bits: str) -> list[int]:
    """A bit string, most significant bit first, as bytes."""
    bits += "0" * (-len(bits) % 8)
    return [int(bits[i : i + 8], 2) for i in range(0, len(bits), 8)]


@pytest.mark.parametrize("shape", [(1, 1), (3, 5), (40, 30), (130, 700)])
def test_brush_masks_round_trip(shape):
    rng = np.random.default_rng(sum(shape))
    for mask in (rng.random(shape) > 0.5, np.ones(shape, bool), np.zeros(shape, bool)):
        assert np.array_equal(brush_decode(brush_encode(mask), *shape), mask)


def test_a_run_longer_than_a_chunk_splits():
    # 300x300 pixels are 360,000 values: several chunks of at most 65,536.
    mask = np.zeros((300, 300), bool)
    mask[10:290] = True
    rle = brush_encode(mask)
    assert len(rle) < 60
    assert np.array_equal(brush_decode(rle, 300, 300), mask)


def test_listed_values_and_soft_edges_decode_by_alpha():
    # A hand-packed stream: 2 pixels (8 values) listed one by one (flag 0), alpha 0 then 200.
    values = [9, 9, 9, 0, 9, 9, 9, 200]
    bits = f"{8:032b}{7:05b}" + "".join(f"{s - 1:04b}" for s in (3, 4, 8, 16))
    bits += "0" + "00" + f"{7:03b}" + "".join(f"{v:08b}" for v in values)
    assert brush_decode(_pack(bits), 1, 2).tolist() == [[False, True]]


@pytest.mark.parametrize(
    "rle, why",
    [
        ([0, 0, 0], "shorter than its header"),
        (brush_encode(np.ones((4, 4), bool))[:-2], "ends inside a chunk"),
        (brush_encode(np.ones((5, 4), bool)), "80 values, expected 64"),
        (_pack(f"{64:032b}{3:05b}" + "0" * 40), "4-bit words"),
        ([300, 1], "list of bytes"),
        (["a"], "list of bytes"),
    ],
)
def test_a_bad_brush_rle_is_one_clear_error(rle, why):
    with pytest.raises(RLEError, match=why):
        brush_decode(rle, 4, 4)


def test_cvat_runs_cover_the_box_and_start_with_background():
    mask = np.zeros((6, 8), bool)
    mask[1:4, 2:5] = True
    mask[1, 2] = False
    left, top, width, height, runs = mask_runs(mask)
    assert (left, top, width, height) == (2, 1, 3, 3)
    assert runs == [1, 8]
    full = np.ones((2, 2), bool)
    assert mask_runs(full)[4] == [0, 4]
    assert np.array_equal(runs_mask(runs, (left, top, width, height), mask.shape), mask)
    with pytest.raises(RLEError, match="cover 8 pixels"):
        runs_mask([1, 7], (2, 1, 3, 3), (6, 8))
    with pytest.raises(RLEError, match="leaves the 8x6 photo"):
        runs_mask([0, 9], (6, 1, 3, 3), (6, 8))
