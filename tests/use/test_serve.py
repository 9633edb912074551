"""The web app: status codes, the JSON contract, concurrency, and the page in Chromium."""

import base64
import io
import shutil
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image

from conftest import CCP

pytest.importorskip("fastapi")
import httpx  # noqa: E402
from benchmarks.background import background_server
from fastapi.testclient import TestClient  # noqa: E402

from fashionseg.data.rle import rle_decode  # noqa: E402
from fashionseg.use.serve.app import create_app  # noqa: E402


def _photo_bytes(synth_data) -> tuple[bytes, str]:
    real = sorted((CCP / "train").glob("*.jpg"))[:1] if CCP.exists() else []
    path = real[0] if real else next((synth_data / "train").glob("*.jpg"))
    return path.read_bytes(), path.name


@pytest.fixture(scope="module")
def app(tiny_model):
    return create_app(str(tiny_model), device="cpu", max_bytes=200_000, max_pixels=2_000_000)


def test_segment_returns_the_predict_contract_and_an_overlay(app, synth_data):
    data, name = _photo_bytes(synth_data)
    client = TestClient(app)
    r = client.post("/api/segment", files={"file": (name, data, "image/jpeg")})
    assert r.status_code == 200, r.text
    doc = r.json()
    w, h = Image.open(io.BytesIO(data)).size
    assert doc["image"] == {"path": name, "width": w, "height": h}
    assert doc["model"].startswith("unet")
    total = 0.0
    for g in doc["garments"]:
        mask = rle_decode(g["rle"], h, w)
        assert g["area_fraction"] == pytest.approx(mask.mean(), abs=1e-6)
        total += g["area_fraction"]
    assert total <= 1 + 1e-6
    # The instances (the label map's components) cover exactly the garments' pixels.
    listed = sum(i["area_fraction"] for i in doc["instances"])
    assert listed == pytest.approx(sum(g["area_fraction"] for g in doc["garments"]), abs=1e-5)
    assert all(0 < i["score"] <= 1 for i in doc["instances"])
    assert doc["overlay"].startswith("data:image/png;base64,")
    overlay = Image.open(io.BytesIO(base64.b64decode(doc["overlay"].split(",", 1)[1])))
    assert overlay.format == "PNG" and overlay.size == (w, h)
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["categories"] == 46
    assert "upload" in client.get("/").text.lower()
    assert client.get("/openapi.json").json()["paths"]["/api/segment"]


def test_bad_uploads_get_clear_status_codes(app):
    client = TestClient(app)
    r = client.post("/api/segment", files={"file": ("a.txt", b"hello, not a photo", "text/plain")})
    assert r.status_code == 415 and "not a photo in a supported format" in r.json()["detail"]
    big = np.random.default_rng(0).integers(0, 255, (600, 600, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(big).save(buf, format="PNG")
    assert len(buf.getvalue()) > 200_000
    r = client.post("/api/segment", files={"file": ("big.png", buf.getvalue(), "image/png")})
    assert r.status_code == 413
    buf = io.BytesIO()
    Image.new("RGB", (2000, 1500)).save(buf, format="PNG")  # small file, 3 MP > 2 MP limit
    r = client.post("/api/segment", files={"file": ("huge.png", buf.getvalue(), "image/png")})
    assert r.status_code == 422 and "over the limit" in r.json()["detail"]
    truncated = _jpeg(120, 80)[:300]
    r = client.post("/api/segment", files={"file": ("cut.jpg", truncated, "image/jpeg")})
    assert r.status_code == 415
    assert client.post("/api/segment").status_code == 422  # no file field
    r = client.post("/api/segment", files={"file": ("ok.jpg", _jpeg(120, 80), "image/jpeg")})
    assert r.status_code == 200  # the server is still fine


def _jpeg(w: int, h: int) -> bytes:
    buf = io.BytesIO()
    rng = np.random.default_rng(1)
    Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(buf, format="JPEG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def server(app):
    """The app on a real uvicorn server on a free localhost port."""
    with background_server(app) as url:
        yield url


@pytest.mark.slow
def test_concurrent_requests_are_batched_without_errors(server, app, synth_data):
    data, name = _photo_bytes(synth_data)
    before = app.state.batcher.batches

    def one(_):
        r = httpx.post(f"{server}/api/segment", files={"file": (name, data)}, timeout=60)
        return r.status_code

    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(one, range(32)))
    assert codes == [200] * 32
    # Fewer forward passes than requests: concurrent requests shared batches.
    assert app.state.batcher.batches - before < 32


@pytest.mark.slow
def test_page_upload_shows_overlay_in_chromium(server, synth_data, tmp_path):
    browser_path = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser_path is None:
        pytest.skip("chromium not installed (.ci/run installs it)")
    sync_api = pytest.importorskip("playwright.sync_api")
    data, name = _photo_bytes(synth_data)
    photo = tmp_path / name
    photo.write_bytes(data)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=browser_path,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
            ],
        )
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.goto(server + "/")
        page.set_input_files("#file", str(photo))
        page.wait_for_function(
            "document.getElementById('overlay').complete && "
            "document.getElementById('overlay').naturalWidth > 0",
            timeout=60_000,
        )
        assert page.is_visible("#result")
        natural = page.evaluate("document.getElementById('overlay').naturalWidth")
        assert natural == Image.open(io.BytesIO(data)).width
        assert page.inner_text("#status").startswith(
            "{}x{} px".format(*Image.open(io.BytesIO(data)).size)
        )
        shot = tmp_path / "page.png"
        page.screenshot(path=str(shot), full_page=True)
        # The overlay region of the screenshot is a photo, not a blank area.
        box = page.locator("#overlay").bounding_box()
        browser.close()
    img = np.asarray(Image.open(shot).convert("RGB")).astype(float)
    x0, y0 = int(box["x"]), int(box["y"])
    region = img[y0 : y0 + int(box["height"]), x0 : x0 + int(box["width"])]
    assert region.size and region.std() > 10


