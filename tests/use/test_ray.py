"""predict --ray on a real local Ray cluster: the outputs of local predict, every photo exactly
once even when a worker process is killed mid-job."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fashionseg.cli import main

pytest.importorskip("ray.data")
pytestmark = pytest.mark.slow  # a Ray cluster starts in a fresh process

SAMPLE = Path(__file__).resolve().parents[2] / "src" / "fashionseg" / "sample" / "ccp" / "train"
FASHIONSEG = str(Path(sys.executable).with_name("fashionseg"))


def map_workers() -> list[int]:
    """PIDs of Ray Data's actor processes on this machine (their process title says so)."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and b"MapWorker" in (proc / "cmdline").read_bytes():
                pids.append(int(proc.name))
        except OSError:
            continue
    return pids


def test_ray_predict_survives_a_killed_worker_and_equals_local_predict(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    for k, p in enumerate(sorted(SAMPLE.glob("*.jpg"))[:40]):
        shutil.copy(p, photos / p.name)
        shutil.copy(p, photos / f"copy{k:02d}.jpg")
    (photos / "broken.jpg").write_bytes(b"not a photo")
    out, table = tmp_path / "ray", tmp_path / "garments.parquet"
    env = dict(os.environ, RAY_ADDRESS="", PYTHONWARNINGS="ignore")
    temp = Path(tempfile.gettempdir())
    copies_before = set(temp.glob("fashionseg-ray-*"))
    job = subprocess.Popen(
        [FASHIONSEG, "predict", photos, "--out", out, "--table", table, "--batch-size", "2",
         "--kaggle-csv", tmp_path / "ray.csv", "--ray", "--actors", "2"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    killed = None
    deadline = time.time() + 240
    while job.poll() is None and time.time() < deadline:
        done = len(list(out.glob("*.json"))) if out.is_dir() else 0
        workers = map_workers()
        if killed is None and 6 <= done < 60 and workers:
            killed = workers[0]
            os.kill(killed, signal.SIGKILL)
        time.sleep(0.05)
    stdout, stderr = job.communicate(timeout=60)
    assert job.returncode == 0, stderr[-1500:]
    assert killed is not None, "the job ended before a worker could be killed"
    assert "80 of 81 photos segmented" in stdout
    # Each actor's copy of the model lives only while it loads (the fourth round's finding:
    # one 5 MB folder per actor was left behind, the killed one's too).
    assert set(temp.glob("fashionseg-ray-*")) == copies_before
    local = tmp_path / "local"
    local_csv = tmp_path / "local.csv"
    assert main(["predict", str(photos), "--out", str(local), "--kaggle-csv", str(local_csv)]) == 0
    # The Kaggle CSV, filled on the driver, equals local predict's row for row.
    assert (tmp_path / "ray.csv").read_text() == local_csv.read_text()
    assert len(local_csv.read_text().splitlines()) > 80
    docs = sorted(p.name for p in out.glob("*.json"))
    assert docs == sorted(p.name for p in local.glob("*.json")) and len(docs) == 80
    for name in docs:
        stem = name[:-5]
        a = np.asarray(Image.open(out / f"{stem}.png"))
        b = np.asarray(Image.open(local / f"{stem}.png"))
        assert np.array_equal(a, b), stem
        assert json.loads((out / name).read_text()) == json.loads((local / name).read_text())
    errors = (out / "errors.csv").read_text().splitlines()
    assert len(errors) == 2 and "broken.jpg" in errors[1]
    import pyarrow.parquet as pq

    rows = pq.read_table(table).to_pylist()
    paths = [r["path"] for r in rows]
    expected = sum(len(json.loads((out / n).read_text())["garments"]) for n in docs)
    assert len(rows) == expected  # every garment once: no duplicate from the rerun batches
    assert len(set(paths)) == 80
    for name in docs[:5]:  # as if the job had stopped before these
        (out / name).unlink()
    again = subprocess.run(
        [FASHIONSEG, "predict", photos, "--out", out, "--table", table, "--ray", "--skip-existing"],
        env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr[-800:]
    assert "5 of 81 photos segmented" in again.stdout and "(75 already there)" in again.stdout
    assert sorted(p.name for p in out.glob("*.json")) == docs
    assert len(pq.read_table(table).to_pylist()) == expected  # the done ones from their JSON


def test_without_ray_the_flag_names_the_extra(tmp_path):
    code = (
        "import sys; sys.modules['ray'] = None\n"
        "from fashionseg.cli import main\n"
        f"sys.exit(main(['predict', {str(SAMPLE)!r}, '--out', {str(tmp_path / 'o')!r}, '--ray']))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert "Traceback" not in done.stderr and "pip install 'fashionseg[ray]'" in lines[-1]
