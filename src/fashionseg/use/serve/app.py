"""FastAPI app: ``GET /`` (upload page), ``POST /api/segment``, ``GET /health``, ``/docs``.

Each request decodes and summarises its photo on Starlette's thread pool; the forward pass
goes through the :class:`Batcher`, so concurrent requests are batched together.
"""

from __future__ import annotations

import asyncio
import base64
import io
from contextlib import contextmanager
from importlib import resources

import numpy as np
from fastapi import FastAPI, File, HTTPException, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse
from PIL import Image
from starlette.concurrency import run_in_threadpool
from starlette.middleware.trustedhost import TrustedHostMiddleware

from fashionseg.data.images import DataError, PixelLimitError, photo_pixels, read_photo
from fashionseg.inference.predictor import Predictor
from fashionseg.use.predict.options import PredictOptions
from fashionseg.use.predict.segmentation import Products, Segmentation
from fashionseg.use.render.colors import overlay
from fashionseg.use.serve import limits, memory
from fashionseg.use.serve.batcher import Batcher
from fashionseg.version import __version__

# The overlay returned to the page is at most this many pixels on its longest side.
OVERLAY_MAX_SIDE = 1600
# Multipart framing around the file; a body larger than limit + this is refused unread.
FORM_OVERHEAD = 64 * 1024
CLOSE = (b"connection", b"close")


class BodyLimit:
    """ASGI middleware: 413 for a body over the limit.

    A declared Content-Length over the limit is refused before reading; a body without one
    (chunked) is counted as it arrives, and the moment it passes the limit the client gets 413
    and the app sees a disconnect, so nothing past the limit is read or spooled to disk.
    """

    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        # "Connection: close": the server stops reading the body and drops the connection
        # after the answer (keeping it open would mean reading the rest of the body first).
        too_large = JSONResponse(
            {"detail": f"upload over the limit of {self.max_bytes} bytes"},
            413,
            headers={"connection": "close"},
        )
        headers = dict(scope.get("headers", []))
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            return await too_large(scope, receive, send)
        received = 0
        answered = False
        unread = length not in (None, b"0") or b"transfer-encoding" in headers

        async def counted_receive():
            nonlocal received, answered, unread
            message = await receive()
            if message["type"] == "http.request" and not answered:
                received += len(message.get("body", b""))
                unread = message.get("more_body", False)
                if received > self.max_bytes:
                    answered = True
                    await too_large(scope, receive, send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message):
            if answered:  # after the 413, whatever the app answers is dropped
                return
            if message["type"] == "http.response.start" and unread:
                # Answered before the body was read (a refused Host, an unknown route): close
                # the connection, or the server would read the rest of the body to keep it.
                message = {**message, "headers": [*message.get("headers", []), CLOSE]}
            await send(message)

        return await self.app(scope, counted_receive, guarded_send)


class PixelBudget:
    """At most ``capacity`` photo pixels decoded and summarised at once, across requests.

    A request holds its photo's pixel count while it decodes, runs and summarises; others wait
    their turn. One photo larger than the whole budget still runs, alone.
    """

    def __init__(self, capacity: int):
        self.capacity = capacity
        self.used = 0
        self.peak = 0
        self._cond = asyncio.Condition()

    async def acquire(self, pixels: int) -> int:
        pixels = min(pixels, self.capacity)
        async with self._cond:
            await self._cond.wait_for(lambda: self.used + pixels <= self.capacity)
            self.used += pixels
            self.peak = max(self.peak, self.used)
        return pixels

    async def release(self, pixels: int) -> None:
        async with self._cond:
            self.used -= pixels
            self._cond.notify_all()
            idle = self.used == 0
        if idle:  # no request in flight: the burst's freed memory goes back (memory.py)
            await run_in_threadpool(memory.trim)


