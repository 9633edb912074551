"""The labelling loop with fashionseg's own code, as a user runs it (the console script):
predict -> Label Studio tasks / CVAT file -> convert -> the Kaggle layout -> train; label-config;
select. The labelling tools' own code reads the same files in tests/e2e/test_labelling_tools.py.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree as ET

import numpy as np
import pytest
from PIL import Image

from fashionseg.data.brush_rle import brush_decode
from fashionseg.data.formats import open_dataset
from fashionseg.data.rle import rle_decode
from fashionseg.use.labelling import labelstudio
from fashionseg.use.labelling.select import Scored, choose

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "src" / "fashionseg" / "sample" / "ccp" / "train"


def fashionseg(*args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "fashionseg", *map(str, args)],
        capture_output=True, text=True, cwd=cwd,
    )  # fmt: skip


@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    """predict --labelstudio --cvat on three sample photos, photos named under their folder."""
    root = tmp_path_factory.mktemp("labelling")
    photos = root / "photos"
    photos.mkdir()
    for p in sorted(SAMPLE.glob("*.jpg"))[:3]:
        shutil.copy(p, photos / p.name)
    run = fashionseg(
        "predict", photos, "--out", root / "out", "--labelstudio", root / "tasks.json",
        "--cvat", root / "cvat.xml", "--photo-root", root,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    return root


def test_every_brush_region_is_a_garment_of_the_label_map(labelled):
    tasks = json.loads((labelled / "tasks.json").read_text())
    assert len(tasks) == 3
    for task in tasks:
        stem = task["data"]["fashionseg_stem"]
        assert task["data"]["image"] == f"/data/local-files/?d=photos/{stem}.jpg"
        labels = np.asarray(Image.open(labelled / "out" / f"{stem}.png"))
        doc = json.loads((labelled / "out" / f"{stem}.json").read_text())
        names = {g["name"]: g["class_id"] + 1 for g in doc["garments"]}
        results = task["predictions"][0]["result"]
        assert sorted(r["value"]["brushlabels"][0] for r in results) == sorted(names)
        for r in results:
            assert (r["original_height"], r["original_width"]) == labels.shape
            mask = brush_decode(r["value"]["rle"], *labels.shape)
            assert np.array_equal(mask, labels == names[r["value"]["brushlabels"][0]])


def test_label_config_names_every_category_in_its_overlay_colour():
    run = fashionseg("label-config")
    assert run.returncode == 0, run.stderr
    root = ET.fromstring(run.stdout)
    brush = root.find("BrushLabels")
    labels = {el.get("value"): el.get("background") for el in brush.findall("Label")}
    assert len(labels) == 46 and labels["shirt, blouse"] == "#114ad4"
    assert root.find("PolygonLabels") is not None and root.find("Choices") is None
    cvat = json.loads(fashionseg("label-config", "--tool", "cvat").stdout)
    assert {c["name"]: c["color"] for c in cvat} == labels


def test_an_instance_models_attributes_are_per_region_choices():
    mask = np.zeros((4, 6), bool)
    mask[1:3, 2:5] = True
    from fashionseg.data.rle import rle_encode

    doc = {
        "image": {"path": "a.jpg", "width": 6, "height": 4},
        "model": "m",
        "garments": [],
        "instances": [
            {"class_id": 6, "name": "pants", "score": 0.8, "rle": rle_encode(mask),
             "attributes": [{"id": 115, "name": "symmetrical", "score": 0.9}]},
        ],
    }  # fmt: skip
    task = labelstudio.task(doc, "a", "/data/local-files/?d=a.jpg", "fashionseg m")
    brush, choices = task["predictions"][0]["result"]
    assert brush["score"] == 0.8 and task["predictions"][0]["score"] == 0.8
    assert choices["id"] == brush["id"] and choices["value"]["choices"] == ["symmetrical"]
    assert choices["from_name"] == labelstudio.ATTRIBUTES
    config = ET.fromstring(
        labelstudio.labelling_config(["background", "pants"], {115: "symmetrical"})
    )
    assert [c.get("value") for c in config.find("Choices")] == ["symmetrical"]
    assert config.find("Choices").get("perRegion") == "true"


def test_url_prefix_and_photos_outside_the_root(tmp_path):
    photo = tmp_path / "shop" / "a b.jpg"
    ref = labelstudio.photo_reference(photo, "https://bucket.example/x/", tmp_path)
    assert ref == "https://bucket.example/x/shop/a%20b.jpg"
    outside = labelstudio.photo_reference(photo, None, tmp_path / "elsewhere")
    assert outside == labelstudio.LOCAL_FILES + str(photo.resolve()).lstrip("/").replace(" ", "%20")


def exported(labelled: Path) -> Path:
    """The tasks as Label Studio exports them once a person accepted the predictions."""
    tasks = json.loads((labelled / "tasks.json").read_text())
    for k, task in enumerate(tasks):
        task["id"] = k + 1
        task["annotations"] = [{"id": k + 1, "result": task["predictions"][0]["result"]}]
    path = labelled / "export.json"
    path.write_text(json.dumps(tasks))
    return path


def read_back(data: Path) -> dict[str, dict[int, np.ndarray]]:
    """ImageId -> ClassId -> mask, through the project's reader of the Kaggle layout."""
    out = {}
    for record in open_dataset(data):
        masks = {}
        for inst in record.instances:
            masks[inst.class_id] = masks.get(inst.class_id, False) | rle_decode(
                inst.rle, record.height, record.width
            )
        out[record.image_id] = masks
    return out


