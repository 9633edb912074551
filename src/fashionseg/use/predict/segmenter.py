"""The Python front door: ``fashionseg.Segmenter()(photo)``.

A :class:`Segmenter` holds one model (the bundled one unless told otherwise) and turns photos
into :class:`~fashionseg.use.predict.segmentation.Segmentation` objects by the path
``predict`` takes: the same canvases, batches, labelling and products, so its label maps equal
predict's PNGs byte for byte.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import overload

import numpy as np
from PIL import Image

from fashionseg.data.images import memory_photo
from fashionseg.errors import UsageError
from fashionseg.inference.predictor import Predictor
from fashionseg.use.predict.options import PredictOptions
from fashionseg.use.predict.segmentation import Products, Segmentation

# What one photo may be: a file, its encoded bytes, a PIL image, or an (H, W, 3) uint8 array.
PhotoLike = str | Path | bytes | Image.Image | np.ndarray


class Segmenter:
    """A garment segmenter around one model file.

    Args:
        model: a ``.pt`` checkpoint or an exported ``.onnx`` model; None for the bundled model.
        device: "auto", "cpu" or "cuda" (PyTorch checkpoints; ONNX runs on the CPU); None:
            the options' (``"auto"``).
        options: predict's options (:class:`~fashionseg.use.predict.options.PredictOptions`);
            those that concern files (cut-outs, skip-existing, overwrite) do not apply here.
        threads: ONNX Runtime threads (None: its default).
        **changes: options by name, as predict's flags: ``tta="flip"``, ``only="dress,skirt"``,
            ``groups=True``, ``auto_orient=True``, ``batch_size=8``, ``min_area=0.0005``,
            ``instances=True``.

    Raises:
        FashionsegError: a missing or unreadable model file, an unknown garment in ``only``.
        TypeError: a name that is not an option.
    """

    def __init__(
        self,
        model: str | Path | None = None,
        device: str | None = None,
        *,
        options: PredictOptions | None = None,
        threads: int | None = None,
        **changes,
    ):
        o = PredictOptions.of(options, **changes)
        if device is not None:
            o = PredictOptions.of(o, device=device)
        if model is None:
            from fashionseg.bundled import bundled_model

            model = bundled_model()
        self.predictor = Predictor(model, o.device, threads, min_area=o.min_area)
        self.options = o
        self.products = Products.of(o, self.predictor)
        self.tta = o.tta
        self.auto_orient = o.auto_orient
        self.batch_size = max(1, int(o.batch_size))

    @property
    def categories(self) -> list[str]:
        """The model's category names (ClassId order)."""
        return self.predictor.categories.names()[1:]

    @overload
    def __call__(self, photos: PhotoLike) -> Segmentation: ...

    @overload
    def __call__(self, photos: Sequence[PhotoLike]) -> list[Segmentation]: ...

    def __call__(self, photos):
        """Segment one photo (a Segmentation back) or a list of them (a list back, batched).

        Raises:
            DataError: a photo that cannot be read, named in the message.
        """
        if isinstance(photos, (str, Path, bytes, Image.Image, np.ndarray)):
            return self.run([self.read(photos)])[0]
        if not isinstance(photos, Sequence):
            raise UsageError(
                f"Segmenter takes a path, a PIL image, an (H, W, 3) uint8 array or a list of "
                f"them, not {type(photos).__name__}"
            )
        out: list[Segmentation] = []
        for start in range(0, len(photos), self.batch_size):
            chunk = photos[start : start + self.batch_size]
            out += self.run([self.read(p, start + k) for k, p in enumerate(chunk)])
        return out

    def run(self, read: list[tuple[Image.Image, np.ndarray, str]]) -> list[Segmentation]:
        """Photos already read (:meth:`read`'s triples) through the model as one batch."""
        logits = self.predictor.logits(np.stack([c for _, c, _ in read]), tta=self.tta)
        results = []
        for (photo, _, name), lg in zip(read, logits):
            results.append(Segmentation.from_model(self.predictor, photo, lg, name, self.products))
        return results

    def read(
        self, photo: PhotoLike, k: int = 0, name: str | None = None
    ) -> tuple[Image.Image, np.ndarray, str]:
        """(the photo RGB, its model canvas, its name); a file (or its bytes) exactly as
        predict reads it. ``k`` numbers an in-memory photo in messages.

        Raises:
            DataError: not a photo, or a file that cannot be decoded.
        """
        if isinstance(photo, (str, Path, bytes)):
            source = photo if isinstance(photo, bytes) else Path(photo)
            image, canvas = self.predictor.photo_and_canvas(source, self.auto_orient)
            return image, canvas, name or (f"photo {k}" if isinstance(photo, bytes) else str(photo))
        name = name or getattr(photo, "filename", "") or f"photo {k}"
        rgb = memory_photo(photo, str(name))
        return rgb, self.predictor.canvas(rgb), str(name)
