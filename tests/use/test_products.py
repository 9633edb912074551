"""Garment products: cut-outs, --only, body-region groups, --skip-existing, and the threaded
predict pipeline against the plain one."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fashionseg.cli import main
from fashionseg.data.categories import fashionpedia
from fashionseg.data.groups import GROUP_NAMES, GROUPS
from fashionseg.use.predict.folder import predict
from fashionseg.use.predict.products import cutout, keep_only, parse_only, to_groups

NAMES = fashionpedia().names()
SAMPLE = Path(str(resources.files("fashionseg") / "sample" / "ccp" / "train"))


def test_every_category_is_in_exactly_one_group():
    members = [name for names in GROUPS.values() for name in names]
    assert sorted(members) == sorted(NAMES[1:]) and len(members) == len(set(members))


def test_a_dress_with_its_sleeves_and_neckline_is_one_whole_body_mask():
    labels = np.zeros((40, 30), np.uint8)
    labels[5:35, 8:22] = NAMES.index("dress")
    labels[6:20, 3:8] = NAMES.index("sleeve")  # beside the dress, touching it
    labels[6:20, 22:27] = NAMES.index("sleeve")
    labels[5:8, 12:18] = NAMES.index("neckline")  # inside it
    labels[36:40, 10:14] = NAMES.index("shoe")
    groups = to_groups(labels, NAMES)
    whole = groups == GROUP_NAMES.index("whole body")
    assert whole.sum() == ((labels != 0) & (labels != NAMES.index("shoe"))).sum()
    assert set(np.unique(groups)) == {
        0,
        GROUP_NAMES.index("whole body"),
        GROUP_NAMES.index("footwear"),
    }


def test_a_part_touching_no_garment_stays_a_part():
    labels = np.zeros((20, 20), np.uint8)
    labels[2:5, 2:5] = NAMES.index("pocket")
    assert (to_groups(labels, NAMES)[2:5, 2:5] == GROUP_NAMES.index("garment part")).all()


def test_cutout_alpha_is_the_mask_and_rgb_is_the_photo():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 255, (30, 40, 3), dtype=np.uint8)
    mask = np.zeros((30, 40), bool)
    mask[5:12, 10:25] = True
    mask[12:20, 14:18] = True
    image = np.asarray(cutout(rgb, mask))
    assert image.shape == (15, 15, 4)  # cropped to the bounding box
    box = mask[5:20, 10:25]
    assert ((image[..., 3] == 255) == box).all() and (image[..., 3][~box] == 0).all()
    assert (image[..., :3][box] == rgb[5:20, 10:25][box]).all()
    soft = np.asarray(cutout(rgb, mask, feather=2))
    assert soft.shape[0] > 15 and np.unique(soft[..., 3]).size > 2  # a soft edge


def test_only_keeps_the_named_garments_and_refuses_unknown_ones(capsys, tmp_path):
    wanted = parse_only("dress, bag, wallet,23", NAMES)
    assert wanted == {NAMES.index("dress"), NAMES.index("bag, wallet"), 24}
    labels = np.array([[NAMES.index("dress"), NAMES.index("coat"), 24, 255]], np.uint8)
    assert keep_only(labels, wanted).tolist() == [[NAMES.index("dress"), 0, 24, 255]]
    photo = SAMPLE / "ccp0003.jpg"
    assert main(["predict", str(photo), "--out", str(tmp_path / "o"), "--only", "dres"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown garment 'dres'" in err[0] and "'dress'" in err[0]


def test_groups_cutouts_and_skip_existing_on_real_photos(tmp_path):
    photos = sorted(SAMPLE.glob("*.jpg"))[:3]
    out = tmp_path / "o"
    result = predict(_bundled(), photos, out, device="cpu", groups=True, cutouts=True)
    assert result["written"] == 3
    for photo in photos:
        doc = json.loads((out / f"{photo.stem}.json").read_text())
        labels = np.asarray(Image.open(out / f"{photo.stem}.png"))
        assert {g["name"] for g in doc["garments"]} <= set(GROUP_NAMES[1:])
        total = sum(g["area_fraction"] for g in doc["garments"])
        assert total == pytest.approx((labels != 0).mean(), abs=1e-5)
        for g in doc["garments"]:
            cut = np.asarray(Image.open(out / g["cutout"]))
            x0, y0, x1, y1 = g["bbox"]
            assert ((cut[..., 3] > 0) == (labels[y0:y1, x0:x1] == g["class_id"] + 1)).all()
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    again = predict(
        _bundled(), photos, out, device="cpu", groups=True, cutouts=True, skip_existing=True
    )
    assert again["written"] == 0 and again["existing"] == 3
    assert all(p.stat().st_mtime_ns == t for p, t in stamps.items() if p.name != "errors.csv")


def test_threaded_pipeline_equals_the_plain_one(tmp_path):
    from fashionseg.inference.predictor import Predictor

    photos = sorted(SAMPLE.glob("*.jpg"))[:10]
    predict(_bundled(), photos, tmp_path / "o", device="cpu", batch_size=4, workers=3)
    plain = Predictor(_bundled(), "cpu")
    for photo in photos:
        im = Image.open(photo)
        logits = plain.logits(plain.canvas(photo)[None])[0]
        expected = plain.labels(logits, im.height, im.width)
        assert (np.asarray(Image.open(tmp_path / "o" / f"{photo.stem}.png")) == expected).all()


@pytest.mark.slow  # starts a pool of writer processes
def test_writer_processes_write_what_the_threads_write(tmp_path):
    """Writer processes write the same files as the threads, and a bad photo is reported the
    same way."""
    bad = tmp_path / "bad.jpg"
    bad.write_bytes((SAMPLE / sorted(p.name for p in SAMPLE.glob("*.jpg"))[0]).read_bytes()[:900])
    photos = sorted(SAMPLE.glob("*.jpg"))[:6] + [bad]
    kw = dict(device="cpu", batch_size=4, groups=True, cutouts=True)
    predict(_bundled(), photos, tmp_path / "threads", processes=0, **kw)
    done = predict(_bundled(), photos, tmp_path / "procs", processes=2, **kw)
    assert done["written"] == 6 and done["skipped"] == 1
    errors = [(tmp_path / d / "errors.csv").read_text() for d in ("threads", "procs")]
    assert errors[0] == errors[1] and "bad.jpg" in errors[0]
    threads = sorted(p.relative_to(tmp_path / "threads") for p in (tmp_path / "threads").rglob("*"))
    procs = sorted(p.relative_to(tmp_path / "procs") for p in (tmp_path / "procs").rglob("*"))
    assert threads == procs and len(threads) > 18  # label map, overlay, JSON, cut-outs
    for rel in threads:
        a, b = tmp_path / "threads" / rel, tmp_path / "procs" / rel
        if rel.suffix == ".png":
            assert (np.asarray(Image.open(a)) == np.asarray(Image.open(b))).all(), rel
        elif rel.suffix == ".json":
            assert json.loads(a.read_text()) == json.loads(b.read_text()), rel


def test_writer_processes_only_where_they_pay():
    from fashionseg.use.predict.pipeline import write_processes

    assert write_processes(2000, 2) == 0  # the model keeps both cores busy
    assert write_processes(10, 16) == 0  # a pool's start-up costs more than ten photos
    assert write_processes(2000, 16) == 14


def _bundled() -> Path:
    from fashionseg.bundled import bundled_model

    return bundled_model()


def test_analyze_by_groups(tmp_path):
    from fashionseg.use.analyze import regroup

    doc = {
        "garments": [
            {
                "class_id": 0,
                "name": "shirt, blouse",
                "area_fraction": 0.2,
                "color": {"name": "red"},
            },
            {"class_id": 4, "name": "jacket", "area_fraction": 0.3, "color": {"name": "navy"}},
            {"class_id": 23, "name": "shoe", "area_fraction": 0.05, "color": {"name": "black"}},
        ]
    }
    grouped = regroup(doc)["garments"]
    assert [(g["name"], g["area_fraction"], g["color"]["name"]) for g in grouped] == [
        ("upper body", 0.5, "navy"),
        ("footwear", 0.05, "black"),
    ]
    photos = sorted(SAMPLE.glob("*.jpg"))[:3]
    predict(_bundled(), photos, tmp_path / "p", device="cpu")
    assert main(["analyze", str(tmp_path / "p"), "--out", str(tmp_path / "a"), "--groups"]) == 0
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert set(summary["categories"]) <= set(GROUP_NAMES[1:])
