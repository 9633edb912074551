"""Bad rows and files: a clear reason per image, never a crash, never a wrong mask."""

import csv

import numpy as np
import pytest
from PIL import Image

from fashionseg.cli import main
from fashionseg.data.rle import rle_encode

H, W = 12, 8


def _mask():
    m = np.zeros((H, W), bool)
    m[2:9, 1:6] = True
    return m


@pytest.fixture
def messy(tmp_path):
    d = tmp_path / "data"
    (d / "train").mkdir(parents=True)
    rgb = np.random.default_rng(0).integers(0, 255, (H, W, 3), dtype=np.uint8)
    good = rle_encode(_mask())
    Image.fromarray(rgb).save(d / "train" / "good.jpg")
    Image.fromarray(rgb).convert("L").save(d / "train" / "gray.jpg")
    Image.fromarray(rgb).convert("CMYK").save(d / "train" / "cmyk.jpg")
    Image.fromarray(rgb).save(d / "train" / "png.jpg", format="PNG")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 on display; masks refer to the stored grid
    Image.fromarray(rgb).save(d / "train" / "rotated.jpg", exif=exif)
    Image.fromarray(rgb).save(d / "train" / "00042.jpg")
    big = np.random.default_rng(1).integers(0, 255, (300, 200, 3), dtype=np.uint8)
    Image.fromarray(big).save(d / "train" / "trunc.jpg", quality=95)
    data = (d / "train" / "trunc.jpg").read_bytes()
    (d / "train" / "trunc.jpg").write_bytes(data[: len(data) // 2])
    Image.fromarray(rgb).save(d / "train" / "wrongsize.jpg")
    (d / "train" / "garbage.jpg").write_bytes(b"not an image at all")
    for name in ["oddrle", "badint", "zero", "past", "unsorted", "badclass"]:
        Image.fromarray(rgb).save(d / "train" / f"{name}.jpg")
    rows = [
        ("good", good, H, W, 1, "3,4"),
        ("gray", good, H, W, 1, ""),
        ("cmyk", good, H, W, 1, ""),
        ("png", good, H, W, 1, ""),
        ("rotated", good, H, W, 1, ""),
        ("00042", good, H, W, 1, ""),
        ("00042", good, H, W, 1, ""),
        ("missing", good, H, W, 1, ""),
        ("trunc", "1 5", 300, 200, 1, ""),
        ("wrongsize", good, H + 1, W, 1, ""),
        ("garbage", good, H, W, 1, ""),
        ("oddrle", "1 2 3", H, W, 1, ""),
        ("badint", "1 b", H, W, 1, ""),
        ("zero", "0 3", H, W, 1, ""),
        ("past", f"{H * W} 2", H, W, 1, ""),
        ("unsorted", "9 2 1 2", H, W, 1, ""),
        ("badclass", good, H, W, 77, ""),
        ("../x", good, H, W, 1, ""),
        ("huge", "1 1", 90000, 90000, 1, ""),
    ]
    with open(d / "train.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["ImageId", "EncodedPixels", "Height", "Width", "ClassId", "AttributesIds"])
        w.writerows(rows)
    return d


REASONS = {
    "missing": "missing",
    "trunc": "truncated",
    "wrongsize": "do not match",
    "garbage": "unreadable",
    "oddrle": "odd number",
    "badint": "non-integer",
    "zero": "below 1",
    "past": "past Height",
    "unsorted": "unsorted",
    "badclass": "unknown ClassId",
    "../x": "plain file name",
    "huge": "too large to allocate",
}


@pytest.mark.parametrize("workers", [1, 2])
def test_masks_skips_bad_images_with_reasons(messy, tmp_path, capsys, workers):
    out = tmp_path / "out"
    assert main(["masks", str(messy), "--out", str(out), "--workers", str(workers)]) == 0
    errors = {r["ImageId"]: r["reason"] for r in csv.DictReader(open(out / "errors.csv"))}
    assert set(errors) == set(REASONS)
    for image_id, reason in REASONS.items():
        assert reason in errors[image_id], (image_id, errors[image_id])
    assert f"{len(REASONS)} image(s) skipped" in capsys.readouterr().err
    expected = _mask().astype(np.uint8) * 2
    for name in ["good", "gray", "cmyk", "png", "rotated", "00042"]:
        assert (np.asarray(Image.open(out / f"{name}.png")) == expected).all(), name
    assert not (tmp_path / "x.png").exists() and not (messy / "x.png").exists()


def test_strict_stops_with_one_line(messy, tmp_path, capsys):
    assert (
        main(["masks", str(messy), "--out", str(tmp_path / "o"), "--strict", "--workers", "1"]) == 2
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("fashionseg masks: error: missing: image file missing")
    assert "Traceback" not in "\n".join(err)


def test_prepare_skips_bad_images(messy, tmp_path):
    from fashionseg.data.prepare import open_cache

    assert (
        main(
            ["prepare", str(messy), "--out", str(tmp_path / "c"), "--size", "16", "--workers", "1"]
        )
        == 0
    )
    cache = open_cache(tmp_path / "c")
    assert sorted(cache.ids) == sorted(["good", "gray", "cmyk", "png", "rotated", "00042"])
    errors = list(csv.DictReader(open(tmp_path / "c" / "errors.csv")))
    assert len(errors) == len(REASONS)


def test_unknown_layout_is_one_line(tmp_path, capsys):
    assert main(["stats", str(tmp_path), "--out", str(tmp_path / "s")]) == 2
    assert "not a Kaggle" in capsys.readouterr().err
