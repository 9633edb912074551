"""A checkpoint turned into a function: photos in, label maps at each photo's own size out."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from fashionseg.checkpoint import CheckpointError, load_checkpoint
from fashionseg.data.compose import fit
from fashionseg.data.images import photo_canvas, read_photo
from fashionseg.errors import ConfigError
from fashionseg.inference.fragments import DEFAULT_MIN_AREA, lookalike_values, merge_fragments
from fashionseg.inference.instances import (
    SHOWN_SCORE,
    Detection,
    component_instances,
    model_detections,
    paint,
)
from fashionseg.inference.label_kernel import bilinear_argmax
from fashionseg.inference.labels import upsample_argmax
from fashionseg.inference.loading import _onnx_backend, _torch_backend
from fashionseg.inference.uncertainty import score_uncertainty, semantic_uncertainty
from fashionseg.machine import resolve_device
from fashionseg.sizes import parse_size


def make_canvas(
    source: Image.Image | Path | bytes,
    size: tuple[int, int],
    keep_aspect: bool,
    auto_orient: bool = False,
) -> np.ndarray:
    """A photo as the input canvas (H, W, 3) uint8 of a model of input ``size`` (H, W):
    ``data.images.photo_canvas``, the door the training cache and ``evaluate`` use too.

    Raises:
        DataError: not a photo, or a file that cannot be decoded.
    """
    return photo_canvas(source, *size, keep_aspect, auto_orient)


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


@dataclass(frozen=True)
class PhotoResult:
    """What a model says of one photo, at the photo's size: its label map (H, W) uint8
    (ClassId + 1, 0 = background) and its instances (None where they were not asked for)."""

    labels: np.ndarray
    detections: list[Detection] | None = None


class Predictor:
    """A checkpoint (``.pt``) or an exported ``.onnx`` model that segments photos.

    Everything needed (architecture, input size, categories) comes from the file itself.

    Args:
        path: checkpoint or ONNX file.
        device: "auto", "cpu", "cuda" (PyTorch models; ONNX picks its own provider).
        threads: ONNX Runtime intra-op threads (None: its default).
        min_area: garment pieces under this share of the photo join their surroundings in
            every label map (``inference/fragments.py``; 0: the model's argmax as it is).
        min_score: an instance model's detections below this score are not listed (its
            label maps show those of at least ``SHOWN_SCORE``).
    """

    def __init__(
        self,
        path: str | Path,
        device: str = "auto",
        threads: int | None = None,
        min_area: float = DEFAULT_MIN_AREA,
        min_score: float = SHOWN_SCORE,
    ):
        self.min_score = float(min_score)
        if not 0 <= min_area < 1:
            raise ConfigError(f"--min-area {min_area}: a share of the photo, from 0 to below 1")
        self.min_area = float(min_area)
        path = Path(path)
        self.device = torch.device(resolve_device(device))
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
        self.lookalikes = lookalike_values(self.categories.names())
        self.task = config.get("task", "semantic")
        self.attribute_ids = getattr(self.model, "attribute_ids", [])

    @torch.no_grad()
    def logits(self, images: np.ndarray, tta: str | None = None) -> torch.Tensor:
        """Model input canvases (N, H, W, 3) uint8 -> logits (N, C, H, W) float.

        ``tta="flip"`` averages the logits of the canvases and of their mirror images.
        """
        x = torch.from_numpy(np.ascontiguousarray(images))
        if self.backend == "pytorch":
            x = x.to(self.device)
        if self.task == "instances":
            if tta:
                raise ConfigError("test-time augmentation is for semantic models; leave out --tta")
            return self.model(x)  # one detection dict per canvas
        out = self.model(x).float()
        if tta == "flip":
            out = (out + self.model(x.flip(2).contiguous()).float().flip(3)) / 2
        elif tta:
            raise ConfigError(f"unknown test-time augmentation {tta!r} (choose: flip)")
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
        parts = np.split(flat, ends[:-1])
        return [self.clean(part.reshape(size)) for part, size in zip(parts, sizes)]

    def labels(self, logits, height: int, width: int) -> np.ndarray:
        """One canvas's output -> label map (height, width) uint8 for the photo: a semantic
        model's logits (C, h, w) with the fragment rule applied (``min_area``); an instance
        model's detection dict painted (``inference/instances.paint``)."""
        if self.task == "instances":
            return paint(self._detections(logits, height, width), height, width, SHOWN_SCORE)
        new_h, new_w, top, left = fit(height, width, *self.size, self.keep_aspect)
        if logits.device.type == "cpu" and logits.shape[0] <= 256:
            # One fused pass, no (C, H, W) intermediate, without the GIL (label_kernel.py).
            labels = bilinear_argmax(
                logits.detach().numpy(), top, left, new_h, new_w, height, width
            )
        else:
            crop = logits[:, top : top + new_h, left : left + new_w]
            labels = upsample_argmax(crop, height, width).to(torch.uint8).cpu().numpy()
        return self.clean(labels)

    def result(
        self,
        logits,
        height: int,
        width: int,
        instances: bool = False,
        labels: np.ndarray | None = None,
    ) -> PhotoResult:
        """One canvas's output -> the photo's :class:`PhotoResult`: its label map (``labels``
        when already made, by :meth:`device_labels`) and, with ``instances``, its instances:
        a semantic model's connected components scored by their class's mean probability, an
        instance model's own detections (those of at least ``min_score``)."""
        if self.task == "instances":
            found = self._detections(logits, height, width)
            if labels is None:
                labels = paint(found, height, width, SHOWN_SCORE)
            listed = [d for d in found if d.score >= self.min_score] if instances else None
            return PhotoResult(labels, listed)
        if labels is None:
            labels = self.labels(logits, height, width)
        if not instances:
            return PhotoResult(labels)
        new_h, new_w, top, left = fit(height, width, *self.size, self.keep_aspect)
        probabilities = torch.softmax(logits.float(), dim=0)
        found = component_instances(labels, probabilities, (top, left, new_h, new_w), self.min_area)
        return PhotoResult(labels, found)

    @property
    def lists_instances(self) -> bool:
        """Whether every output lists instances (an instance model's are what it makes)."""
        return self.task == "instances"

    def uncertainty(self, output, height: int, width: int) -> tuple[float, frozenset[int]]:
        """How unsure the model is of one photo (0 sure .. 1 unsure) and the label values it
        sees there (``inference/uncertainty.py``): a semantic model's margin over the pixels
        it calls garment (padding cropped), an instance model's detection scores."""
        if self.task == "instances":
            return score_uncertainty(self.result(output, height, width, instances=True).detections)
        new_h, new_w, top, left = fit(height, width, *self.size, self.keep_aspect)
        return semantic_uncertainty(output[:, top : top + new_h, left : left + new_w])

    def _detections(self, output: dict, height: int, width: int) -> list[Detection]:
        """An instance model's detection dict -> its detections at the photo's size, down to
        the lower of ``min_score`` and what label maps show."""
        new_h, new_w, top, left = fit(height, width, *self.size, self.keep_aspect)
        box = (top, left, new_h, new_w)
        return model_detections(
            output, box, height, width, self.attribute_ids, min(self.min_score, SHOWN_SCORE)
        )

    def clean(self, labels: np.ndarray) -> np.ndarray:
        """The fragment and look-alike rule at this model's ``min_area`` (``fragments.py``)."""
        return merge_fragments(labels, self.min_area, self.lookalikes)
