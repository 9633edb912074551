import re

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


def _messy(rng: np.random.Generator, mask: np.ndarray) -> str:
    """The mask's RLE with random extra whitespace, and sometimes one corruption."""
    tokens = rle_encode(mask).split()
    kind = rng.integers(0, 8)
    if tokens and kind == 1:
        tokens[rng.integers(len(tokens))] = "+3"
    elif tokens and kind == 2:
        tokens[rng.integers(len(tokens))] = "0"
    elif tokens and kind == 3:
        tokens = tokens[:-1]
    elif tokens and kind == 4:
        tokens[-1] = str(int(tokens[-1]) + 5)  # runs past the end
    elif len(tokens) > 3 and kind == 5:
        tokens[0], tokens[2] = tokens[2], tokens[0]  # unsorted
    elif tokens and kind == 6:
        tokens[0] = "9" * 25
    seps = rng.choice([" ", "  ", "\t", "\n "], size=len(tokens) + 1)
    return seps[0] + "".join(t + s for t, s in zip(tokens, seps[1:]))


def test_compiled_kernel_agrees_with_numpy_on_good_and_bad_strings():
    from fashionseg.data import rle_kernel
    from fashionseg.data.rle import rle_decode_numpy

    kernel = rle_kernel.compiled()
    if kernel is None:
        pytest.skip("numba not installed: rle_decode is the NumPy path")
    rng = np.random.default_rng(1)
    for _ in range(300):
        h, w = rng.integers(1, 30, size=2)
        mask = rng.random((h, w)) > rng.random()
        encoded = _messy(rng, mask)
        try:
            expected = rle_decode_numpy(encoded, h, w)
        except RLEError as e:
            with pytest.raises(RLEError, match=re.escape(str(e))):
                rle_decode(encoded, h, w)
            # The kernel itself must refuse it, not decode it into something.
            flat = np.zeros(h * w, bool)
            assert kernel(np.frombuffer(encoded.encode(), np.uint8), flat) != 0
            continue
        assert np.array_equal(rle_decode(encoded, h, w), expected)


@pytest.mark.parametrize(
    "encoded, code",
    [("1 2 3", "ODD"), ("1 x", "NOT_DIGITS"), ("+1 2", "NOT_DIGITS"), ("0 2", "BAD_START"),
     ("5 10", "PAST_END"), ("5 2 1 2", "UNSORTED"), ("1 3 2 2", "UNSORTED"), ("3 0", "BAD_LENGTH"),
     ("1 " + "9" * 19, "TOO_LONG"), ("1 2 3 2", "OK"), (" \t1 2\n", "OK"), ("", "OK")],
)  # fmt: skip
def test_kernel_codes(encoded, code):
    from fashionseg.data import rle_kernel

    kernel = rle_kernel.compiled()
    if kernel is None:
        pytest.skip("numba not installed")
    flat = np.zeros(12, bool)
    got = kernel(np.frombuffer(encoded.encode(), np.uint8), flat)
    assert got == getattr(rle_kernel, code)


def _edge_masks() -> list[np.ndarray]:
    """Empty, full, one pixel (first, last, alone mid-photo), runs across columns, and random
    masks of odd shapes."""
    masks = [np.zeros((6, 5), bool), np.ones((6, 5), bool)]
    for r, c in ((0, 0), (5, 4), (3, 2)):
        one = np.zeros((6, 5), bool)
        one[r, c] = True
        masks.append(one)
    across = np.zeros((6, 5), bool)
    across[4:, 1] = across[:3, 2] = True  # one run from the foot of column 1 into column 2
    masks.append(across)
    rng = np.random.default_rng(7)
    masks += [
        rng.random((h, w)) > p
        for (h, w) in ((1, 9), (9, 1), (13, 11), (40, 31))
        for p in (0.2, 0.8)
    ]
    return masks


@pytest.mark.parametrize("mask", _edge_masks())
def test_coco_runs_give_kaggle_rle_and_pixels_without_decoding(mask):
    from fashionseg.data.coco import CocoMask
    from fashionseg.data.coco_rle import counts_to_runs, decode_counts
    from fashionseg.data.records import Instance
    from fashionseg.data.rle import runs_decode, runs_to_rle
    from fashionseg.data.schema.types import Rle

    h, w = mask.shape
    coco = coco_mask.encode(np.asfortranarray(mask.astype(np.uint8)))
    runs = counts_to_runs(decode_counts(coco["counts"]))
    assert runs_to_rle(*runs) == rle_encode(mask)
    assert (runs_decode(*runs, h, w) == mask).all()
    lazy = Instance(3, attributes=(1,), mask=CocoMask(Rle([h, w], coco["counts"].decode()), h, w))
    assert lazy.rle == rle_encode(mask) and lazy == Instance(3, rle_encode(mask), (1,))
    starts, ends = lazy.runs(h, w)
    assert (starts == parse_runs(rle_encode(mask), h, w)[0]).all()


SHARED = __import__("pathlib").Path(__file__).parents[3] / "shared" / "data"


@pytest.mark.skipif(not SHARED.exists(), reason="needs ../shared/data")
def test_run_conversion_equals_the_full_decode_on_every_shared_mask():
    """Every polygon and RLE of the Fashionpedia sample (through the COCO reader's lazy
    instances), and every CCP mask (Kaggle strings through pycocotools' RLE and back)."""
    import pickle

    from fashionseg.data.coco_rle import counts_to_runs, decode_counts
    from fashionseg.data.formats import open_dataset
    from fashionseg.data.rle import runs_to_rle

    sample = SHARED / "fashionpedia-sample" / "coco" / "instances_sample.json"
    from pycocotools.coco import COCO

    reference = COCO(str(sample))
    n = 0
    for record in open_dataset(sample):
        anns = reference.imgToAnns[next(i["id"] for i in reference.dataset["images"]
                                        if i["file_name"].startswith(record.image_id))]  # fmt: skip
        for inst, ann in zip(record.instances, anns, strict=True):
            full = reference.annToMask(ann).astype(bool)
            again = pickle.loads(pickle.dumps(inst))  # as prepare's workers receive it
            assert again.rle == inst.rle == rle_encode(full)
            n += 1
    assert n == 12
    for record in open_dataset(SHARED / "ccp-fashionpedia"):
        for inst in record.instances:
            full = rle_decode(inst.rle, record.height, record.width)
            coco = coco_mask.encode(np.asfortranarray(full.astype(np.uint8)))
            assert runs_to_rle(*counts_to_runs(decode_counts(coco["counts"]))) == inst.rle
            n += 1
    assert n > 3000