def predicted(labelled: Path) -> dict[str, dict[int, np.ndarray]]:
    out = {}
    for png in (labelled / "out").glob("*.png"):
        labels = np.asarray(Image.open(png))
        out[png.stem] = {int(v) - 1: labels == v for v in np.unique(labels) if v}
    return out


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(
        a[k].keys() == b[k].keys() and all(np.array_equal(a[k][c], b[k][c]) for c in a[k])
        for k in a
    )


def test_labelstudio_export_converts_to_the_predictions_and_trains(labelled, tmp_path):
    data = tmp_path / "data"
    run = fashionseg("convert", "labelstudio", exported(labelled), "--out", data,
                     "--photo-root", labelled)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert same(read_back(data), predicted(labelled))
    run = fashionseg("train", "--data", data, "--out", tmp_path / "run", "--model", "unet",
                     "--width", "4", "--size", "32", "--epochs", "1", "--batch-size", "2",
                     "--workers", "0", "--val-fraction", "0.34", "--no-tensorboard")  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "run" / "last.pt").is_file()


def test_cvat_file_converts_to_the_predictions(labelled, tmp_path):
    data = tmp_path / "data"
    run = fashionseg("convert", "cvat", labelled / "cvat.xml", "--out", data,
                     "--photos", labelled)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert same(read_back(data), predicted(labelled))


