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
    "garbage": "not a photo",
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
    from fashionseg.prepare.cache import open_cache

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


def _coco(tmp_path, images, annotations):
    import json

    d = tmp_path / "coco"
    (d / "images").mkdir(parents=True)
    for img in images:
        if img.get("width", 0) > 0 and img.get("height", 0) > 0 and img["width"] < 100:
            Image.new("RGB", (img["width"], img["height"])).save(d / "images" / img["file_name"])
    (d / "instances.json").write_text(
        json.dumps(
            {
                "images": images,
                "annotations": annotations,
                "categories": [{"id": 1, "name": "shirt"}],
            }
        )
    )
    return d


def test_coco_reader_skips_bad_images_with_reasons(tmp_path):
    from fashionseg.data.formats import open_dataset

    square = [1, 1, 6, 1, 6, 6, 1, 6]
    images = [
        {"id": 1, "file_name": "ok.jpg", "height": 8, "width": 8},
        {"id": 2, "file_name": "giant.jpg", "height": 60000, "width": 60000},
        {"id": 3, "file_name": "point.jpg", "height": 8, "width": 8},
        {"id": 4, "file_name": "emptypoly.jpg", "height": 8, "width": 8},
        {"id": 5, "file_name": "emptyseg.jpg", "height": 8, "width": 8},
        {"id": 6, "file_name": "negative.jpg", "height": -8, "width": 8},
        {"id": 7, "file_name": "noheight.jpg", "width": 8},
        {"id": 8, "file_name": "rlesize.jpg", "height": 8, "width": 8},
    ]
    annotations = [
        {"image_id": 1, "category_id": 1, "segmentation": [square]},
        {"image_id": 2, "category_id": 1, "segmentation": [square]},
        {"image_id": 3, "category_id": 1, "segmentation": [[1, 1]]},
        {"image_id": 4, "category_id": 1, "segmentation": [[]]},
        {"image_id": 5, "category_id": 1, "segmentation": []},
        {"image_id": 6, "category_id": 1, "segmentation": [square]},
        {"image_id": 7, "category_id": 1, "segmentation": [square]},
        {"image_id": 8, "category_id": 1, "segmentation": {"size": [4, 4], "counts": [0, 16]}},
    ]
    records = {r.image_id: r for r in open_dataset(_coco(tmp_path, images, annotations))}
    assert records["ok"].error is None and len(records["ok"].instances) == 1
    reasons = {k: r.error for k, r in records.items() if k != "ok"}
    assert all(reasons.values()), reasons
    assert "too large" in reasons["giant"] and "length >= 6" in reasons["point"]
    assert "not the photo's" in reasons["rlesize"] and "height" in reasons["noheight"]
    # From the command line: the good image is written, the rest listed in errors.csv.
    out = tmp_path / "masks"
    assert main(["masks", str(tmp_path / "coco"), "--out", str(out)]) == 0
    assert [p.name for p in out.glob("*.png")] == ["ok.png"]
    assert len(list(csv.reader(open(out / "errors.csv")))) == 1 + 7


def test_untrusted_files_are_one_line_errors(tmp_path, capsys):
    import gzip
    import struct
    import zlib

    def one_line(argv):
        capsys.readouterr()
        assert main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "Traceback" not in err[0]
        return err[0]

    rgb = np.zeros((H, W, 3), np.uint8)
    good = rle_encode(_mask())
    # A 300-character ImageId: skipped with a reason (no ENAMETOOLONG).
    d = tmp_path / "longid"
    (d / "train").mkdir(parents=True)
    Image.fromarray(rgb).save(d / "train" / "ok.jpg")
    rows = [("x" * 300, good, H, W, 1, ""), ("ok", good, H, W, 1, "")]
    with open(d / "train.csv", "w", newline="") as f:
        csv.writer(f).writerows(
            [("ImageId", "EncodedPixels", "Height", "Width", "ClassId", "AttributesIds"), *rows]
        )
    assert main(["masks", str(d), "--out", str(tmp_path / "m1")]) == 0
    assert "plain file name" in (tmp_path / "m1" / "errors.csv").read_text()
    # A truncated train.csv.gz and a CSV that is not UTF-8: the file is named.
    text = (d / "train.csv").read_bytes()
    (d / "train.csv").unlink()
    (d / "train.csv.gz").write_bytes(gzip.compress(text * 50)[:200])
    assert "train.csv.gz: truncated" in one_line(["masks", str(d), "--out", str(tmp_path / "m2")])
    (d / "train.csv.gz").unlink()
    (d / "train.csv").write_bytes(text.replace(b"ok,", b"\xff\xfeok,"))
    assert "train.csv: not UTF-8" in one_line(["masks", str(d), "--out", str(tmp_path / "m3")])
    # A mask folder: a PNG claiming 50000x50000, and a classes.txt of 300 names.
    m = tmp_path / "maskfolder"
    (m / "images").mkdir(parents=True)
    (m / "masks").mkdir()
    Image.fromarray(rgb).save(m / "images" / "bomb.jpg")
    buf = bytearray()
    import io

    out = io.BytesIO()
    Image.new("L", (1, 1)).save(out, format="PNG")
    buf = bytearray(out.getvalue())
    buf[16:24] = struct.pack(">II", 50000, 50000)
    buf[29:33] = struct.pack(">I", zlib.crc32(bytes(buf[12:29])))
    (m / "masks" / "bomb.png").write_bytes(bytes(buf))
    (m / "classes.txt").write_text("background\nshirt\n")
    # Its only image is bad: the command says so (nothing was made) and lists why.
    capsys.readouterr()
    assert main(["masks", str(m), "--out", str(tmp_path / "m4")]) == 2
    assert "no usable images" in capsys.readouterr().err.strip().splitlines()[-1]
    assert "bomb.png" in (tmp_path / "m4" / "errors.csv").read_text()
    (m / "classes.txt").write_text("\n".join(f"c{i}" for i in range(300)))
    assert "at most 254" in one_line(["masks", str(m), "--out", str(tmp_path / "m5")])


def test_models_without_size_or_that_onnxruntime_refuses(tiny_model, tmp_path, capsys):
    from fashionseg.checkpoint import load_checkpoint, save_checkpoint

    state = load_checkpoint(tiny_model)
    del state["config"]["size"]
    save_checkpoint(state, tmp_path / "nosize.pt")
    photo = tmp_path / "p.jpg"
    Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(photo)
    assert (
        main(["predict", str(tmp_path / "nosize.pt"), str(photo), "--out", str(tmp_path / "o")])
        == 2
    )
    assert "incomplete (no 'size')" in capsys.readouterr().err
    onnx = pytest.importorskip("onnx")
    from fashionseg.inference.predictor import Predictor
    from fashionseg.use.export import stamp

    # A well-formed ONNX file with fashionseg metadata whose graph ONNX Runtime cannot run.
    graph = onnx.helper.make_graph(
        [onnx.helper.make_node("NoSuchOp", ["images"], ["logits"], domain="nowhere")],
        "broken",
        [onnx.helper.make_tensor_value_info("images", onnx.TensorProto.UINT8, None)],
        [onnx.helper.make_tensor_value_info("logits", onnx.TensorProto.FLOAT, None)],
    )
    proto = onnx.helper.make_model(graph)
    stamp(proto, Predictor(tiny_model, device="cpu"))
    onnx.save(proto, str(tmp_path / "broken.onnx"))
    assert (
        main(["predict", str(tmp_path / "broken.onnx"), str(photo), "--out", str(tmp_path / "o2")])
        == 2
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "ONNX Runtime cannot run this model" in err[0]
