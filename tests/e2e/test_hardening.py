"""The third hardening round: each finding reproduced the way a user (or a hostile one) meets
it, in the console script in a fresh process.

Every test here failed on the code before the fix; the numbers are the findings of the issue.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytestmark = pytest.mark.slow  # fresh processes

FASHIONSEG = str(Path(sys.executable).with_name("fashionseg"))

# Starts ``fashionseg.cli.main`` at an agreed moment, so that processes started one after the
# other really run at once (process start-up alone spreads them by a tenth of a second).
AT_ONCE = """
import sys, time
start = float(sys.argv[1])
from fashionseg.cli import main
while time.time() < start:
    pass
code = main(sys.argv[3:])
if code == 0 and sys.argv[2] != "-":  # read every byte of the cache it prepared or waited for
    import numpy as np
    from fashionseg.prepare.cache import open_cache
    cache = open_cache(sys.argv[2])
    print("digest", int(np.asarray(cache.images, np.int64).sum()), int(np.asarray(cache.masks, np.int64).sum()), len(cache))
sys.exit(code)
"""


def run(*args, cwd: Path, check: bool = True, env: dict | None = None, timeout: float = 600):
    env = dict(os.environ, FASHIONSEG_CACHE=str(cwd / "cache"), **(env or {}))
    done = subprocess.run(
        [FASHIONSEG, *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check:
        assert done.returncode == 0, f"{args}: {done.stderr[-800:]}"
    return done


def one_line_error(done: subprocess.CompletedProcess, *words: str) -> str:
    """The error line of a failed command: exit 2, one line, no traceback, naming ``words``."""
    assert done.returncode == 2, (done.returncode, done.stderr[-800:])
    assert "Traceback" not in done.stderr
    line = done.stderr.strip().splitlines()[-1]
    assert line.startswith("fashionseg ") and ": error: " in line, line
    for word in words:
        assert word in line, line
    return line


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    cwd = tmp_path_factory.mktemp("hard")
    run("synth", "s", "--images", 48, "--size", "96x128", "--seed", 0, cwd=cwd)
    return cwd / "s"


def test_1_caches_built_by_three_processes_at_once(photos, tmp_path):
    """20 rounds of 3 processes started together on one cache: every process succeeds and
    every one reads the same, complete cache (prepare --out, and the user cache of train)."""
    script = tmp_path / "at_once.py"
    script.write_text(AT_ONCE)
    ref = subprocess.run(
        [sys.executable, str(script), "0", str(tmp_path / "ref"), "prepare", str(photos),
         "--out", str(tmp_path / "ref"), "--size", "128"],
        capture_output=True, text=True, check=True,
    ).stdout.split("digest")[-1]  # fmt: skip
    for round_no in range(20):
        out = tmp_path / f"c{round_no}"
        start = time.time() + 1.0
        env = dict(os.environ, FASHIONSEG_CACHE=str(tmp_path / f"user{round_no}"))
        procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    str(script),
                    str(start),
                    str(out),
                    "prepare",
                    str(photos),
                    "--out",
                    str(out),
                    "--size",
                    "128",
                    "--workers",
                    "1",
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
            )  # fmt: skip
            for _ in range(3)
        ]
        for p in procs:
            stdout, stderr = p.communicate(timeout=300)
            assert p.returncode == 0, f"round {round_no}: exit {p.returncode}: {stderr[-600:]}"
            assert stdout.split("digest")[-1] == ref, f"round {round_no}: another cache"
        assert not list(out.glob("*.tmp")) and not list(out.glob(".*.tmp"))


def test_1_user_cache_of_train_shared_by_processes(photos, tmp_path):
    """Three ``resolve_data`` calls (what train and tune do with a raw folder) at once into one
    FASHIONSEG_CACHE, five rounds: one builds, the others wait and read it."""
    code = (
        "import sys, time; start = float(sys.argv[1]);\n"
        "from fashionseg.prepare.resolve import resolve_data\n"
        "while time.time() < start: pass\n"
        "c = resolve_data(sys.argv[2], '64', False, 'all', workers=1)\n"
        "import numpy as np; print(int(np.asarray(c.masks, np.int64).sum()), len(c))\n"
    )
    results = set()
    for round_no in range(5):
        env = dict(os.environ, FASHIONSEG_CACHE=str(tmp_path / f"u{round_no}"))
        start = str(time.time() + 2.0)
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", code, start, str(photos)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
            )  # fmt: skip
            for _ in range(3)
        ]
        for p in procs:
            stdout, stderr = p.communicate(timeout=300)
            assert p.returncode == 0, stderr[-600:]
            results.add(stdout.strip())
    assert len(results) == 1


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def run_dir(photos) -> Path:
    """A tiny model trained from the command line (one epoch, 32 px)."""
    cwd = photos.parent
    run(
        "train", "--data", photos, "--model", "unet", "--width", 4, "--size", 32, "--epochs", 1,
        "--batch-size", 4, "--workers", 0, "--no-tensorboard", "--out", "r", cwd=cwd,
    )  # fmt: skip
    return cwd / "r"


def test_2_train_into_a_run_folder_refuses_without_resume(run_dir):
    cwd = run_dir.parent
    before = {name: _digest(run_dir / name) for name in ("last.pt", "best.pt", "history.csv")}
    again = run(
        "train", "--data", "s", "--model", "unet", "--width", 4, "--size", 32, "--epochs", 1,
        "--workers", 0, "--no-tensorboard", "--out", "r", cwd=cwd, check=False,
    )  # fmt: skip
    one_line_error(again, "r: holds a run", "--resume r", "--overwrite")
    assert before == {name: _digest(run_dir / name) for name in before}
    fresh = cwd / "r2"
    for _ in range(2):  # --overwrite starts over, also in a folder that holds a run
        run(
            "train", "--data", "s", "--model", "unet", "--width", 4, "--size", 32, "--epochs",
            1, "--workers", 0, "--no-tensorboard", "--out", fresh, "--overwrite", cwd=cwd,
        )  # fmt: skip
    assert len((fresh / "history.csv").read_text().splitlines()) == 2


def _folder(tmp_path: Path, photos: Path, names: list[str]) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    for src, name in zip(sorted((photos / "train").glob("*.jpg")), names):
        (folder / name).write_bytes(src.read_bytes())
    return folder


def test_3_analyze_never_writes_into_the_predictions(photos, tmp_path):
    folder = _folder(tmp_path, photos, ["summary.jpg", "frequency.jpg", "a.jpg", "b.jpg"])
    run("predict", folder, "--out", tmp_path / "preds", cwd=tmp_path)
    kept = _digest(tmp_path / "preds" / "summary.json")
    done = run(
        "analyze", tmp_path / "preds", "--out", tmp_path / "preds", cwd=tmp_path, check=False
    )
    one_line_error(done, "preds", "apart from the inputs")
    assert _digest(tmp_path / "preds" / "summary.json") == kept
    assert "garments" in json.loads((tmp_path / "preds" / "summary.json").read_text())
    run("analyze", tmp_path / "preds", "--out", tmp_path / "analysis", cwd=tmp_path)


def test_4_no_output_leaves_out_whatever_the_photo_names(photos, tmp_path):
    names = ["...jpg", "..jpg", ".hidden.jpg", "a.jpg", "b.jpg", "c.jpg", "d.jpg", "e.jpg"]
    folder = _folder(tmp_path, photos, names)
    work = tmp_path / "work"
    work.mkdir()
    out = work / "out"
    done = run("predict", folder, "--out", out, "--cutouts", cwd=tmp_path)
    assert "8 of 8 photos segmented" in done.stdout
    assert sorted(p.name for p in work.iterdir()) == ["out"]  # nothing beside --out
    jsons = sorted(p.name for p in out.glob("*.json"))
    assert len(jsons) == 8 and not [n for n in jsons if n.startswith(".")]
    for doc in (json.loads((out / n).read_text()) for n in jsons):
        for g in doc["garments"]:
            assert (out / g["cutout"]).resolve().is_relative_to(out.resolve())


def test_5_reports_embed_only_their_own_figures_and_show_text_as_text(photos, tmp_path):
    secret = tmp_path / "secret.png"
    Image.fromarray(np.full((4, 4, 3), 7, np.uint8)).save(secret)
    import base64

    leaked = base64.b64encode(secret.read_bytes()).decode()
    choice = "x\n![a](figures/../../secret.png)\n<script>alert(1)</script>"
    space = tmp_path / "space.yaml"
    space.write_text(
        json.dumps(
            {
                "fixed": {"model": "deeplabv3plus", "size": "32", "epochs": 1, "workers": 0,
                          "batch_size": 4, "tensorboard": False},
                "search": {"encoder": ["", choice]},
                "study": {"sampler": "random"},
                "enqueue": [{"encoder": ""}, {"encoder": choice}],
            }
        )
    )  # fmt: skip
    run("tune", "--data", photos, "--out", tmp_path / "t", "--space", space, "--trials", 2,
        cwd=tmp_path)  # fmt: skip
    page = (tmp_path / "t" / "report.html").read_text()
    assert leaked not in page and "<script>alert" not in page
    assert "&lt;script&gt;" in page  # shown, as text
    # analyze: names from prediction files are text too (HTML and matplotlib's $math$).
    preds = tmp_path / "preds"
    preds.mkdir()
    hostile = "<b>x</b> $\\frac{$"
    for k in range(4):
        doc = {"image": {"path": f"{k}.jpg", "width": 4, "height": 4}, "model": "m",
               "garments": [{"class_id": 0, "name": hostile, "area_fraction": 0.5,
                             "color": {"name": "black", "hex": "#000000"}}]}  # fmt: skip
        (preds / f"{k}.json").write_text(json.dumps(doc))
    run("analyze", preds, "--out", tmp_path / "a", cwd=tmp_path)
    page = (tmp_path / "a" / "index.html").read_text()
    assert "<b>x</b>" not in page and "&lt;b&gt;x&lt;/b&gt;" in page


def _bad_exif_jpeg(path: Path, rgb: np.ndarray) -> None:
    """A JPEG whose EXIF says "rotate" and holds a Make tag of the wrong type (RATIONAL)."""
    import struct

    ifd, count = 8, 2
    data_at = ifd + 2 + count * 12 + 4
    entries = struct.pack("<HHII", 0x010F, 5, 1, data_at) + struct.pack(
        "<HHIHH", 0x0112, 3, 1, 6, 0
    )
    tiff = b"II*\x00" + struct.pack("<IH", ifd, count) + entries + struct.pack("<III", 0, 1, 0)
    Image.fromarray(rgb).save(path, exif=b"Exif\x00\x00" + tiff)


@pytest.fixture(scope="module")
def server():
    """``fashionseg serve`` (the bundled model) in its own process, with a 1 MB limit."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [FASHIONSEG, "serve", "--port", str(port), "--max-mb", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    import httpx

    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            httpx.get(f"{url}/health", timeout=1)
            break
        except httpx.HTTPError:
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
            time.sleep(0.3)
    yield url
    proc.terminate()
    proc.wait(20)


