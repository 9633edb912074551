"""A checkpoint turned into a function: photos in, label maps at each photo's own size out."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ..checkpoint import CheckpointError, load_checkpoint
from ..data.categories import CategoryTable
from ..data.compose import fit
from ..data.images import DataError, decode_canvas, read_photo
from ..data.sizes import parse_size
from ..data.transforms import to_float
from ..models import build_model
from .label_kernel import bilinear_argmax


def channel_argmax(scores: torch.Tensor) -> torch.Tensor:
    """``scores.argmax(0)`` for (C, H, W), as a running maximum over the channels.

    On the CPU, ``argmax`` over the first of three dimensions walks memory with a stride of
    H x W and took 35 ms for a 275x413 photo of 47 classes; C passes over contiguous planes
    take 13 ms. Ties go to the first channel, as with ``argmax``.

    Returns:
        int64 (H, W).
    """
    if scores.device.type != "cpu":
        # On a GPU one argmax kernel beats the loop's ~140 launches, each of which takes
        # Python's GIL again while predict's other threads want it.
        return scores.argmax(0)
    best = scores[0].clone()
    index = torch.zeros(best.shape, dtype=torch.int64, device=scores.device)
    for c in range(1, scores.shape[0]):
        index.masked_fill_(scores[c] > best, c)
        torch.maximum(best, scores[c], out=best)
    return index


def upsample_argmax(
    logits: torch.Tensor, height: int, width: int, max_elements: int = 1 << 25
) -> torch.Tensor:
    """Bilinear-upsample logits (C, h, w) to (height, width) and take the argmax.

    Large photos are done in bands of rows so memory stays bounded; each band samples the
    same positions ``F.interpolate(..., align_corners=False)`` would.

    Returns:
        int64 labels (height, width).
    """
    c, h, w = logits.shape
    logits = logits.float()[None]
    if c * height * width <= max_elements:
        return channel_argmax(
            F.interpolate(logits, (height, width), mode="bilinear", align_corners=False)[0]
        )
    band = max(1, max_elements // (c * width))
    xs = (torch.arange(width, device=logits.device) + 0.5) / width * 2 - 1
    # interpolate clamps source coordinates at the border; so does padding_mode="border".
    xs = xs * (w / max(w, 1))
    out = torch.empty(height, width, dtype=torch.int64, device=logits.device)
    for y0 in range(0, height, band):
        y1 = min(height, y0 + band)
        ys = (torch.arange(y0, y1, device=logits.device) + 0.5) / height * 2 - 1
        grid = torch.stack(torch.meshgrid(ys, xs, indexing="ij")[::-1], dim=-1)[None]
        sampled = F.grid_sample(
            logits, grid, mode="bilinear", padding_mode="border", align_corners=False
        )
        out[y0:y1] = channel_argmax(sampled[0])
    return out


class ImageModel(torch.nn.Module):
    """A segmentation model that takes photos as they come: uint8 (N, H, W, 3) -> logits.

    The ImageNet normalisation is part of the module, so an exported ONNX file needs no
    preprocessing knowledge from whoever runs it.
    """

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 (N, H, W, 3) -> float logits (N, C, H, W)."""
        return self.model(to_float(images))


def _torch_backend(state: dict, path: Path):
    try:
        config = state["config"]
        categories = CategoryTable.from_json(state["categories"])
        model = build_model(
            config["model"],
            categories.num_classes,
            width=config["width"],
            encoder=config.get("encoder", ""),
        )
        model.load_state_dict(state["model"])
    except (KeyError, RuntimeError, ValueError, TypeError) as e:
        raise CheckpointError(
            f"{path}: checkpoint does not match its model ({str(e).splitlines()[0][:80]})"
        ) from None
    return config, categories, ImageModel(model)


