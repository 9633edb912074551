"""predict, the garment JSON contract, the Kaggle CSV, export to ONNX, analyze."""

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from conftest import CCP, need
from fashionseg.cli import main
from fashionseg.data.rle import rle_decode
from fashionseg.use.analyze import collection_stats
from fashionseg.use.colornames import PALETTE, dominant_color
from fashionseg.use.predict.garments import summarize


def _check_contract(doc: dict, labels: np.ndarray, photo: np.ndarray) -> None:
    """Every promise of predict's JSON, checked against the label map it came with."""
    h, w = labels.shape
    assert (doc["image"]["height"], doc["image"]["width"]) == (h, w) == photo.shape[:2]
    present = sorted(int(v) - 1 for v in np.unique(labels) if v)
    assert sorted(g["class_id"] for g in doc["garments"]) == present
    for g in doc["garments"]:
        mask = labels == g["class_id"] + 1
        assert np.array_equal(rle_decode(g["rle"], h, w), mask)
        assert g["area_fraction"] == pytest.approx(mask.mean(), abs=1e-6)
        ys, xs = np.nonzero(mask)
        assert g["bbox"] == [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
        assert g["color"]["name"] in PALETTE
        assert g["color"]["hex"].startswith("#") and len(g["color"]["hex"]) == 7
    fractions = [g["area_fraction"] for g in doc["garments"]]
    assert fractions == sorted(fractions, reverse=True)
    assert sum(fractions) == pytest.approx((labels > 0).mean(), abs=1e-4)


def test_dominant_color_names_palette_and_majority():
    for name, rgb in PALETTE.items():
        assert dominant_color(np.array([rgb] * 4, dtype=np.uint8))["name"] == name
    pixels = np.array([[200, 30, 40]] * 70 + [[245, 245, 245]] * 30, dtype=np.uint8)
    colour = dominant_color(pixels)
    assert colour["name"] == "red" and colour["share"] == pytest.approx(0.7)
    assert colour["hex"] == "#c81e28"


def test_compiled_colour_naming_and_overlay_equal_plain_numpy():
    """The compiled nearest-name search and overlay blend against their plain definitions."""
    from fashionseg.data.categories import IGNORE
    from fashionseg.use.colornames import PALETTE, name_pixels, rgb_to_lab
    from fashionseg.use.render.colors import colorize, overlay

    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (5000, 3)).astype(np.uint8)
    palette = rgb_to_lab(np.array(list(PALETTE.values())))
    distances = ((rgb_to_lab(pixels)[:, None] - palette[None]) ** 2).sum(-1)
    assert (name_pixels(pixels) == distances.argmin(1)).all()

    photo = rng.integers(0, 256, (41, 27, 3)).astype(np.uint8)
    labels = rng.integers(0, 47, (41, 27)).astype(np.uint8)
    labels[:3] = IGNORE
    for alpha in (0.55, 0.3):
        on = (labels > 0) & (labels != IGNORE)
        plain = photo.astype(np.float32)
        plain[on] = (1 - alpha) * plain[on] + alpha * colorize(labels, 47)[on].astype(np.float32)
        assert (overlay(photo, labels, 47, alpha) == plain.astype(np.uint8)).all()


def test_summary_of_real_ground_truth_keeps_the_contract(tmp_path):
    """Ground-truth label maps of real CCP photos stand in for predictions."""
    from itertools import islice

    from fashionseg.data.compose import compose
    from fashionseg.data.formats import open_dataset

    dataset = open_dataset(need(CCP))
    names = dataset.categories.names()
    for record in islice(iter(dataset), 3):
        labels = compose(record.instances, record.height, record.width)
        photo = np.asarray(Image.open(record.path).convert("RGB"))
        garments = summarize(photo, labels, names)
        assert garments, record.image_id
        doc = {"image": {"width": labels.shape[1], "height": labels.shape[0]}, "garments": garments}
        _check_contract(doc, labels, photo)


def _photos(synth_data, tmp_path, real: int = 0):
    """A folder of synthetic photos, some real ones if present, and one broken file."""
    folder = tmp_path / "photos"
    shutil.copytree(synth_data / "train", folder)
    if real and CCP.exists():
        for p in sorted((CCP / "train").glob("*.jpg"))[:real]:
            shutil.copy(p, folder)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    return folder