def test_6_a_bad_exif_never_fails_the_photo(photos, tmp_path, server):
    import httpx

    folder = _folder(tmp_path, photos, ["a.jpg", "b.jpg", "c.jpg"])
    rgb = np.asarray(Image.open(folder / "a.jpg").convert("RGB"))
    _bad_exif_jpeg(folder / "bad.jpg", rgb)
    done = run("predict", folder, "--out", tmp_path / "p", "--auto-orient", cwd=tmp_path)
    assert "4 of 4 photos segmented" in done.stdout
    assert done.stderr.count("unreadable EXIF") == 1 and "bad.jpg" in done.stderr
    doc = json.loads((tmp_path / "p" / "bad.json").read_text())
    assert (doc["image"]["width"], doc["image"]["height"]) == (rgb.shape[1], rgb.shape[0])
    r = httpx.post(
        f"{server}/api/segment",
        files={"file": ("bad.jpg", (folder / "bad.jpg").read_bytes())},
        timeout=60,
    )
    assert r.status_code == 200, r.text


def test_7_sixteen_bit_photos_are_scaled_not_clipped(photos, tmp_path, server):
    import httpx

    folder = tmp_path / "ph"
    folder.mkdir()
    src = sorted((photos / "train").glob("*.jpg"))[0]
    grey = np.asarray(Image.open(src).convert("L"))
    Image.fromarray(grey).save(folder / "g8.png")
    Image.fromarray(grey.astype(np.uint16) * 257).save(folder / "g16.png")
    assert Image.open(folder / "g16.png").mode == "I;16"
    run("predict", folder, "--out", tmp_path / "p", cwd=tmp_path)
    a = np.asarray(Image.open(tmp_path / "p" / "g8.png"))
    b = np.asarray(Image.open(tmp_path / "p" / "g16.png"))
    assert (a == b).all()
    docs = [
        httpx.post(
            f"{server}/api/segment", files={"file": (n, (folder / n).read_bytes())}, timeout=60
        ).json()
        for n in ("g8.png", "g16.png")
    ]
    assert [g["name"] for g in docs[0]["garments"]] == [g["name"] for g in docs[1]["garments"]]


