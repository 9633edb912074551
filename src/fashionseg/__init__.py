"""fashionseg: fine-grained segmentation of fashion photos.

>>> import fashionseg
>>> seg = fashionseg.Segmenter()("photo.jpg")  # doctest: +SKIP
>>> [g.name for g in seg.garments]  # doctest: +SKIP

The names below are imported when first used, so ``import fashionseg`` (and the command line's
start-up) does not load torch.
"""

from __future__ import annotations

from fashionseg.errors import FashionsegError
from fashionseg.version import __version__

__all__ = ["Color", "FashionsegError", "Garment", "Segmentation", "Segmenter", "__version__", "ray"]


def __getattr__(name: str):
    # Imported on first use, so that ``import fashionseg`` stays light.
    if name == "Segmenter":
        from fashionseg.use.predict.segmenter import Segmenter

        return Segmenter
    if name in ("Segmentation", "Garment", "Color"):
        from fashionseg.use.predict import segmentation

        return getattr(segmentation, name)
    if name == "ray":  # fashionseg.ray.segment(...): predict on Ray Data
        from fashionseg.use.predict import ray_data

        return ray_data
    raise AttributeError(f"module 'fashionseg' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