def _png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` (the CRC fixed to match)."""
    import struct
    import zlib

    buf = io.BytesIO()
    Image.new("RGB", (1, 1)).save(buf, format="PNG")
    data = bytearray(buf.getvalue())
    ihdr = 8 + 8  # signature, then length + type of the IHDR chunk
    data[ihdr : ihdr + 8] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[ihdr - 4 : ihdr + 13]))
    data[ihdr + 13 : ihdr + 17] = struct.pack(">I", crc)
    return bytes(data)


def test_only_photo_formats_are_opened_and_bombs_get_422(app):
    client = TestClient(app)
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n"
    r = client.post("/api/segment", files={"file": ("a.eps", eps, "application/postscript")})
    assert r.status_code == 415 and "JPEG, PNG, WEBP" in r.json()["detail"]
    r = client.post("/api/segment", files={"file": ("bomb.png", _png_claiming(50000, 50000))})
    assert r.status_code == 422, r.text
    buf = io.BytesIO()
    Image.new("RGB", (40, 40)).save(buf, format="GIF")
    r = client.post("/api/segment", files={"file": ("a.gif", buf.getvalue())})
    assert r.status_code == 415


def test_chunked_upload_stops_at_the_limit(server):
    import socket
    from urllib.parse import urlparse

    url = urlparse(server)
    chunk = b"x" * 65536
    sent = 0
    with socket.create_connection((url.hostname, url.port), timeout=20) as sock:
        sock.sendall(
            b"POST /api/segment HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n"
            b"Content-Type: multipart/form-data; boundary=B\r\n\r\n"
        )
        head = b'--B\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n\r\n'
        sock.sendall(b"%x\r\n%s\r\n" % (len(head), head))
        sock.settimeout(0.05)
        reply = b""
        while sent < 50_000_000 and not reply:
            try:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
                reply = sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:  # the server closed the connection after answering
                break
        sock.settimeout(20)
        reply = reply or sock.recv(4096)
    assert reply.startswith(b"HTTP/1.1 413"), reply[:100]
    assert sent < 20_000_000  # answered soon after the 200 kB limit, not after all 50 MB


@pytest.mark.slow
def test_large_photos_wait_for_the_pixel_budget(tiny_model):
    app = create_app(
        str(tiny_model), device="cpu", max_bytes=5_000_000, max_pixels=2_000_000,
        pixel_budget=2_000_000,
    )  # fmt: skip
    buf = io.BytesIO()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (1000, 1200, 3), dtype=np.uint8)).save(buf, "JPEG")
    with background_server(app) as url:

        def one(_):
            return httpx.post(
                f"{url}/api/segment", files={"file": ("p.jpg", buf.getvalue())}, timeout=120
            ).status_code

        with ThreadPoolExecutor(4) as pool:
            codes = list(pool.map(one, range(4)))
    assert codes == [200] * 4
    # 1.2 MP each: never two at once under a 2 MP budget (four at once without it).
    assert app.state.budget.peak == 1_200_000 and app.state.budget.used == 0


def test_the_allocator_is_trimmed_only_when_no_request_is_in_flight(monkeypatch):
    import asyncio

    from fashionseg.use.serve import app as serve_app
    from fashionseg.use.serve import memory

    assert memory.trim() is True  # glibc, as on every machine the suite runs on
    trims = []
    monkeypatch.setattr(memory, "trim", lambda: trims.append(1) or True)

    async def two_requests():
        budget = serve_app.PixelBudget(100)
        a = await budget.acquire(30)
        b = await budget.acquire(30)
        await budget.release(a)
        assert trims == []  # one request still holds its pixels: its buffers are in use
        await budget.release(b)
        assert trims == [1]

    asyncio.run(two_requests())


def test_serve_takes_predicts_options_and_answers_as_the_python_api(tiny_model, app, synth_data):
    """serve is built from PredictOptions: with only and tta it answers with the garments
    Segmenter gives for the same options (serve's defaults: auto-orient, instances)."""
    from fashionseg.use.predict.segmenter import Segmenter
    from fashionseg.use.serve.app import SERVE_OPTIONS

    data, name = _photo_bytes(synth_data)
    found = TestClient(app).post("/api/segment", files={"file": (name, data)}).json()
    keep = found["garments"][0]["name"]
    only = create_app(str(tiny_model), SERVE_OPTIONS, device="cpu", only=keep, tta="flip")
    assert only.state.batcher.tta == "flip"
    doc = TestClient(only).post("/api/segment", files={"file": (name, data)}).json()
    assert [g["name"] for g in doc["garments"]] == [keep]
    api = Segmenter(tiny_model, options=SERVE_OPTIONS, device="cpu", only=keep, tta="flip")
    expected = api(data).to_json()
    assert [g["rle"] for g in doc["garments"]] == [g["rle"] for g in expected["garments"]]
    assert [i["rle"] for i in doc["instances"]] == [i["rle"] for i in expected["instances"]]


def test_serve_command_refuses_an_unknown_garment_in_one_line():
    import subprocess
    import sys
    from pathlib import Path

    fashionseg = str(Path(sys.executable).with_name("fashionseg"))
    done = subprocess.run(
        [fashionseg, "serve", "--only", "dres", "--port", "1"], capture_output=True, text=True
    )
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert "unknown garment 'dres'" in lines[0] and "'dress'" in lines[0]
