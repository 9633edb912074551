"""Instances of a semantic model in every output: JSON, overlay, cut-outs, the Kaggle CSV (read
back by the project's reader) and COCO results (scored by ``fashionseg score``)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import fashionseg
from fashionseg.data.formats import open_dataset
from fashionseg.data.rle import rle_decode
from fashionseg.inference.instances import component_instances

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "src" / "fashionseg" / "sample" / "ccp"


def test_components_of_a_label_map_are_scored_by_mean_class_probability():
    labels = np.zeros((40, 60), dtype=np.uint8)
    labels[30:38, 5:15] = 24  # two shoes (ClassId 23)
    labels[30:38, 40:52] = 24
    labels[2:20, 10:50] = 1  # a shirt
    probs = torch.full((46, 20, 30), 0.01)
    probs[24, :, :20] = 0.9  # the left half of the canvas is sure of "shoe"
    probs[24, :, 20:] = 0.5
    probs[1] = 0.7
    found = component_instances(labels, probs, (0, 0, 20, 30), min_area=0.0005)
    shoes = sorted((d for d in found if d.class_id == 23), key=lambda d: d.bbox[0])
    assert len(shoes) == 2 and len(found) == 3
    assert shoes[0].score == pytest.approx(0.9) and shoes[1].score == pytest.approx(0.5)
    assert [d.score for d in found] == sorted((d.score for d in found), reverse=True)
    assert shoes[1].bbox == (40, 30, 52, 38)
    assert not found[0].attributes


@pytest.fixture(scope="module")
def predicted(tmp_path_factory):
    """predict --instances on four sample photos, as a user runs it (the console script)."""
    root = tmp_path_factory.mktemp("inst")
    photos = root / "test"
    photos.mkdir()
    for p in sorted((SAMPLE / "train").glob("*.jpg"))[:4]:
        shutil.copy(p, photos / p.name)
    out = root / "out"
    run = subprocess.run(
        [sys.executable, "-m", "fashionseg", "predict", str(photos), "--out", str(out),
         "--instances", "--cutouts", "--kaggle-csv", str(root / "test.csv"),
         "--coco-results", str(root / "results.json")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    return root


@pytest.mark.slow
def test_the_json_lists_instances_with_their_fields_and_cutouts(predicted):
    doc = json.loads((predicted / "out" / "ccp0001.json").read_text())
    instances = doc["instances"]
    assert instances and [i["score"] for i in instances] == sorted(
        (i["score"] for i in instances), reverse=True
    )
    keys = {"class_id", "name", "score", "bbox", "area_fraction", "color", "swatch", "rle"}
    assert keys | {"attributes", "cutout"} == set(instances[0])
    h, w = doc["image"]["height"], doc["image"]["width"]
    union = np.zeros((h, w), bool)
    for inst in instances:
        mask = rle_decode(inst["rle"], h, w)
        assert not (union & mask).any()  # instances of a label map do not overlap
        union |= mask
        assert (predicted / "out" / inst["cutout"]).is_file()
        assert inst["area_fraction"] >= 0.0005  # the components rule's floor
    # Together, the instances are exactly the garments' pixels.
    garments = np.zeros((h, w), bool)
    for g in doc["garments"]:
        garments |= rle_decode(g["rle"], h, w)
    assert np.array_equal(union, garments)


@pytest.mark.slow
def test_kaggle_csv_has_one_row_per_instance_and_reads_back_the_same(predicted):
    docs = {p.stem: json.loads(p.read_text()) for p in (predicted / "out").glob("*.json")}
    dataset = open_dataset(predicted)  # test.csv + test/: the reader takes sizes from photos
    read = {r.image_id: r for r in dataset}
    assert set(read) == set(docs)
    for stem, doc in docs.items():
        assert not read[stem].error
        assert sorted((i.class_id, i.rle) for i in read[stem].instances) == sorted(
            (i["class_id"], i["rle"]) for i in doc["instances"]
        )


@pytest.mark.slow
def test_coco_results_are_scored_by_the_score_command(predicted):
    out = predicted / "metrics.json"
    ids = predicted / "ids.txt"
    ids.write_text("\n".join(p.stem for p in (predicted / "test").glob("*.jpg")))
    run = subprocess.run(
        [sys.executable, "-m", "fashionseg", "score", str(predicted / "results.json"),
         "--data", str(SAMPLE), "--instances", "components", "--ids", str(ids),
         "--out", str(out)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    metrics = json.loads(out.read_text())
    assert metrics["images"] == 4
    assert 0 < metrics["mask_ap"] <= 1 and 0 < metrics["box_ap"] <= 1
    assert metrics["detections"] == len(json.loads((predicted / "results.json").read_text()))


def test_the_python_api_gives_instances_too():
    photo = sorted((SAMPLE / "train").glob("*.jpg"))[0]
    seg = fashionseg.Segmenter(instances=True)(photo)
    assert seg.instances and seg.to_json()["instances"] == seg.instances
    assert seg.overlay().size[0] > seg.photo.width  # outlines drawn, legend kept
    assert len(seg.cutouts()) == len(seg.instances)


@pytest.mark.slow
def test_analyze_counts_instances_per_category(predicted, tmp_path):
    from fashionseg.use.analyze import analyze

    analyze(predicted / "out", tmp_path / "a")
    categories = json.loads((tmp_path / "a" / "summary.json").read_text())["categories"]
    docs = [json.loads(p.read_text()) for p in (predicted / "out").glob("*.json")]
    shoes = sum(1 for d in docs for i in d["instances"] if i["name"] == "shoe")
    assert shoes and categories["shoe"]["instances"] == shoes
    assert "instances" in (tmp_path / "a" / "index.html").read_text()