def test_predict_writes_the_contract_and_kaggle_csv(tiny_model, synth_data, tmp_path):
    folder = _photos(synth_data, tmp_path, real=3)
    out = tmp_path / "pred"
    rc = main(
        [
            "predict",
            str(tiny_model),
            str(folder),
            "--out",
            str(out),
            "--batch-size",
            "5",
            "--kaggle-csv",
            str(tmp_path / "sub.csv"),
        ]
    )
    assert rc == 0
    photos = sorted(p for p in folder.iterdir() if p.name != "broken.jpg")
    docs = sorted(out.glob("*.json"))
    assert [d.stem for d in docs] == [p.stem for p in photos]
    assert any(json.loads(d.read_text())["garments"] for d in docs)
    for p in photos:
        doc = json.loads((out / f"{p.stem}.json").read_text())
        labels = np.asarray(Image.open(out / f"{p.stem}.png"))
        photo = np.asarray(Image.open(p).convert("RGB"))
        _check_contract(doc, labels, photo)
        assert doc["image"]["path"] == str(p)
        overlay = Image.open(out / f"{p.stem}_overlay.jpg")
        assert overlay.height == photo.shape[0] and overlay.width > photo.shape[1]  # legend
    errors = list(csv.DictReader(open(out / "errors.csv")))
    assert len(errors) == 1 and "broken.jpg" in errors[0]["ImageId"]
    rows = list(csv.DictReader(open(tmp_path / "sub.csv")))
    assert list(rows[0]) == ["ImageId", "EncodedPixels", "ClassId", "AttributesIds"]
    assert {r["ImageId"] for r in rows} == {p.stem for p in photos}
    for r in rows:
        doc = json.loads((out / f"{r['ImageId']}.json").read_text())
        by_class = {str(g["class_id"]): g["rle"] for g in doc["garments"]}
        if r["ClassId"]:
            assert by_class[r["ClassId"]] == r["EncodedPixels"]
        else:
            assert not by_class


def test_predict_flip_tta_is_mirror_symmetric(tiny_model, synth_data, tmp_path):
    """With flip TTA, a mirrored photo gets the mirrored label map."""
    from fashionseg.inference.predictor import Predictor

    predictor = Predictor(tiny_model, "cpu")
    photo = np.asarray(Image.open(next((synth_data / "train").glob("*.jpg"))).convert("RGB"))
    canvas = predictor.canvas(Image.fromarray(photo))
    both = np.stack([canvas, canvas[:, ::-1]])
    plain = predictor.logits(both)
    tta = predictor.logits(both, tta="flip")
    assert torch.allclose(tta[0], tta[1].flip(2), atol=1e-5)
    assert not torch.allclose(plain[0], plain[1].flip(2), atol=1e-5)


