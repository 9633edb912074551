"""The fourth hardening round: outside data through the schema door and every command's outputs
through one plan, each finding reproduced the way a user (or a hostile one) meets it, in the
console script (or the API) in a fresh process. Every test here failed on the code before.

The data-set findings (converters, manifest, downloads) are in
``tests/datasets/test_hostile_sources.py``.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytestmark = pytest.mark.slow  # fresh processes

FASHIONSEG = str(Path(sys.executable).with_name("fashionseg"))
SAMPLE = Path(__file__).resolve().parents[2] / "src" / "fashionseg" / "sample" / "ccp" / "train"
SQUARE = [[4, 4, 40, 4, 40, 40, 4, 40]]


def run(*args, cwd: Path, timeout: float = 300, env: dict | None = None):
    return subprocess.run(
        [FASHIONSEG, *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=timeout,
        env=dict(os.environ, PYTHONWARNINGS="ignore", **(env or {})),
    )  # fmt: skip


def one_line_error(done: subprocess.CompletedProcess, *words: str) -> str:
    """Exit 2 (not a signal, not a traceback) and one line naming ``words``."""
    assert done.returncode == 2, (done.returncode, done.stderr[-800:])
    assert "Traceback" not in done.stderr
    line = done.stderr.strip().splitlines()[-1]
    assert line.startswith("fashionseg ") and ": error: " in line, line
    for word in words:
        assert word in line, line
    return line


# -- score: results and ground truth ----------------------------------------------------------


def ground_truth(path: Path, attribute_ids=(115,)) -> Path:
    from fashionseg.data.categories import fashionpedia

    table = fashionpedia()
    data = {
        "images": [{"id": 1, "file_name": "0001.jpg", "height": 64, "width": 48}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 0, "segmentation": SQUARE,
                         "area": 1296.0, "bbox": [4, 4, 36, 36], "iscrowd": 0,
                         "attribute_ids": list(attribute_ids)}],
        "categories": [{"id": c.id, "name": c.name, "supercategory": c.supercategory}
                       for c in table.categories],
        "attributes": [{"id": k, "name": n} for k, n in sorted(table.attributes.items())],
    }  # fmt: skip
    path.write_text(json.dumps(data))
    return path


def entry(**change) -> dict:
    return {"image_id": 1, "category_id": 0, "segmentation": SQUARE, "score": 0.9, **change}


HOSTILE_RESULTS = {
    # Python's json writes NaN; pycocotools rasterised it until the kernel killed the process.
    "a NaN polygon": ([entry(segmentation=[[float("nan")] * 8])], "not valid JSON"),
    "a 1e30 polygon": ([entry(segmentation=[[4, 4, 1e30, 4, 40, 40, 4, 40]])], "segmentation"),
    # Counts claiming more pixels than the 48x64 photo has: pycocotools' decoder looped.
    "counts past the photo": (
        # pycocotools' string of the runs [100, 5000] (coco_rle.encode_counts).
        [entry(segmentation={"size": [64, 48], "counts": "T3Xl4"})],
        "cover 5100 pixels",
    ),
    "counts covering part of it": (
        [entry(segmentation={"size": [64, 48], "counts": "05k0"})],
        "cover",
    ),
    "an image_id that is a list": ([entry(image_id=[1])], "image_id"),
    "a category_id that is an object": ([entry(category_id={"id": 0})], "category_id"),
    "a score of 10^400": ([entry(score=10**400)], "score"),
}


@pytest.mark.parametrize("finding", HOSTILE_RESULTS)
def test_score_refuses_hostile_results_in_one_line(tmp_path, finding):
    entries, word = HOSTILE_RESULTS[finding]
    gt = ground_truth(tmp_path / "gt.json")
    (tmp_path / "res.json").write_text(json.dumps(entries))
    start = time.monotonic()
    done = run("score", tmp_path / "res.json", "--data", gt, cwd=tmp_path, timeout=120)
    one_line_error(done, "res.json", word)
    assert time.monotonic() - start < 60


def test_score_names_an_attribute_missing_from_the_ground_truths_list(tmp_path):
    gt = ground_truth(tmp_path / "gt.json", attribute_ids=(9999,))
    (tmp_path / "res.json").write_text(json.dumps([entry()]))
    done = run("score", tmp_path / "res.json", "--data", gt, cwd=tmp_path)
    one_line_error(done, "gt.json", "attribute id 9999")


# -- predict: one plan for every output ------------------------------------------------------


@pytest.fixture(scope="module")
def two_folders(tmp_path_factory) -> Path:
    """Two photos named ``a.jpg`` in two folders, and one named ``...jpg``."""
    root = tmp_path_factory.mktemp("photos")
    photos = sorted(SAMPLE.glob("*.jpg"))
    for folder, source in (("x", photos[0]), ("y", photos[1])):
        (root / folder).mkdir()
        shutil.copy(source, root / folder / "a.jpg")
    shutil.copy(photos[2], root / "x" / "...jpg")
    return root


def test_predict_never_replaces_a_users_file(two_folders, tmp_path):
    sales = tmp_path / "sales.parquet"
    sales.write_bytes(b"the user's own table")
    done = run(
        "predict", two_folders / "x", "--out", tmp_path / "p", "--table", sales, cwd=tmp_path
    )
    one_line_error(done, "sales.parquet", "exists", "--overwrite")
    assert sales.read_bytes() == b"the user's own table"
    assert not (tmp_path / "p").exists() or not list((tmp_path / "p").glob("*.png"))


def test_predict_refuses_two_outputs_on_one_path(two_folders, tmp_path):
    both = tmp_path / "rows.out"
    done = run(
        "predict", two_folders / "x", "--out", tmp_path / "p", "--table", both,
        "--kaggle-csv", both, cwd=tmp_path,
    )  # fmt: skip
    one_line_error(done, "rows.out", "both")
    done = run(
        "predict", two_folders / "x", "--out", tmp_path / "q", "--table", tmp_path / "q" / "a.json",
        cwd=tmp_path,
    )  # fmt: skip
    one_line_error(done, "a.json", "both")


def test_every_sink_keys_rows_by_the_output_stem(two_folders, tmp_path):
    out = tmp_path / "p"
    done = run(
        "predict", two_folders, "--out", out, "--kaggle-csv", tmp_path / "sub.csv",
        "--coco-results", tmp_path / "res.json", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-800:]
    stems = sorted(p.stem for p in out.glob("*.json"))
    assert stems == ["__", "a", "a-2"], stems
    with open(tmp_path / "sub.csv") as f:
        ids = {row["ImageId"] for row in csv.DictReader(f)}
    assert ids == set(stems)  # two photos' rows are no longer lost, and no ImageId ".."
    results = json.loads((tmp_path / "res.json").read_text())
    assert {r["image_id"] for r in results} == set(stems)
    # A rerun replaces its own files without a word.
    again = run("predict", two_folders, "--out", out, cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-800:]


# -- analyze: prediction JSON and the catalogue table ---------------------------------------


@pytest.fixture(scope="module")
def predictions(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("pred")
    photos = root / "photos"
    photos.mkdir()
    for p in sorted(SAMPLE.glob("*.jpg"))[:3]:
        shutil.copy(p, photos / p.name)
    done = run("predict", photos, "--out", root / "p", "--table", root / "t.parquet", cwd=root)
    assert done.returncode == 0, done.stderr[-800:]
    return root


def test_analyze_skips_and_names_a_wrong_typed_prediction(predictions, tmp_path):
    folder = tmp_path / "p"
    shutil.copytree(predictions / "p", folder)
    doc = json.loads(next(folder.glob("*.json")).read_text())
    doc["garments"][0]["area_fraction"] = "most of it"
    (folder / "edited.json").write_text(json.dumps(doc))
    done = run("analyze", folder, "--out", tmp_path / "a", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-800:]
    errors = (tmp_path / "a" / "errors.csv").read_text()
    assert "edited.json" in errors and "area_fraction" in errors


def test_reports_and_masks_never_replace_a_users_files(predictions, tmp_path):
    # analyze, stats and masks check their plan as predict does: a user's index.html,
    # summary.md or a same-named PNG is refused; a rerun replaces its own; --overwrite says so.
    data = SAMPLE.parent
    first = sorted(SAMPLE.glob("*.jpg"))[0].stem
    cases = [
        (("analyze", predictions / "p"), "index.html"),
        (("stats", data), "summary.md"),
        (("masks", data), f"{first}.png"),
    ]
    for args, name in cases:
        out = tmp_path / args[0]
        out.mkdir()
        (out / name).write_text("the user's own file")
        one_line_error(run(*args, "--out", out, cwd=tmp_path), name, "--overwrite")
        assert (out / name).read_text() == "the user's own file"
        assert not (out / ".fashionseg-outputs").exists()
        done = run(*args, "--out", out, "--overwrite", cwd=tmp_path)
        assert done.returncode == 0, done.stderr[-800:]
        assert (out / name).read_bytes() != b"the user's own file"
        again = run(*args, "--out", out, cwd=tmp_path)  # its own files now
        assert again.returncode == 0, again.stderr[-800:]
    one_line_error(run("stats", data, "--out", data, cwd=tmp_path), "holds the input")


def test_analyze_refuses_a_table_with_the_right_names_and_other_types(predictions, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(predictions / "t.parquet")
    bad = table.set_column(
        table.column_names.index("width"), "width", pa.array(["wide"] * len(table))
    )
    pq.write_table(bad, tmp_path / "bad.parquet")
    done = run("analyze", tmp_path / "bad.parquet", "--out", tmp_path / "a", cwd=tmp_path)
    one_line_error(done, "bad.parquet", "width")


# -- the Python API's in-memory photos -------------------------------------------------------

API = """
import io, sys
import numpy as np
from PIL import Image
import fashionseg
seg = fashionseg.Segmenter()
for name, photo in (("array", np.zeros((0, 0, 3), np.uint8)), ("pil", Image.new("RGB", (0, 0)))):
    try:
        seg(photo)
        print(name, "no error")
    except fashionseg.FashionsegError as e:
        print(name, "FashionsegError", e)
