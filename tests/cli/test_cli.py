"""The console script as a user runs it: a fresh process per command, files made on the fly.

In-process tests share state (caches, imported modules, a model trained earlier in the same
process); these do not, which is how `export` was once broken from the command line only.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow  # each test starts fresh processes

FASHIONSEG = str(Path(sys.executable).with_name("fashionseg"))


def run(*args, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    env = dict(os.environ, FASHIONSEG_CACHE=str(cwd / "cache"))
    done = subprocess.run(
        [FASHIONSEG, *map(str, args)], cwd=cwd, env=env, capture_output=True, text=True
    )
    if check:
        assert done.returncode == 0, f"{args}: {done.stderr[-800:]}"
    return done


def one_line_error(done: subprocess.CompletedProcess, *words: str) -> str:
    """The error line of a failed command: exit 2, one line, no traceback, naming ``words``."""
    assert done.returncode == 2, done.stderr[-800:]
    assert "Traceback" not in done.stderr
    line = done.stderr.strip().splitlines()[-1]
    assert line.startswith("fashionseg ") and ": error: " in line
    for word in words:
        assert word in line, line
    return line


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """Synthetic photos and a tiny model trained from the command line."""
    cwd = tmp_path_factory.mktemp("cli")
    run("synth", "s", "--images", 8, "--size", "48x64", "--seed", 0, cwd=cwd)
    run(
        "train", "--data", "s", "--model", "unet", "--width", 4, "--size", 32, "--epochs", 1,
        "--batch-size", 2, "--workers", 0, "--no-tensorboard", "--out", "r", cwd=cwd,
    )  # fmt: skip
    return cwd


def test_train_evaluate_export_predict_in_fresh_processes(workdir):
    cwd = workdir
    photo = sorted((cwd / "s" / "train").glob("*.jpg"))[0]
    done = run("evaluate", "r/best.pt", "--data", "s", "--out", "eval.json", cwd=cwd)
    assert json.loads((cwd / "eval.json").read_text())["images"] == 8
    run("export", "r/best.pt", "--out", "m.onnx", cwd=cwd)
    assert (cwd / "m.onnx").is_file() and not list(cwd.glob(".*.onnx"))
    done = run(
        "export", "r/best.pt", "--out", "m8.onnx", "--int8", "--calibration", "s/train", cwd=cwd
    )
    assert json.loads(done.stdout)["pixel_agreement"] > 0.5
    for model in ("r/best.pt", "m.onnx", "m8.onnx"):
        out = f"p-{Path(model).stem}"
        run("predict", model, photo, "--out", out, cwd=cwd)
        assert json.loads((cwd / out / f"{photo.stem}.json").read_text())["garments"] is not None


def test_serve_starts_and_answers_from_the_command_line(workdir):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, FASHIONSEG_CACHE=str(workdir / "cache"))
    proc = subprocess.Popen(
        [FASHIONSEG, "serve", "r/best.pt", "--port", str(port), "--device", "cpu"],
        cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while True:
            try:
                assert httpx.get(f"{url}/health", timeout=2).json()["status"] == "ok"
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stderr.read().decode()[-500:]
                assert time.monotonic() < deadline, "serve did not start in 90 s"
                time.sleep(0.3)
        photo = sorted((workdir / "s" / "train").glob("*.jpg"))[0]
        r = httpx.post(
            f"{url}/api/segment", files={"file": (photo.name, photo.read_bytes())}, timeout=60
        )
        assert r.status_code == 200 and r.json()["image"]["width"] == 48
    finally:
        proc.terminate()
        proc.wait(10)


def test_bundled_model_predicts_with_no_model_named(workdir):
    photo = sorted((workdir / "s" / "train").glob("*.jpg"))[0]
    done = run("predict", photo, "--out", "bundled", cwd=workdir)
    doc = json.loads((workdir / "bundled" / f"{photo.stem}.json").read_text())
    assert "ccp-lite0-int8.onnx" in doc["model"] and "1 of 1" in done.stdout


def test_resume_acts_on_the_folder_named(workdir, tmp_path):
    cwd = workdir
    shutil.copytree(cwd / "r", tmp_path / "copy")
    before = (cwd / "r" / "last.pt").read_bytes()
    elsewhere = tmp_path / "elsewhere"  # relative paths in config.yaml must not matter
    elsewhere.mkdir()
    done = run("train", "--resume", tmp_path / "copy", "--epochs", 2, cwd=elsewhere)
    assert (cwd / "r" / "last.pt").read_bytes() == before  # the original is untouched
    from fashionseg.checkpoint import load_checkpoint

    assert load_checkpoint(tmp_path / "copy" / "last.pt")["epoch"] == 2, done.stderr[-300:]
    (tmp_path / "copy" / "last.pt").unlink()
    one_line_error(run("train", "--resume", tmp_path / "copy", cwd=cwd, check=False), "no last.pt")
    one_line_error(
        run("train", "--resume", "r", "--lr", 0.5, cwd=cwd, check=False), "--lr cannot change"
    )


def test_outputs_never_overwrite_inputs(workdir, tmp_path):
    from PIL import Image

    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("a.jpg", "a.png", "a-2.jpg", "A.jpg"):
        Image.new("RGB", (40, 30), (200, 10, 10)).save(photos / name)
    kept = {p.name: p.read_bytes() for p in photos.iterdir()}
    for out in (photos, photos / "preds", tmp_path):
        one_line_error(
            run("predict", "r/best.pt", photos, "--out", out, cwd=workdir, check=False), "input"
        )
    assert {p.name: p.read_bytes() for p in photos.iterdir()} == kept
    run("predict", "r/best.pt", photos, "--out", tmp_path / "preds", cwd=workdir)
    stems = sorted(p.stem for p in (tmp_path / "preds").glob("*.json"))
    assert len(stems) == 4 and len({s.lower() for s in stems}) == 4
    one_line_error(run("masks", "s", "--out", "s/train", cwd=workdir, check=False), "input")


def test_bad_output_paths_are_one_line_before_any_work(workdir, tmp_path):
    (tmp_path / "file").write_text("x")
    photo = sorted((workdir / "s" / "train").glob("*.jpg"))[0]
    one_line_error(
        run("predict", "r/best.pt", photo, "--out", tmp_path / "file", cwd=workdir, check=False),
        "not a folder",
    )
    start = time.monotonic()
    done = run("evaluate", "r/best.pt", "--data", "s", "--out", tmp_path, cwd=workdir, check=False)
    one_line_error(done, "is a folder")
    assert "img/s" not in done.stderr  # refused before evaluating (no progress bar)
    one_line_error(
        run("train", "--data", "s", "--out", tmp_path / "file", cwd=workdir, check=False),
        "not a folder",
    )
    one_line_error(run("masks", "s", "--out", tmp_path / "file", cwd=workdir, check=False))
    assert time.monotonic() - start < 60


def test_setup_installs_under_recorded_constraints():
    root = Path(__file__).resolve().parents[2]
    lines = (root / "constraints.txt").read_text().splitlines()
    pins = {line.split("==")[0] for line in lines if "==" in line}
    ranges = {line.split(">=")[0] for line in lines if ">=" in line}
    assert {"numpy", "pillow", "segmentation-models-pytorch", "onnxruntime", "fastapi"} <= pins
    assert {"torch", "torchvision"} <= ranges  # a minor-version range, never an exact torch pin
    makefile = (root / "Makefile").read_text()
    assert "-c constraints.txt" in makefile and "test-latest:" in makefile


def test_bundled_model_matches_its_card():
    from fashionseg.bundled import SHA256, bundled_model, sha256

    path = bundled_model()
    assert sha256(path) == SHA256
    assert path.stat().st_size <= 20_000_000
    assert SHA256 in (path.parent / "MODEL_CARD.md").read_text()


def test_the_bundled_model_holds_no_machine_paths():
    import onnx

    from fashionseg.bundled import bundled_model
    from fashionseg.inference.loading import ONNX_META
    from fashionseg.use.export import PATH_KEYS

    proto = onnx.load(str(bundled_model()), load_external_data=False)
    config = json.loads({p.key: p.value for p in proto.metadata_props}[ONNX_META])["config"]
    for key in PATH_KEYS:
        assert "/" not in str(config.get(key, "")), (key, config[key])
