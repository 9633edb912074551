"""The fourth hardening round, data sets: converters' sources and downloads as a bad day or an
attacker brings them. Each test is one finding of the issue, run as a user runs it (the
console script in a fresh process) where a command is involved; each failed on the code
before the schema door and the output plan.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from dataset_files import ccp_repository, deepfashion2, lip, modanet, photo
from file_server import FileServer
from PIL import Image

from fashionseg.data.formats import open_dataset
from fashionseg.datasets.archives import IntegrityError, extract
from fashionseg.datasets.http import DownloadError, fetch, remote_size
from fashionseg.errors import UsageError

FASHIONSEG = str(Path(sys.executable).with_name("fashionseg"))
MODANET_JSON = "modanet2018_instances_train.json"


def convert(*args, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [FASHIONSEG, "convert", *map(str, args)], capture_output=True, text=True,
        env=dict(os.environ, PYTHONWARNINGS="ignore"), timeout=timeout,
    )  # fmt: skip


def no_crash(done: subprocess.CompletedProcess) -> None:
    """Neither a traceback nor a signal: exit 0 or a one-line error with exit 2."""
    assert done.returncode in (0, 2), (done.returncode, done.stderr[-800:])
    assert "Traceback" not in done.stderr, done.stderr[-800:]


def one_line(done: subprocess.CompletedProcess, *words: str) -> str:
    assert done.returncode == 2, (done.returncode, done.stderr[-800:])
    assert "Traceback" not in done.stderr
    line = done.stderr.strip().splitlines()[-1]
    assert ": error: " in line, line
    for w in words:
        assert w in line, line
    return line


def edit_modanet(src: Path, change) -> Path:
    path = src / MODANET_JSON
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))  # Python writes NaN and Infinity as JSON would not
    return src


WRONG_TYPES = {
    "images as strings": lambda d: d.update(images=["0000001.jpg"]),
    "category_id a list": lambda d: d["annotations"][0].update(category_id=[5]),
    "segmentation a string": lambda d: d["annotations"][0].update(segmentation="10,10,50,10"),
    "a list where an object belongs": lambda d: d["annotations"].__setitem__(0, [1, 2]),
    "a NaN polygon": lambda d: d["annotations"][0].update(segmentation=[[float("nan")] * 8]),
    "a 1e30 polygon": lambda d: d["annotations"][0].update(
        segmentation=[[10, 10, 1e30, 10, 50, 60, 10, 60]]
    ),
}


@pytest.mark.parametrize("finding", WRONG_TYPES)
def test_modanet_values_of_the_wrong_type_are_named_and_skipped(tmp_path, finding):
    src = edit_modanet(modanet(tmp_path / "m"), WRONG_TYPES[finding])
    done = convert("modanet", src, "--out", tmp_path / "out")
    no_crash(done)
    assert done.returncode == 0 and "skipped" in done.stderr, done.stderr
    strict = convert("modanet", src, "--out", tmp_path / "strict", "--strict")
    one_line(strict, MODANET_JSON, "--strict")


def test_deepfashion2_items_of_the_wrong_kind_are_named(tmp_path):
    src = deepfashion2(tmp_path / "df2")
    path = src / "annos" / "000001.json"
    doc = json.loads(path.read_text())
    doc["itemA"] = doc.pop("item2")
    path.write_text(json.dumps(doc))
    done = convert("deepfashion2", src, "--out", tmp_path / "out")
    assert done.returncode == 0 and "itemA: not an item key" in done.stderr, done.stderr
    doc["item1"]["segmentation"] = "8 8 56 8"
    path.write_text(json.dumps(doc))
    done = convert("deepfashion2", src, "--out", tmp_path / "out2")
    assert done.returncode == 0 and "item1: segmentation: expected" in done.stderr


def test_a_modanet_file_name_never_reaches_outside_its_folder(tmp_path):
    secret = photo(tmp_path / "outside" / "secret.jpg", 80, 100, seed=9)
    src = modanet(tmp_path / "m")
    photo(src / "images" / "x" / "a.jpg", 80, 100, seed=1)
    photo(src / "images" / "y" / "a.jpg", 80, 100, seed=2)

    def change(d):
        square = [[10, 10, 50, 10, 50, 60, 10, 60]]
        for k, name in enumerate(("../../outside/secret.jpg", "x/a.jpg", "y/a.jpg"), start=8):
            d["images"].append({"id": k, "file_name": name, "width": 80, "height": 100})
            d["annotations"].append(
                {"id": k, "image_id": k, "category_id": 5, "segmentation": square}
            )

    edit_modanet(src, change)
    done = convert("modanet", src, "--out", tmp_path / "out")
    assert done.returncode == 0, done.stderr
    assert "secret.jpg' leaves" in done.stderr
    photos = sorted(p.name for p in (tmp_path / "out" / "train").iterdir())
    # x/a.jpg and y/a.jpg stay two photos; the secret is not copied.
    assert photos == ["0000001.jpg", "a-2.jpg", "a.jpg"], photos
    assert not any(
        p.read_bytes() == secret.read_bytes() for p in (tmp_path / "out" / "train").iterdir()
    )
    ids = {r.image_id for r in open_dataset(tmp_path / "out")}
    assert ids == {"0000001", "a", "a-2"}


def test_convert_never_replaces_a_data_set_of_the_users(tmp_path):
    mine = modanet(tmp_path / "mine")
    users = tmp_path / "users-data"
    (users / "train").mkdir(parents=True)
    (users / "train.csv").write_text("ImageId,EncodedPixels,Height,Width,ClassId\nmine,1 2,4,4,0\n")
    photo(users / "train" / "0000001.jpg", 80, 100, seed=3)
    before = {p: p.read_bytes() for p in users.rglob("*") if p.is_file()}
    done = convert("modanet", mine, "--out", users)
    one_line(done, "train.csv", "exists", "--overwrite")
    assert {p: p.read_bytes() for p in users.rglob("*") if p.is_file()} == before
    # Its own earlier output it may replace; the user's with --overwrite only.
    out = tmp_path / "out"
    assert convert("modanet", mine, "--out", out).returncode == 0
    assert convert("modanet", mine, "--out", out).returncode == 0
    assert convert("modanet", mine, "--out", users, "--overwrite").returncode == 0


def test_ccp_labels_that_are_not_labels_are_named(tmp_path):
    from scipy.io import savemat

    src = ccp_repository(tmp_path / "ccp")
    truth = np.zeros((90, 60), dtype=np.int16)
    truth[10:20, 10:20] = -1
    savemat(src / "annotations" / "pixel-level" / "0001.mat", {"groundtruth": truth})
    savemat(
        src / "annotations" / "pixel-level" / "0002.mat", {"groundtruth": np.full((90, 60), 2.5)}
    )
    done = convert("ccp", src, "--out", tmp_path / "out")
    assert done.returncode == 0, done.stderr
    assert "0001.mat: groundtruth: label -1 is negative" in done.stderr
    assert "0002.mat: groundtruth: labels that are not whole numbers" in done.stderr
    assert not list((tmp_path / "out" / "train").iterdir())


def test_one_bit_label_pngs_are_labels_zero_and_one(tmp_path):
    src = lip(tmp_path / "lip")
    values = np.zeros((60, 40), dtype=bool)
    values[0:10, 0:10] = True  # LIP's label 1: hat
    Image.fromarray(values).convert("1").save(src / "masks" / "100_1.png")
    done = convert("lip", src, "--out", tmp_path / "out")
    assert done.returncode == 0, done.stderr
    (record,) = list(open_dataset(tmp_path / "out"))
    assert [i.class_id for i in record.instances] == [14]  # Fashionpedia's hat


def test_a_hand_edited_manifest_is_named_by_verify(tmp_path):
    folder = tmp_path / "ccp"
    folder.mkdir()
    (folder / "clothing-co-parsing-master.zip").write_bytes(b"PK")
    for files, word in (
        ({"clothing-co-parsing-master.zip": {"sha256": "0" * 64}}, "`size`"),
        ([{"name": "x"}], "files"),
    ):
        (folder / "manifest.json").write_text(json.dumps({"files": files}))
        done = subprocess.run(
            [FASHIONSEG, "download", "ccp", "--out", str(tmp_path), "--verify"],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        no_crash(done)
        assert done.returncode == 2 and word in done.stderr, done.stderr


def test_an_archive_declaring_more_than_the_catalogue_is_not_unpacked(tmp_path):
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("top/zeros.bin", b"\0" * (20 << 20))  # 20 MB of zeros: 20 kB packed
    assert bomb.stat().st_size < 100_000
    with pytest.raises(IntegrityError, match="far more than"):
        extract(bomb, tmp_path / "into", expected=1 << 20)
    assert not any((tmp_path / "into").rglob("*.bin"))
    import fashionseg.datasets.archives as archives

    real = archives.free_bytes
    archives.free_bytes = lambda folder: 1 << 20
    try:
        with pytest.raises(UsageError, match="free some space"):
            extract(bomb, tmp_path / "into2")
    finally:
        archives.free_bytes = real


def test_a_get_that_runs_past_its_announced_length_is_refused(tmp_path):
    with FileServer() as server:
        server.files["f.bin"] = os.urandom(300_000)
        server.faults["f.bin"] = [("overlong", 5 << 20)]
        with pytest.raises(DownloadError, match="more than the 300000 bytes"):
            fetch(
                f"{server.url}/f.bin", tmp_path / "f.bin", size=300_000, progress=False, backoff=0
            )
    part = tmp_path / "f.bin.part"
    assert not part.exists() or part.stat().st_size <= 300_000 + (1 << 20)


def test_a_full_disk_is_final_not_retried(tmp_path):
    with FileServer() as server:
        server.files["f.bin"] = os.urandom(200_000)
        (tmp_path / "f.bin.part").symlink_to("/dev/full")  # every write: ENOSPC
        with pytest.raises(DownloadError, match="no space left"):
            fetch(
                f"{server.url}/f.bin", tmp_path / "f.bin", size=200_000, progress=False, backoff=0
            )
        assert len(server.gets("f.bin")) == 1


def test_a_5xx_answer_to_head_is_retried(tmp_path):
    with FileServer() as server:
        server.files["f.bin"] = b"x" * 1000
        server.head_faults["f.bin"] = [503, 502]
        assert remote_size(f"{server.url}/f.bin", backoff=0) == 1000
        server.head_faults["f.bin"] = [500] * 3
        with pytest.raises(DownloadError, match="500"):
            remote_size(f"{server.url}/f.bin", retries=2, backoff=0)