grey = Image.open(sys.argv[1])
by_path = seg(sys.argv[1]).label_map
print("16-bit", grey.mode, np.array_equal(seg(grey).label_map, by_path))
try:
    seg(Image.open(sys.argv[2]))
    print("truncated no error")
except fashionseg.FashionsegError as e:
    print("truncated FashionsegError", e)
"""


def test_the_api_checks_in_memory_photos_at_the_door(tmp_path):
    rgb = np.asarray(Image.open(sorted(SAMPLE.glob("*.jpg"))[0]).convert("L"), dtype=np.uint16)
    Image.fromarray(rgb * 257).save(tmp_path / "grey16.png")
    rng = np.random.default_rng(0)
    noisy = rng.integers(0, 255, (200, 160, 3), dtype=np.uint8)
    Image.fromarray(noisy).save(tmp_path / "full.jpg", quality=95)
    data = (tmp_path / "full.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    script = tmp_path / "api.py"
    script.write_text(API)
    done = subprocess.run(
        [sys.executable, script, tmp_path / "grey16.png", tmp_path / "cut.jpg"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-800:]
    lines = done.stdout.splitlines()
    assert lines[0].startswith("array FashionsegError") and "0x0" in lines[0]
    assert lines[1].startswith("pil FashionsegError") and "0x0" in lines[1]
    assert lines[2] == "16-bit I;16 True", lines[2]
    assert lines[3].startswith("truncated FashionsegError") and "truncated" in lines[3]


# -- categories, serve -------------------------------------------------------------------------


def test_three_hundred_categories_are_one_line(tmp_path):
    data = tmp_path / "k"
    (data / "train").mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(data / "train" / "a.jpg")
    (data / "train.csv").write_text(
        "ImageId,EncodedPixels,Height,Width,ClassId\na,1 4,8,8,299\nb,1 4,8,8,254\n"
    )
    cats = [{"id": k, "name": f"c{k}"} for k in range(300)]
    (data / "label_descriptions.json").write_text(json.dumps({"categories": cats}))
    done = run("stats", data, "--out", tmp_path / "s", cwd=tmp_path)
    one_line_error(done, "label_descriptions.json", "300 categories", "at most 254")


def _serve(tmp_path, *flags):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [FASHIONSEG, "serve", "--port", str(port), *flags],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    return proc, f"http://127.0.0.1:{port}"


def test_serve_answers_only_its_own_host_header(tmp_path):
    import httpx

    proc, url = _serve(tmp_path)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                httpx.get(f"{url}/health", timeout=1)
                break
            except httpx.HTTPError:
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.3)
        assert httpx.get(f"{url}/health").status_code == 200
        for name in ("localhost", "127.0.0.1"):
            assert httpx.get(f"{url}/health", headers={"Host": name}).status_code == 200
        # A page whose name was rebound to 127.0.0.1 sends its own name: refused.
        assert httpx.get(f"{url}/health", headers={"Host": "rebound.example"}).status_code == 400
    finally:
        proc.terminate()
        proc.wait(20)