def test_polygons_and_hostile_regions_are_named_and_skipped(labelled, tmp_path):
    tasks = json.loads(exported(labelled).read_text())
    first = tasks[0]["annotations"][0]["result"]
    h, w = first[0]["original_height"], first[0]["original_width"]
    square = {"type": "polygonlabels", "from_name": "garment_polygon", "to_name": "image",
              "original_width": w, "original_height": h, "id": "poly",
              "value": {"points": [[10, 10], [50, 10], [50, 50], [10, 50]],
                        "polygonlabels": ["hat"]}}  # fmt: skip
    bad = [
        dict(first[0], id="u", value=dict(first[0]["value"], brushlabels=["cape, long"])),
        dict(first[0], id="t", value=dict(first[0]["value"], rle=first[0]["value"]["rle"][:20])),
        dict(first[0], id="s", original_width=w + 1),
        dict(square, id="nan", value={"points": [[1e300, 1]], "polygonlabels": ["hat"]}),
        {"type": "rectanglelabels", "id": "r", "value": {}},
    ]
    tasks[0]["annotations"][0]["result"] = [square, *bad]
    tasks[1]["annotations"] = [dict(tasks[1]["annotations"][0], was_cancelled=True)]
    tasks.append({"data": {"image": "/data/local-files/?d=../../etc/passwd"},
                  "annotations": [{"result": []}]})  # fmt: skip
    tasks.append({"data": {"image": 5}})
    (tmp_path / "export.json").write_text(json.dumps(tasks))
    data = tmp_path / "data"
    run = fashionseg("convert", "labelstudio", tmp_path / "export.json", "--out", data,
                     "--photo-root", labelled)  # fmt: skip
    assert run.returncode == 0, run.stderr
    for why in ("unknown label 'cape, long'", "region t: brush RLE", f"drawn on {w + 1}x{h}",
                "result 4: value.points[0][0]", "a rectanglelabels region is not a mask", "task 2: no annotation",
                "[4]: data.image: expected `str`", "photo '/data/local-files/?d=../../etc/passwd' not found"):  # fmt: skip
        assert why in run.stderr, (why, run.stderr)
    assert "Traceback" not in run.stderr
    back = read_back(data)
    stem = tasks[0]["data"]["fashionseg_stem"]
    hat = np.zeros((h, w), bool)
    assert set(back) == {stem, tasks[2]["data"]["fashionseg_stem"]}
    assert set(back[stem]) == {14}  # only the polygon: a hat (ClassId 14)
    hat = back[stem][14]
    ys, xs = np.nonzero(hat)
    assert abs(xs.min() - 0.1 * w) <= 1 and abs(ys.max() - 0.5 * h) <= 1
    strict = fashionseg("convert", "labelstudio", tmp_path / "export.json", "--out",
                        tmp_path / "strict", "--photo-root", labelled, "--strict")  # fmt: skip
    assert strict.returncode == 2 and len(strict.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "text, why",
    [
        ("<annotations><image", "not valid XML"),
        ("<html/>", "not CVAT's <annotations>"),
        ('<annotations><image id="0" name="ccp0001.jpg" width="x" height="2"/></annotations>',
         "width='x' is not a size"),
        ('<annotations><image id="0" name="ccp0001.jpg" width="275" height="416">'
         '<box label="hat" xtl="1" ytl="1" xbr="3" ybr="3"/>'
         '<mask label="hat" rle="1, 2" left="0" top="0" width="2" height="2"/>'
         '<polygon label="hat" points="1,1;5,1"/></image></annotations>',
         "a box is not a mask"),
    ],
)  # fmt: skip
def test_a_bad_cvat_file_is_named(text, why, tmp_path):
    src = tmp_path / "export"
    src.mkdir()
    (src / "a.xml").write_text(text)
    shutil.copy(SAMPLE / "ccp0001.jpg", src / "ccp0001.jpg")
    run = fashionseg("convert", "cvat", src / "a.xml", "--out", tmp_path / "d")
    assert why in run.stderr and "Traceback" not in run.stderr, run.stderr
    if "box" in why:  # every bad shape of the image is named, the rest of the file is read
        assert "mask runs cover 3 pixels" in run.stderr
        assert "not three or more x,y pairs" in run.stderr
        assert run.returncode == 0


def test_select_prefers_the_unsure_and_gives_rare_garments_picks():
    common = [Scored(Path(f"c{k}.jpg"), 0.50 - k / 1000, frozenset({1})) for k in range(8)]
    rare = Scored(Path("rare.jpg"), 0.40, frozenset({1, 30}))
    sure = Scored(Path("sure.jpg"), 0.05, frozenset({30}))
    picks = choose([*common, rare, sure], 3)
    assert [p.photo.path.name for p in picks][:2] == ["rare.jpg", "c0.jpg"]
    assert [p.rank for p in picks] == [1, 2, 3]
    assert "sure.jpg" not in {p.photo.path.name for p in picks}
    assert len(choose(common, 20)) == 8


def test_select_writes_the_picks_and_a_contact_sheet(tmp_path):
    out = tmp_path / "picks.txt"
    run = fashionseg("select", SAMPLE, "--budget", "4", "--out", out)
    assert run.returncode == 0, run.stderr
    picks = out.read_text().split("\n")[:-1]
    assert len(picks) == 4 and all(Path(p).is_file() for p in picks)
    page = (tmp_path / "picks.html").read_text()
    assert page.count("<figure>") == 4 and Path(picks[0]).name in page
    again = fashionseg("select", SAMPLE, "--budget", "4", "--out", out)
    assert again.returncode == 0 and out.read_text().split("\n")[:-1] == picks
    user = tmp_path / "mine.txt"
    user.write_text("keep me")
    refused = fashionseg("select", SAMPLE, "--budget", "4", "--out", user)
    assert refused.returncode == 2 and user.read_text() == "keep me"
    assert "--overwrite" in refused.stderr