class _OnnxRunner:
    """ONNX Runtime session with the call signature of :class:`ImageModel`."""

    def __init__(self, path: Path, threads: int | None):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
        # Idle ONNX Runtime threads spin by default, taking the cores that decode and write
        # beside the model (predict, serve); sleeping instead costs the model little.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self.session = ort.InferenceSession(
                str(path), opts, providers=[p for p in ort.get_available_providers() if p in _ORT]
            )
        except Exception as e:  # onnxruntime's own error types (Fail, InvalidGraph, ...)
            reason = (str(e).splitlines() or [type(e).__name__])[0][:120]
            raise CheckpointError(
                f"{path}: ONNX Runtime cannot run this model ({reason})"
            ) from None
        self.input = self.session.get_inputs()[0].name

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        out = self.session.run(None, {self.input: images.cpu().numpy()})[0]
        return torch.from_numpy(out)


# Providers tried in this order; CUDA is used only where onnxruntime-gpu provides it.
_ORT = ("CUDAExecutionProvider", "CPUExecutionProvider")
ONNX_META = "fashionseg"


def _onnx_backend(path: Path, threads: int | None):
    try:
        import onnx
    except ImportError:
        raise CheckpointError(
            f"{path}: reading ONNX models needs the deploy extra (pip install 'fashionseg[deploy]')"
        ) from None
    try:
        proto = onnx.load(str(path), load_external_data=False)
        meta = {p.key: p.value for p in proto.metadata_props}
        info = json.loads(meta[ONNX_META])
        config, categories = info["config"], CategoryTable.from_json(info["categories"])
    except (KeyError, ValueError, TypeError):
        raise CheckpointError(f"{path}: not an ONNX model exported by fashionseg export") from None
    except Exception as e:  # onnx raises its own DecodeError for files that are not ONNX
        raise CheckpointError(f"{path}: not a readable ONNX file ({type(e).__name__})") from None
    return config, categories, _OnnxRunner(path, threads)


def make_canvas(
    source: Image.Image | Path | bytes,
    size: tuple[int, int],
    keep_aspect: bool,
    auto_orient: bool = False,
) -> np.ndarray:
    """A photo as the input canvas (H, W, 3) uint8 of a model of input ``size`` (H, W), through
    the same ``decode_canvas`` as the training cache and ``evaluate``.

    Pass the file (a path or its bytes) rather than a decoded image: a JPEG is then decoded at
    the reduced scale the cache uses, so predictions match evaluation.

    Raises:
        DataError: a file that cannot be decoded.
    """
    if isinstance(source, Image.Image):
        return decode_canvas(source, *size, keep_aspect, auto_orient=auto_orient)
    name = source.name if isinstance(source, Path) else "upload"
    try:
        with Image.open(source if isinstance(source, Path) else io.BytesIO(source)) as im:
            return decode_canvas(im, *size, keep_aspect, auto_orient=auto_orient)
    except (OSError, SyntaxError, ValueError) as e:
        raise DataError(f"{name}: unreadable or truncated image ({str(e)[:80]})") from None


