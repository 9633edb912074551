"""FastAPI app: ``GET /`` (upload page), ``POST /api/segment``, ``GET /health``, ``/docs``.

Each request decodes and summarises its photo on Starlette's thread pool; the forward pass
goes through the :class:`Batcher`, so concurrent requests are batched together.
"""

from __future__ import annotations

import asyncio
import base64
import io
from importlib import resources

import numpy as np
from fastapi import FastAPI, File, HTTPException, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse
from PIL import Image
from starlette.concurrency import run_in_threadpool

from ..data.images import DataError
from ..inference import Predictor
from ..predict.run import PixelLimitError, describe, read_photo
from ..report.colors import overlay
from .batcher import Batcher

# The overlay returned to the page is at most this many pixels on its longest side.
OVERLAY_MAX_SIDE = 1600
# Multipart framing around the file; a body larger than limit + this is refused unread.
FORM_OVERHEAD = 64 * 1024


class BodyLimit:
    """ASGI middleware: 413 for a declared Content-Length over the limit, before reading it."""

    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            length = dict(scope.get("headers", [])).get(b"content-length")
            if length is not None and length.isdigit() and int(length) > self.max_bytes:
                response = JSONResponse(
                    {"detail": f"upload over the limit of {self.max_bytes} bytes"}, 413
                )
                return await response(scope, receive, send)
        return await self.app(scope, receive, send)


def _data_url(rgb: np.ndarray) -> str:
    im = Image.fromarray(rgb)
    if max(im.size) > OVERLAY_MAX_SIDE:
        im.thumbnail((OVERLAY_MAX_SIDE, OVERLAY_MAX_SIDE), Image.BILINEAR)
    buf = io.BytesIO()
    im.save(buf, format="PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def create_app(
    model: str,
    device: str = "auto",
    max_bytes: int = 10_000_000,
    max_pixels: int = 40_000_000,
    max_batch: int = 8,
    auto_orient: bool = True,
) -> FastAPI:
    """Build the app around one model file (``.pt`` or ``.onnx``).

    Args:
        model: checkpoint or exported model.
        device: "auto", "cpu" or "cuda".
        max_bytes: uploads above this get 413.
        max_pixels: photos above this many pixels get 422.
        max_batch: requests batched into one forward pass.
        auto_orient: apply EXIF orientation to uploads (phone photos arrive rotated).
    """
    predictor = Predictor(model, device)
    batcher = Batcher(predictor, max_batch=max_batch)
    names = predictor.categories.names()
    app = FastAPI(
        title="fashionseg",
        description="Garment segmentation of fashion photos: upload a photo, get the garments.",
        version="0.1.0",
    )

    def work_before(data: bytes):
        photo = read_photo(data, auto_orient=auto_orient, max_pixels=max_pixels)
        return photo, predictor.canvas(photo)

    def work_after(photo: Image.Image, logits, filename: str) -> dict:
        labels = predictor.labels(logits, photo.height, photo.width)
        doc = describe(predictor, photo, labels, filename)
        doc["overlay"] = _data_url(overlay(np.asarray(photo), labels, len(names)))
        return doc

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page() -> str:
        return resources.files("fashionseg.serve").joinpath("page.html").read_text()

    @app.get("/health")
    def health() -> dict:
        return {
            "status": "ok",
            "model": predictor.name,
            "backend": predictor.backend,
            "device": str(predictor.device),
            "categories": len(names) - 1,
            "input_size": list(predictor.size),
            "batches_run": batcher.batches,
        }

    @app.post("/api/segment")
    async def segment(file: UploadFile = File(..., description="a photo (JPEG, PNG, WebP)")):
        """Segment one photo: predict's JSON document plus ``overlay`` as a PNG data URL."""
        data = await file.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise HTTPException(413, f"upload over the limit of {max_bytes} bytes")
        try:
            photo, canvas = await run_in_threadpool(work_before, data)
        except PixelLimitError as e:
            raise HTTPException(422, str(e)) from None
        except DataError as e:
            raise HTTPException(415, str(e)) from None
        logits = await asyncio.wrap_future(batcher.submit(canvas))
        return await run_in_threadpool(work_after, photo, logits, file.filename or "upload")

    app.add_middleware(BodyLimit, max_bytes=max_bytes + FORM_OVERHEAD)
    app.state.predictor = predictor
    app.state.batcher = batcher
    return app