def test_predict_refuses_bad_models(tiny_model, synth_data, tmp_path, capsys):
    photos = str(synth_data / "train")
    junk = tmp_path / "junk.pt"
    junk.write_text("not a checkpoint")
    assert main(["predict", str(junk), photos, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "junk.pt" in err and "not a PyTorch checkpoint" in err
    # The same weights relabelled with another category set cannot write Kaggle ClassIds.
    state = torch.load(tiny_model, weights_only=True)
    cats = state["categories"]["categories"]
    for c in cats:
        c["name"] = f"thing {c['id']}"
    other = tmp_path / "other.pt"
    torch.save(state, other)
    rc = main(
        ["predict", str(other), photos, "--out", str(tmp_path / "o2"), "--kaggle-csv", "x.csv"]
    )
    assert rc == 2
    assert "not Fashionpedia's" in capsys.readouterr().err
    assert main(["predict", str(tiny_model), str(tmp_path / "nothing"), "--out", "o3"]) == 2
    assert "no such file or folder" in capsys.readouterr().err


@pytest.mark.slow
def test_onnx_export_agrees_with_pytorch_on_real_photos(tiny_model, synth_data, tmp_path):
    pytest.importorskip("onnxruntime")
    from fashionseg.data.images import read_photo
    from fashionseg.inference.predictor import Predictor
    from fashionseg.use.predict.folder import segment

    onnx_file = tmp_path / "model.onnx"
    assert main(["export", str(tiny_model), "--out", str(onnx_file)]) == 0
    torch_model, onnx_model = Predictor(tiny_model, "cpu"), Predictor(onnx_file)
    assert onnx_model.backend == "onnxruntime"
    assert onnx_model.categories.names() == torch_model.categories.names()
    files = sorted((CCP / "train").glob("*.jpg"))[:6] if CCP.exists() else []
    files += sorted((synth_data / "train").glob("*.jpg"))[:4]
    photos = [read_photo(p) for p in files]
    same = total = 0
    # Dynamic batch: the exported graph runs batches of 1 and of 5.
    for batch in (photos[:1], photos[1:6], photos[6:]):
        for a, b in zip(segment(torch_model, batch), segment(onnx_model, batch)):
            same += int((a == b).sum())
            total += a.size
    assert same / total >= 0.999
    # Dynamic size: a canvas other than the training size.
    x = np.random.default_rng(0).integers(0, 255, (2, 96, 160, 3), dtype=np.uint8)
    assert torch.allclose(torch_model.logits(x), onnx_model.logits(x), atol=1e-3)
    # predict accepts the .onnx file and writes the same label map.
    out_pt, out_onnx = tmp_path / "a", tmp_path / "b"
    one = str(files[0])
    assert main(["predict", str(tiny_model), one, "--out", str(out_pt)]) == 0
    assert main(["predict", str(onnx_file), one, "--out", str(out_onnx)]) == 0
    a = np.asarray(Image.open(out_pt / f"{files[0].stem}.png"))
    b = np.asarray(Image.open(out_onnx / f"{files[0].stem}.png"))
    assert (a == b).mean() >= 0.999


def test_onnx_refuses_foreign_files(tmp_path, capsys):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x00\x01 junk")
    assert main(["predict", str(bad), str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert "bad.onnx" in capsys.readouterr().err


def _doc(names: list[str], colour: str = "black") -> dict:
    ids = {"shirt, blouse": 0, "pants": 6, "shoe": 23, "dress": 10, "sleeve": 31}
    return {
        "garments": [
            {"class_id": ids[n], "name": n, "area_fraction": 0.1, "color": {"name": colour}}
            for n in names
        ]
    }


def test_collection_stats_lift_outfits_colours():
    docs = (
        [_doc(["shirt, blouse", "pants", "shoe", "sleeve"])] * 6
        + [_doc(["dress", "shoe"], "red")] * 4
        + [_doc(["pants"])] * 2
    )
    s = collection_stats(docs, min_photos=3)
    assert s["photos"] == 12
    assert s["categories"]["shoe"]["photos"] == 10
    assert s["categories"]["dress"]["colors"] == {"red": 4}
    names, lift = s["lift"]["names"], np.array(s["lift"]["matrix"])
    i, j = names.index("shirt, blouse"), names.index("pants")
    # P(shirt)=6/12, P(pants)=8/12, P(both)=6/12 -> lift 1.5
    assert lift[i, j] == pytest.approx(1.5, abs=1e-3)
    d, p = names.index("dress"), names.index("pants")
    assert lift[d, p] == 0
    # Outfits count whole garments only: the sleeve (a part) is not part of the outfit.
    assert s["outfits"][0] == {"outfit": "pants + shirt, blouse + shoe", "photos": 6, "share": 0.5}


def test_analyze_writes_figures_and_page(tiny_model, synth_data, tmp_path, capsys):
    out = tmp_path / "pred"
    assert main(["predict", str(tiny_model), str(synth_data / "train"), "--out", str(out)]) == 0
    (out / "notes.json").write_text('{"hello": 1}')
    assert main(["analyze", str(out), "--out", str(tmp_path / "an")]) == 0
    for f in ("index.html", "frequency.png", "colors.png", "outfits.png", "summary.json"):
        assert (tmp_path / "an" / f).stat().st_size > 0
    page = (tmp_path / "an" / "index.html").read_text()
    assert page.count("data:image/png;base64,") >= 3
    summary = json.loads((tmp_path / "an" / "summary.json").read_text())
    assert summary["photos"] == len(list((synth_data / "train").glob("*.jpg")))
    assert "notes.json" in (tmp_path / "an" / "errors.csv").read_text()
    assert main(["analyze", str(tmp_path / "none"), "--out", str(tmp_path / "x")]) == 2
    assert "no such folder" in capsys.readouterr().err


@pytest.mark.slow
def test_int8_export_is_quantized_and_reports_held_out_agreement(
    tiny_model, synth_data, tmp_path, capsys
):
    pytest.importorskip("onnxruntime")
    import onnx

    from fashionseg.data.images import read_photo
    from fashionseg.inference.predictor import Predictor
    from fashionseg.use.predict.folder import segment

    out = tmp_path / "int8.onnx"
    photos = synth_data / "train"
    assert (
        main(["export", str(tiny_model), "--out", str(out), "--int8", "--calibration", str(photos)])
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["int8.onnx"]  # no temporary files
    n = len(list(photos.glob("*.jpg")))
    assert report["held_out_photos"] == n // 4 and report["calibration_photos"] == n - n // 4
    graph = onnx.load(str(out)).graph
    ops = {node.op_type for node in graph.node}
    assert "QuantizeLinear" in ops and "DequantizeLinear" in ops
    int8_weights = [t for t in graph.initializer if t.data_type == onnx.TensorProto.INT8]
    assert len(int8_weights) >= 5  # the convolutions' weights are stored as int8
    quantized, reference = Predictor(out), Predictor(tiny_model, "cpu")
    assert quantized.backend == "onnxruntime"
    assert quantized.categories.names() == reference.categories.names()
    # The reported agreement is real: recompute it on the held-out photos.
    held = [read_photo(p) for p in sorted(photos.glob("*.jpg"))[3::4]]
    same = sum(
        int((a == b).sum()) for a, b in zip(segment(quantized, held), segment(reference, held))
    )
    total = sum(p.width * p.height for p in held)
    assert same / total >= 0.9
    assert report["pixel_agreement"] >= 0.9
    # --int8 without photos: one line, exit 2, nothing written.
    assert main(["export", str(tiny_model), "--out", str(tmp_path / "x.onnx"), "--int8"]) == 2
    assert "calibration" in capsys.readouterr().err and not (tmp_path / "x.onnx").exists()


def test_evaluate_equals_predict_then_score_on_real_photos(tiny_model, tmp_path):
    """One canvas function: evaluate scores exactly the pixels predict delivers."""
    from importlib import resources

    from fashionseg.evaluate.evaluate import evaluate_checkpoint
    from fashionseg.evaluate.score import score_folder
    from fashionseg.use.predict.folder import predict

    sample = Path(str(resources.files("fashionseg") / "sample" / "ccp"))
    ids = tmp_path / "ids.txt"
    ids.write_text("\n".join(p.stem for p in sorted((sample / "train").glob("*.jpg"))[:6]))
    evaluated = evaluate_checkpoint(str(tiny_model), str(sample), ids_file=str(ids), device="cpu")
    photos = [sample / "train" / f"{i}.jpg" for i in ids.read_text().split()]
    predict(tiny_model, photos, tmp_path / "preds", device="cpu")
    scored = score_folder(str(tmp_path / "preds"), str(sample), ids_file=str(ids))
    for key in ("pixel_accuracy", "miou", "binary_iou", "fw_iou"):
        assert evaluated[key] == pytest.approx(scored[key], abs=1e-9), key


@pytest.mark.parametrize(
    "shape, region, out",
    [
        ((47, 384, 256), (0, 0, 384, 256), (413, 275)),  # the bundled canvas, a CCP photo
        ((5, 40, 64), (6, 0, 28, 64), (300, 700)),  # letterboxed, enlarged 10x
        ((3, 64, 64), (0, 10, 64, 44), (20, 14)),  # shrunk
        ((47, 8, 8), (0, 0, 8, 8), (8, 8)),  # same size
    ],
)
def test_fused_label_kernel_equals_interpolate_then_argmax(shape, region, out):
    from fashionseg.inference.label_kernel import bilinear_argmax
    from fashionseg.inference.labels import upsample_argmax

    logits = torch.randn(*shape, generator=torch.Generator().manual_seed(sum(shape))) * 4
    top, left, h, w = region
    fused = bilinear_argmax(logits.numpy(), top, left, h, w, *out)
    plain = upsample_argmax(logits[:, top : top + h, left : left + w], *out).numpy()
    assert fused.shape == out and fused.dtype == np.uint8
    # The same samples; only a tie to the last bit between two classes may go either way.
    assert (fused == plain).mean() >= 0.9999


def test_fused_label_kernel_on_garment_like_logits():
    """Logits with regions, as a model gives: most output pixels take the kernel's shortcut
    (four sources with one best class), the borders interpolate; both must equal the plain
    path."""
    from fashionseg.inference.label_kernel import bilinear_argmax
    from fashionseg.inference.labels import upsample_argmax

    g = torch.Generator().manual_seed(3)
    # Rings around a point: curved borders, so every way two classes meet in a 2x2 source
    # cell (one against three, two against two, diagonal) occurs many times.
    y, x = torch.meshgrid(torch.arange(96.0), torch.arange(64.0), indexing="ij")
    regions = ((y - 40).hypot(x - 30) / 5).long() * 7 % 47
    logits = F.one_hot(regions, 47).permute(2, 0, 1).float() * 6
    logits += torch.randn(logits.shape, generator=g)  # noisy, so borders wander
    fused = bilinear_argmax(logits.numpy(), 0, 0, 96, 64, 413, 275)
    plain = upsample_argmax(logits, 413, 275).numpy()
    assert len(np.unique(fused)) >= 10  # the rings survived
    assert (fused == plain).mean() >= 0.9999


@pytest.mark.parametrize("auto_orient", [False, True])
def test_one_decode_gives_the_photo_and_canvas_of_two(tiny_model, tmp_path, auto_orient):
    """predict decodes a photo once where it can; the canvas must be the one that evaluate
    decodes from the file (at reduced JPEG scale for large photos)."""
    from fashionseg.data.images import read_photo
    from fashionseg.inference.predictor import Predictor

    predictor = Predictor(tiny_model, "cpu")  # a 64x64 canvas
    rng = np.random.default_rng(1)
    for size in [(90, 70), (200, 150), (700, 500)]:  # 1x, 2x (Pillow decodes at 1/2), 8x
        path = tmp_path / f"{size[0]}.jpg"
        small = rng.integers(0, 256, (size[1] // 10, size[0] // 10, 3)).astype(np.uint8)
        Image.fromarray(small).resize(size, Image.BILINEAR).save(path, quality=90)
        photo, canvas = predictor.photo_and_canvas(path, auto_orient)
        assert np.array_equal(np.asarray(photo), np.asarray(read_photo(path, auto_orient)))
        assert np.array_equal(canvas, predictor.canvas(path, auto_orient)), size


def test_device_labels_of_a_batch_equal_each_photos_labels(tiny_model):
    """The GPU path labels a whole batch and copies it back once; on CPU tensors it must give
    each photo the label map of the per-photo path, at each photo's own size."""
    from fashionseg.inference.predictor import Predictor

    predictor = Predictor(tiny_model, "cpu")
    logits = torch.randn(3, predictor.categories.num_classes, 64, 64) * 3
    sizes = [(90, 70), (33, 120), (64, 64)]
    batch = predictor.device_labels(logits, sizes)
    for lg, size, labels in zip(logits, sizes, batch):
        assert labels.shape == size and labels.dtype == np.uint8
        assert (labels == predictor.labels(lg, *size)).mean() >= 0.9999


@pytest.mark.needs_cuda
def test_predict_on_a_gpu_writes_the_cpu_label_maps(tiny_model, synth_data, tmp_path):
    from fashionseg.use.predict.folder import predict

    photos = sorted(Path(synth_data).rglob("*.jpg"))[:10]
    for device in ("cpu", "cuda"):
        predict(tiny_model, photos, tmp_path / device, device=device, batch_size=4)
    for p in photos:
        cpu = np.asarray(Image.open(tmp_path / "cpu" / f"{p.stem}.png"))
        gpu = np.asarray(Image.open(tmp_path / "cuda" / f"{p.stem}.png"))
        assert (cpu == gpu).mean() >= 0.999, p.name
