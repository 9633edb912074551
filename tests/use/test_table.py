"""predict --table: one Parquet row per garment, exactly the garments of the JSON files, read
without fashionseg and by analyze."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from fashionseg.cli import main
from fashionseg.use.table import GarmentTable, read_docs

SAMPLE = Path(__file__).resolve().parents[2] / "src" / "fashionseg" / "sample" / "ccp" / "train"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """predict on 12 sample photos, with --table."""
    tmp = tmp_path_factory.mktemp("table")
    folder = tmp / "photos"
    folder.mkdir()
    for p in sorted(SAMPLE.glob("*.jpg"))[:12]:
        shutil.copy(p, folder / p.name)
    out, table = tmp / "out", tmp / "garments.parquet"
    assert main(["predict", str(folder), "--out", str(out), "--table", str(table)]) == 0
    return out, table


def test_the_table_holds_exactly_the_garments_of_the_json_files(run):
    out, table = run
    rows = pq.read_table(table).to_pylist()
    from_json = []
    for doc in (json.loads(f.read_text()) for f in sorted(out.glob("*.json"))):
        for g in doc["garments"]:
            from_json.append(
                (doc["image"]["path"], doc["image"]["width"], doc["image"]["height"],
                 g["class_id"], g["name"], g["area_fraction"], *g["bbox"], g["color"]["name"],
                 g["color"]["hex"], g["rle"], doc["model"])
            )  # fmt: skip
    garments = [tuple(r.values()) for r in rows if r["class_id"] is not None]
    assert sorted(garments) == sorted(from_json) and len(garments) > 12
    assert len({r["path"] for r in rows}) == 12


def test_pandas_reads_it_without_fashionseg(run):
    import pandas as pd

    frame = pd.read_parquet(run[1])
    assert list(frame.columns)[:5] == ["path", "width", "height", "class_id", "name"]
    assert frame["area_fraction"].dropna().between(0, 1).all()


def test_row_groups_are_written_as_photos_finish(tmp_path):
    doc = {
        "image": {"path": "a.jpg", "width": 4, "height": 2},
        "model": "m",
        "garments": [
            {"class_id": 1, "name": "top", "area_fraction": 0.5, "bbox": [0, 0, 2, 2],
             "color": {"name": "red", "hex": "#ff0000"}, "rle": "1 4"}
        ],
    }  # fmt: skip
    path = tmp_path / "t.parquet"
    table = GarmentTable(path, rows_per_group=10)
    for _ in range(35):
        table.add(doc)
    table.add(dict(doc, image=dict(doc["image"], path="empty.jpg"), garments=[]))
    assert not path.exists()  # under a temporary name until closed
    table.close()
    assert pq.ParquetFile(path).num_row_groups == 4
    docs = read_docs(path)  # one document per photo; the photo without garments kept
    assert [(d["image"]["path"], len(d["garments"])) for d in docs] == [
        ("a.jpg", 35),
        ("empty.jpg", 0),
    ]


def test_analyze_reads_the_table_as_it_reads_the_folder(run, tmp_path):
    out, table = run
    assert main(["analyze", str(out), "--out", str(tmp_path / "a")]) == 0
    assert main(["analyze", str(table), "--out", str(tmp_path / "b")]) == 0
    a = json.loads((tmp_path / "a" / "summary.json").read_text())
    b = json.loads((tmp_path / "b" / "summary.json").read_text())
    assert a == b and a["photos"] == 12


def test_a_file_that_is_not_a_table_is_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.parquet"
    bad.write_text("no")
    assert main(["analyze", str(bad), "--out", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bad.parquet" in err[0] and "catalogue table" in err[0]