def _overlay_url(photo: Image.Image, labels: np.ndarray, num_classes: int) -> str:
    """The overlay as a PNG data URL, at most ``OVERLAY_MAX_SIDE`` a side. A large photo is
    shrunk before blending (labels by nearest neighbour), so a 36 MP upload blends 2.5 MP."""
    scale = OVERLAY_MAX_SIDE / max(photo.size)
    if scale < 1:
        size = (max(1, round(photo.width * scale)), max(1, round(photo.height * scale)))
        photo = photo.resize(size, Image.BILINEAR)
        labels = np.asarray(Image.fromarray(labels).resize(size, Image.NEAREST))
    im = Image.fromarray(overlay(np.asarray(photo), labels, num_classes))
    buf = io.BytesIO()
    im.save(buf, format="PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _health(predictor: Predictor, batcher: Batcher) -> dict:
    return {
        "status": "ok",
        "model": predictor.name,
        "backend": predictor.backend,
        "device": str(predictor.device),
        "categories": predictor.categories.num_classes - 1,
        "input_size": list(predictor.size),
        "batches_run": batcher.batches,
    }


@contextmanager
def _status_for_bad_photos():
    """422 for photos over the pixel limit, 415 for files that are not a supported photo."""
    try:
        yield
    except PixelLimitError as e:
        raise HTTPException(422, str(e)) from None
    except DataError as e:
        raise HTTPException(415, str(e)) from None


# serve's own defaults: uploads turned upright (phone photos arrive rotated), and the
# garments with their instances (a semantic model's components).
SERVE_OPTIONS = PredictOptions(auto_orient=True, instances=True, batch_size=limits.MAX_BATCH)


def _guard(app: FastAPI, max_bytes: int, allowed_hosts: list[str] | None) -> None:
    """The checks before any route: the Host header when limited, and the body's size.

    The body limit is added last, so it is the outermost layer and also closes the connection
    behind the Host check's early 400.
    """
    if allowed_hosts is not None:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts)
    app.add_middleware(BodyLimit, max_bytes=max_bytes + FORM_OVERHEAD)


def create_app(
    model: str,
    options: PredictOptions | None = None,
    *,
    max_bytes: int = limits.MAX_BYTES,
    max_pixels: int = limits.MAX_PIXELS,
    pixel_budget: int = 0,
    allowed_hosts: list[str] | None = None,
    **changes,
) -> FastAPI:
    """Build the app around one model file (``.pt`` or ``.onnx``).

    Args:
        model: checkpoint or exported model.
        options: predict's options (default: ``SERVE_OPTIONS``: auto-orient and instances
            on); ``batch_size`` is the most requests batched into one forward pass; the
            options about files (cut-outs, skip-existing, overwrite) do not apply.
        max_bytes: uploads above this get 413.
        max_pixels: photos above this many pixels get 422.
        pixel_budget: photo pixels in decoding and summarising at once (0: ``max_pixels``),
            which bounds the server's memory under a burst of large uploads.
        allowed_hosts: the ``Host`` headers answered (others get 400), so that a web page
            whose name is rebound to this machine cannot use the server; None: any.
        **changes: options by name (``device="cpu"``, ``tta="flip"``, ``only="dress"``).
    """
    o = PredictOptions.of(options or SERVE_OPTIONS, **changes)
    predictor = Predictor(model, o.device, min_area=o.min_area)
    products = Products.of(o, predictor)
    batcher = Batcher(predictor, max_batch=o.batch_size, tta=o.tta)
    budget = PixelBudget(pixel_budget or max_pixels)
    names = predictor.categories.names()
    app = FastAPI(
        title="fashionseg",
        description="Garment segmentation of fashion photos: upload a photo, get the garments.",
        version=__version__,
    )

    def work_before(data: bytes):
        photo = read_photo(data, auto_orient=o.auto_orient, max_pixels=max_pixels)
        return photo, predictor.canvas(data, o.auto_orient)

    def work_after(photo: Image.Image, logits, filename: str) -> dict:
        seg = Segmentation.from_model(predictor, photo, logits, filename, products)
        doc = seg.to_json()
        doc["overlay"] = _overlay_url(photo, seg.label_map, len(names))
        return doc

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page() -> str:
        return resources.files("fashionseg.use.serve").joinpath("page.html").read_text()

    @app.get("/health")
    def health() -> dict:
        return _health(predictor, batcher)

    @app.post("/api/segment")
    async def segment(
        file: UploadFile = File(..., description="a photo (JPEG, PNG, WebP, BMP or TIFF)"),
    ):
        """Segment one photo: predict's JSON document plus ``overlay`` as a PNG data URL."""
        data = await file.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise HTTPException(413, f"upload over the limit of {max_bytes} bytes")
        with _status_for_bad_photos():
            # Nothing that parses a request runs on the event loop: /health and the other
            # requests never wait for one upload's header.
            pixels = await run_in_threadpool(photo_pixels, data, max_pixels)
        held = await budget.acquire(pixels)
        try:
            with _status_for_bad_photos():
                photo, canvas = await run_in_threadpool(work_before, data)
            logits = await asyncio.wrap_future(batcher.submit(canvas))
            return await run_in_threadpool(work_after, photo, logits, file.filename or "upload")
        finally:
            await budget.release(held)

    _guard(app, max_bytes, allowed_hosts)
    app.state.predictor, app.state.batcher, app.state.budget = predictor, batcher, budget
    return app
