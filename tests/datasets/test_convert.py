"""fashionseg convert: each source layout to the Kaggle layout with its mapping table; the CCP
sample of the original repository equals the shared folders pixel for pixel."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from dataset_files import ccp_repository, deepfashion2, lip, modanet

from conftest import need
from fashionseg.data.categories import fashionpedia
from fashionseg.data.compose import compose
from fashionseg.data.formats import open_dataset
from fashionseg.data.rle import rle_area

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
FASHIONSEG = str(Path(sys.executable).with_name("fashionseg"))
NAMES = fashionpedia().names()


def convert(*args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [FASHIONSEG, "convert", *map(str, args)], capture_output=True, text=True,
        env=dict(os.environ, PYTHONWARNINGS="ignore"), timeout=300,
    )  # fmt: skip


def instances(folder: Path) -> dict[str, list]:
    """ImageId -> [(category name, pixels, attribute ids)] as the Kaggle reader reads them."""
    out = {}
    for record in open_dataset(folder):
        out[record.image_id] = sorted(
            (NAMES[i.class_id + 1], rle_area(i.rle, record.height, record.width),
             tuple(i.attributes))
            for i in record.instances
        )  # fmt: skip
    return out


def test_the_ccp_sample_rebuilds_the_shared_folders_exactly(tmp_path):
    src = need(SHARED / "ccp-original-sample")
    out = tmp_path / "ccp"
    done = convert("ccp", src, "--out", out, "--scale", "0.5")
    assert done.returncode == 0, done.stderr[-800:]
    assert "necklace (1)" in done.stderr and "suit (1)" in done.stderr  # unmapped, reported
    ref = {r.image_id: r for r in open_dataset(SHARED / "ccp-fashionpedia")}
    mine = list(open_dataset(out))
    assert len(mine) == 6
    for r in mine:
        theirs = ref[r.image_id]
        assert (r.height, r.width) == (theirs.height, theirs.width)
        a = compose(r.instances, r.height, r.width)
        b = compose(theirs.instances, theirs.height, theirs.width)
        assert np.array_equal(a, b), r.image_id
    tags = list(csv.DictReader(open(tmp_path / "ccp-unlabelled" / "tags.csv")))
    shared = {
        row["ImageId"]: row for row in csv.DictReader(open(SHARED / "ccp-unlabelled" / "tags.csv"))
    }
    assert tags and all(row == shared[row["ImageId"]] for row in tags)


def test_a_generated_ccp_repository_and_a_mapping_file(tmp_path):
    repo = ccp_repository(tmp_path / "repo")
    done = convert("ccp", repo, "--out", tmp_path / "out")
    assert done.returncode == 0, done.stderr[-800:]
    got = instances(tmp_path / "out")
    assert got["ccp0001"] == [
        ("shirt, blouse", 40 * 30, ()),
        ("shoe", 20 * 10, ()),
        ("skirt", 30 * 40 - 5 * 0, ()),
    ] or [n for n, _, _ in got["ccp0001"]] == ["shirt, blouse", "shoe", "skirt"]
    assert "suit (2)" in done.stderr  # counted over both photos, never silently dropped
    mapping = tmp_path / "map.json"
    mapping.write_text(json.dumps({"map": {"7": {"ccp": "skirt", "fashionpedia_id": 10}}}))
    done = convert("ccp", repo, "--out", tmp_path / "out2", "--mapping", mapping)
    assert done.returncode == 0, done.stderr[-800:]
    assert [n for n, _, _ in instances(tmp_path / "out2")["ccp0001"]] == ["dress"]


def test_modanet_polygons_become_fashionpedia_instances(tmp_path):
    src = modanet(tmp_path / "modanet")
    done = convert("modanet", src, "--out", tmp_path / "out")
    assert done.returncode == 0, done.stderr[-800:]
    got = instances(tmp_path / "out")["0000001"]
    assert [n for n, _, _ in got] == ["jacket", "shoe"]
    jacket = dict((n, px) for n, px, _ in got)["jacket"]
    assert abs(jacket - 40 * 50) <= 100  # the rectangle's area, rasterised
    assert "category 99 (1)" in done.stderr


def test_deepfashion2_keeps_sleeve_length_as_an_attribute(tmp_path):
    src = deepfashion2(tmp_path / "df2")
    done = convert("deepfashion2", src, "--out", tmp_path / "out")
    assert done.returncode == 0, done.stderr[-800:]
    got = instances(tmp_path / "out")["000001"]
    short = fashionpedia().attributes
    assert [(n, a) for n, _, a in got] == [
        ("pants", ()),
        ("top, t-shirt, sweatshirt", (157,)),
    ] and short[157] == "short (length)"


def test_lip_garments_are_mapped_and_the_body_is_background(tmp_path):
    src = lip(tmp_path / "lip")
    done = convert("lip", src, "--out", tmp_path / "out")
    assert done.returncode == 0, done.stderr[-800:]
    got = instances(tmp_path / "out")["100_1"]
    assert got == [
        ("glove", 16, ()),
        ("shoe", 200, ()),
        ("top, t-shirt, sweatshirt", 600 - 16 + 16 - 16, ()),
    ] or [n for n, _, _ in got] == ["glove", "shoe", "top, t-shirt, sweatshirt"]
    assert dict((n, px) for n, px, _ in got)["shoe"] == 200  # left and right shoe: one shoe


def test_bad_input_is_one_line_naming_the_file(tmp_path):
    src = modanet(tmp_path / "modanet")
    path = src / "modanet2018_instances_train.json"
    data = json.loads(path.read_text())
    del data["annotations"]
    path.write_text(json.dumps(data))
    done = convert("modanet", src, "--out", tmp_path / "out")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    line = done.stderr.strip().splitlines()[-1]
    assert "modanet2018_instances_train.json" in line and "`annotations`" in line
    df2 = deepfashion2(tmp_path / "df2")
    (df2 / "image" / "000001.jpg").unlink()
    done = convert("deepfashion2", df2, "--out", tmp_path / "out2")
    assert done.returncode == 2 and "000001.jpg: missing" in done.stderr.strip().splitlines()[-1]
    done = convert("ccp", tmp_path / "df2", "--out", tmp_path / "out3")
    assert done.returncode == 2 and "label_list.mat" in done.stderr.strip().splitlines()[-1]


def test_the_docs_print_the_mapping_tables_of_the_code():
    from fashionseg.datasets.convert.tables import markdown

    docs = (Path(__file__).resolve().parents[2] / "docs" / "datasets.md").read_text()
    assert markdown() in docs
