import gzip
import shutil

import numpy as np
from PIL import Image

from conftest import CCP, FP_SAMPLE, need
from fashionseg.data.compose import compose
from fashionseg.data.formats import open_dataset
from fashionseg.data.rle import rle_decode, rle_encode

HEADER = "ImageId,EncodedPixels,Height,Width,ClassId,AttributesIds\n"


def test_digit_ids_keep_leading_zeros():
    ds = open_dataset(need(FP_SAMPLE))
    records = list(ds)
    assert [r.image_id for r in records] == ["000000009813", "000000010223"]
    assert records[0].path.name == "000000009813.jpg" and records[0].path.is_file()
    assert (records[0].height, records[0].width) == (1000, 618)
    assert len(ds.categories.categories) == 46


def test_coco_matches_kaggle_csv():
    kaggle = {r.image_id: r for r in open_dataset(need(FP_SAMPLE))}
    coco_ds = open_dataset(FP_SAMPLE / "coco" / "instances_sample.json")
    names = coco_ds.categories.names()
    kaggle_names = open_dataset(FP_SAMPLE).categories.names()
    for rec in coco_ds:
        assert rec.error is None and rec.path.is_file()
        ref = kaggle[rec.image_id]
        assert len(rec.instances) == len(ref.instances)
        for inst in rec.instances:
            mask = rle_decode(inst.rle, rec.height, rec.width)
            best = max(
                (
                    (mask & (m := rle_decode(r.rle, rec.height, rec.width))).sum()
                    / (mask | m).sum()
                    for r in ref.instances
                    if kaggle_names[r.class_id + 1] == names[inst.class_id + 1]
                ),
                default=0,
            )
            assert best > 0.8  # two rasterisers differ only on boundary pixels of small masks


def test_ccp_reads_all_rows():
    ds = open_dataset(need(CCP))
    records = list(ds)
    assert len(records) == len(ds) == 799
    assert sum(len(r.instances) for r in records) == 3878
    assert all(r.error is None for r in records)


def _kaggle(tmp_path, rows, size=(4, 3), gz=False):
    (tmp_path / "train").mkdir()
    Image.new("RGB", (size[1], size[0])).save(tmp_path / "train" / "a.jpg")
    text = HEADER + "".join(rows)
    if gz:
        with gzip.open(tmp_path / "train.csv.gz", "wt") as f:
            f.write(text)
    else:
        (tmp_path / "train.csv").write_text(text)
    return open_dataset(tmp_path)


def test_2019_fused_class_ids_and_gzip(tmp_path):
    ds = _kaggle(tmp_path, ["a,1 2,4,3,6_28_77\n", "a,5 1,4,3,3,\n"], gz=True)
    (rec,) = list(ds)
    assert [(i.class_id, i.attributes) for i in rec.instances] == [(6, (28, 77)), (3, ())]


def test_unsorted_csv_and_duplicates(tmp_path):
    rows = ["a,1 2,4,3,1,\n", "b,1 1,4,3,2,\n", "a,5 1,4,3,3,7\n", "a,1 2,4,3,1,\n"]
    ds = _kaggle(tmp_path, rows)
    recs = {r.image_id: r for r in ds}
    assert len(recs["a"].instances) == 2 and len(recs["b"].instances) == 1


def test_bad_rows_become_record_errors(tmp_path):
    rows = [
        "a,1 2,4,3,99,\n",
        "../x,1 1,4,3,1,\n",
        "c,1 1,4,3,1,x\n",
        "d,1 1,4,3,1,\n",
        "d,1 1,5,3,1,\n",
    ]
    recs = {r.image_id: r.error for r in _kaggle(tmp_path, rows)}
    assert "unknown ClassId 99" in recs["a"]
    assert "not a plain file name" in recs["../x"]
    assert "AttributesIds" in recs["c"]
    assert "disagree" in recs["d"]


def test_mask_folder(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    (tmp_path / "classes.txt").write_text("background\nhat\nshirt\n")
    labels = np.zeros((6, 5), np.uint8)
    labels[1:3, 1:4] = 2
    labels[4, :] = 1
    labels[5, 0] = 255
    Image.fromarray(labels).save(tmp_path / "masks" / "p1.png")
    Image.new("RGB", (5, 6)).save(tmp_path / "images" / "p1.jpg")
    ds = open_dataset(tmp_path)
    assert ds.categories.names() == ["background", "hat", "shirt"]
    (rec,) = list(ds)
    out = compose(rec.instances, rec.height, rec.width)
    expected = labels.copy()
    expected[5, 0] = 0
    assert (out == expected).all()


def test_copy_of_real_data_roundtrip(tmp_path):
    src = need(FP_SAMPLE)
    shutil.copytree(src, tmp_path / "d")
    (rec, _) = list(open_dataset(tmp_path / "d"))
    for inst in rec.instances:
        assert rle_encode(rle_decode(inst.rle, rec.height, rec.width)) == inst.rle