def _empty_chunk_png() -> bytes:
    """A 9.6 MB PNG of 800,000 empty chunks before its image data."""
    import io
    import struct
    import zlib

    buf = io.BytesIO()
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(buf, format="PNG")
    png = buf.getvalue()
    chunk = struct.pack(">I", 0) + b"prVt" + struct.pack(">I", zlib.crc32(b"prVt"))
    return png[:33] + chunk * 800_000 + png[33:]


def test_8_one_upload_never_stalls_the_server(tmp_path):
    import socket
    import threading

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [FASHIONSEG, "serve", "--port", str(port)], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                httpx.get(f"{url}/health", timeout=1)
                break
            except httpx.HTTPError:
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.3)
        data = _empty_chunk_png()
        answer = {}
        upload = threading.Thread(
            target=lambda: answer.update(
                r=httpx.post(f"{url}/api/segment", files={"file": ("c.png", data)}, timeout=60)
            )
        )
        upload.start()
        waits = []
        while upload.is_alive():
            t0 = time.monotonic()
            httpx.get(f"{url}/health", timeout=30)
            waits.append(time.monotonic() - t0)
            time.sleep(0.02)
        upload.join()
        assert answer["r"].status_code == 415, answer["r"].text
        assert waits and max(waits) < 0.5, waits
    finally:
        proc.terminate()
        proc.wait(20)