def photo_and_canvas(
    path: Path, size: tuple[int, int], keep_aspect: bool, auto_orient: bool = False
) -> tuple[Image.Image, np.ndarray]:
    """A photo decoded to RGB (PIL) and its :func:`make_canvas` from the file, decoding the
    file once where the two can share it.

    They can unless the canvas would take a JPEG at reduced DCT scale, which Pillow does only
    from twice the resized size (and never with ``auto_orient``): CCP's photos are decoded
    once, a 12 MP photo twice (its canvas then costs a fraction of a decode).

    Raises:
        DataError: a file that cannot be decoded.
    """
    photo = read_photo(path, auto_orient)
    new_h, new_w, _, _ = fit(photo.height, photo.width, *size, keep_aspect)
    if auto_orient or min(photo.width // new_w, photo.height // new_h) < 2:
        return photo, make_canvas(photo, size, keep_aspect)  # already turned upright
    return photo, make_canvas(path, size, keep_aspect)


class Predictor:
    """A checkpoint (``.pt``) or an exported ``.onnx`` model that segments photos.

    Everything needed (architecture, input size, categories) comes from the file itself.

    Args:
        path: checkpoint or ONNX file.
        device: "auto", "cpu", "cuda" (PyTorch models; ONNX picks its own provider).
        threads: ONNX Runtime intra-op threads (None: its default).
    """

    def __init__(self, path: str | Path, device: str = "auto", threads: int | None = None):
        path = Path(path)
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = torch.device(device)
        if path.suffix.lower() == ".onnx":
            if not path.is_file():
                raise CheckpointError(f"{path}: no such model file")
            config, self.categories, self.model = _onnx_backend(path, threads)
            self.device = torch.device("cpu")
            self.backend = "onnxruntime"
        else:
            config, self.categories, self.model = _torch_backend(load_checkpoint(path), path)
            self.model.to(self.device).eval()
            self.backend = "pytorch"
        try:
            self.size = parse_size(config["size"])
            self.keep_aspect = bool(config.get("keep_aspect", False))
            self.name = f"{config['model']} ({path.name})"
        except (KeyError, TypeError, ValueError) as e:
            what = f"no {e}" if isinstance(e, KeyError) else str(e)
            raise CheckpointError(f"{path}: the model's config is incomplete ({what})") from None
        self.config = config

    @torch.no_grad()
    def logits(self, images: np.ndarray, tta: str | None = None) -> torch.Tensor:
        """Model input canvases (N, H, W, 3) uint8 -> logits (N, C, H, W) float.

        ``tta="flip"`` averages the logits of the canvases and of their mirror images.
        """
        x = torch.from_numpy(np.ascontiguousarray(images))
        if self.backend == "pytorch":
            x = x.to(self.device)
        out = self.model(x).float()
        if tta == "flip":
            out = (out + self.model(x.flip(2).contiguous()).float().flip(3)) / 2
        elif tta:
            raise ValueError(f"unknown test-time augmentation {tta!r} (choose: flip)")
        return out.to(self.device)

    def canvas(self, source: Image.Image | Path | bytes, auto_orient: bool = False) -> np.ndarray:
        """A photo as the model's input canvas (H, W, 3) uint8: :func:`make_canvas` at this
        model's input size.

        Raises:
            DataError: a file that cannot be decoded.
        """
        return make_canvas(source, self.size, self.keep_aspect, auto_orient)

    def photo_and_canvas(self, path: Path, auto_orient: bool = False):
        """The photo decoded to RGB (PIL) and its input canvas: :func:`photo_and_canvas` at
        this model's input size."""
        return photo_and_canvas(path, self.size, self.keep_aspect, auto_orient)

    def device_labels(self, logits: torch.Tensor, sizes: list[tuple[int, int]]) -> list[np.ndarray]:
        """Label maps of a batch on a GPU: logits (N, C, h, w) on the device and the photos'
        (height, width) -> N label maps uint8, brought to the CPU in one copy.

        One synchronisation per batch instead of one per photo from the writer threads: on a
        16-core machine each wait handed Python's GIL to busy threads and waited to get it back.
        """
        maps = []
        for lg, (height, width) in zip(logits, sizes):
            new_h, new_w, top, left = fit(height, width, *self.size, self.keep_aspect)
            crop = lg[:, top : top + new_h, left : left + new_w]
            maps.append(upsample_argmax(crop, height, width).to(torch.uint8).flatten())
        flat = torch.cat(maps).cpu().numpy()
        ends = np.cumsum([h * w for h, w in sizes])
        return [part.reshape(size) for part, size in zip(np.split(flat, ends[:-1]), sizes)]

    def labels(self, logits: torch.Tensor, height: int, width: int) -> np.ndarray:
        """Logits of one canvas (C, h, w) -> label map (height, width) uint8 for the photo."""
        new_h, new_w, top, left = fit(height, width, *self.size, self.keep_aspect)
        if logits.device.type == "cpu" and logits.shape[0] <= 256:
            # One fused pass, no (C, H, W) intermediate, without the GIL (label_kernel.py).
            return bilinear_argmax(logits.detach().numpy(), top, left, new_h, new_w, height, width)
        crop = logits[:, top : top + new_h, left : left + new_w]
        return upsample_argmax(crop, height, width).to(torch.uint8).cpu().numpy()
