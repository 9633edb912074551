import numpy as np
import pytest
from pycocotools import mask as coco_mask

from fashionseg.data import RLEError, rle_decode, rle_encode
from fashionseg.data.rle import parse_runs, rle_area, sample_runs

CASES = [
    np.zeros((5, 7), bool),
    np.ones((5, 7), bool),
    np.eye(6, dtype=bool),
    np.pad(np.ones((1, 1), bool), ((0, 0), (0, 0))),
]


@pytest.mark.parametrize(
    "mask", CASES + [np.random.default_rng(s).random((17, 23)) > 0.5 for s in range(5)]
)
def test_roundtrip_against_pycocotools(mask):
    encoded = rle_encode(mask)
    coco = coco_mask.decode(coco_mask.encode(np.asfortranarray(mask.astype(np.uint8)))).astype(bool)
    assert (rle_decode(encoded, *mask.shape) == coco).all()
    assert rle_area(encoded, *mask.shape) == int(
        coco_mask.area(coco_mask.encode(np.asfortranarray(mask.astype(np.uint8))))
    )


def test_column_major_and_one_indexed():
    # "1 2" covers the first two pixels of the first column.
    m = rle_decode("1 2 7 1", 3, 3)
    expected = np.zeros((3, 3), bool)
    expected[0, 0] = expected[1, 0] = True
    expected[0, 2] = True  # pixel 7 = column 2, row 0
    assert (m == expected).all()
    assert rle_encode(expected) == "1 2 7 1"


def test_adjacent_runs_and_last_pixel():
    m = rle_decode("1 2 3 2 12 1", 3, 4)
    assert m.sum() == 5 and m[2, 3] and m[2, 0] and m[0, 1] and not m[1, 1]


@pytest.mark.parametrize(
    "encoded, reason",
    [
        ("1 2 3", "odd"),
        ("1 x", "non-integer"),
        ("0 2", "below 1"),
        ("5 10", "past"),
        ("5 2 1 2", "unsorted"),
        ("1 3 2 2", "overlapping"),
        ("3 0", "length"),
    ],
)
def test_malformed(encoded, reason):
    with pytest.raises(RLEError, match=reason):
        rle_decode(encoded, 3, 4)


def test_too_large():
    with pytest.raises(RLEError, match="too large"):
        rle_decode("1 1", 100_000, 100_000)


def test_sample_runs_matches_full_decode():
    rng = np.random.default_rng(0)
    mask = rng.random((40, 30)) > 0.6
    starts, ends = parse_runs(rle_encode(mask), 40, 30)
    rows, cols = np.array([0, 5, 39]), np.array([0, 29, 7, 3])
    assert (sample_runs(starts, ends, rows, cols, 40) == mask[np.ix_(rows, cols)]).all()