def test_9_a_broken_config_yaml_is_one_line_naming_it(photos, tmp_path):
    bad = tmp_path / "bad.yaml"
    for text in ("model: unet\n  lr: : 3\n", "model: !!python/object:os.system x\n", "- a\n- b\n"):
        bad.write_text(text)
        for command in ("train", "study"):
            done = run(command, "--config", bad, "--data", photos, "--out", tmp_path / "o",
                       cwd=tmp_path, check=False)  # fmt: skip
            one_line_error(done, str(bad))


def test_10_a_broken_label_descriptions_is_one_line_naming_it(photos, tmp_path):
    data = tmp_path / "d"
    data.mkdir()
    (data / "train").symlink_to(photos / "train")
    (data / "train.csv").write_text((photos / "train.csv").read_text())
    labels = data / "label_descriptions.json"
    good = (photos / "label_descriptions.json").read_text()
    broken = {
        "truncated": good[: len(good) // 2],
        "a list": "[1, 2]",
        "no name": json.dumps({"categories": [{"id": 0}]}),
    }
    for text in broken.values():
        labels.write_text(text)
        for command in ("stats", "prepare"):
            done = run(command, data, "--out", tmp_path / command, cwd=tmp_path, check=False)
            one_line_error(done, "label_descriptions.json")


def test_11_a_study_whose_work_all_failed_does_not_exit_0(photos, tmp_path):
    data = tmp_path / "nophotos"
    (data / "train").mkdir(parents=True)
    (data / "train.csv").write_text((photos / "train.csv").read_text())
    done = run("study", "--data", data, "--out", tmp_path / "st", "--epochs", 1, "--width", 4,
               "--sizes", "32", cwd=tmp_path, check=False)  # fmt: skip
    one_line_error(done, "usable photos")
    done = run("predict", data / "train.csv", "--out", tmp_path / "p", cwd=tmp_path, check=False)
    one_line_error(done, "errors.csv")


def _chunked_flood(server: str, host: bytes) -> tuple[int, bytes]:
    """Send a chunked upload of 40 MB, ignoring the answer; the bytes sent and the reply."""
    import socket
    from urllib.parse import urlparse

    url = urlparse(server)
    chunk = b"x" * 65536
    sent, reply = 0, b""
    with socket.create_connection((url.hostname, url.port), timeout=20) as sock:
        sock.sendall(
            b"POST /api/segment HTTP/1.1\r\nHost: %s\r\nTransfer-Encoding: chunked\r\n"
            b"Content-Type: multipart/form-data; boundary=B\r\n\r\n" % host
        )
        head = b'--B\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n\r\n'
        sock.sendall(b"%x\r\n%s\r\n" % (len(head), head))
        try:  # a client that ignores the answer and keeps sending 40 MB
            while sent < 40_000_000:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
        except OSError:  # the server closed the connection
            pass
        try:
            reply = sock.recv(4096)
        except OSError:
            pass
    return sent, reply


def test_12_a_chunked_upload_over_the_limit_is_cut_off(server):
    # The Host header the server answers (serve limits it to the host it binds).
    sent, reply = _chunked_flood(server, server.removeprefix("http://").encode())
    assert sent < 12_000_000, f"the server read {sent} bytes of a 1 MB limit"
    assert not reply or reply.startswith(b"HTTP/1.1 413"), reply[:80]


def test_12b_a_refused_host_does_not_read_the_body(server):
    # Answered 400 before the body: the connection closes instead of being drained.
    sent, reply = _chunked_flood(server, b"attacker.example")
    assert sent < 12_000_000, f"the server read {sent} bytes behind a refused Host"
    assert not reply or reply.startswith(b"HTTP/1.1 400"), reply[:80]


def test_13_a_kaggle_csv_with_a_byte_order_mark_is_read(photos, tmp_path):
    data = tmp_path / "bom"
    data.mkdir()
    (data / "train").symlink_to(photos / "train")
    (data / "train.csv").write_bytes(b"\xef\xbb\xbf" + (photos / "train.csv").read_bytes())
    run("stats", data, "--out", tmp_path / "a", cwd=tmp_path)
    run("stats", photos, "--out", tmp_path / "b", cwd=tmp_path)
    a = json.loads((tmp_path / "a" / "summary.json").read_text())
    b = json.loads((tmp_path / "b" / "summary.json").read_text())
    assert a["instances"] == b["instances"] > 0 and a["categories"] == b["categories"]


def test_14_a_mistyped_garment_suggests_the_closest(photos, tmp_path):
    done = run("predict", photos / "train", "--out", tmp_path / "p", "--only", "shoes",
               cwd=tmp_path, check=False)  # fmt: skip
    one_line_error(done, "'shoe'", "fashionseg categories")
    listed = run("categories", cwd=tmp_path).stdout
    assert "shoe" in listed and len(listed.splitlines()) == 46
