"""Label maps from outside (a converted source's PNGs and MATLAB arrays) at the door: a 2-D
array of whole, non-negative label values below the source's label count, as 8-bit values.

A 1-bit PNG is labels 0 and 1; 16-bit and float arrays are accepted when every value is a
whole number in range. Anything else (a label of -1, 2.5, an RGB picture) is refused by name
instead of being read as background or crashing further on.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fashionseg.data.schema.door import SchemaError


def label_values(values: np.ndarray, labels: int, where: str) -> np.ndarray:
    """``values`` checked as a label map of ``labels`` labels (uint8 (H, W)).

    Raises:
        SchemaError: not 2-D, not whole numbers, negative or beyond ``labels``.
    """
    labels = min(labels, 256)  # 8-bit values: at most 256 labels
    values = np.asarray(values)
    if values.ndim != 2 or values.size == 0:
        raise SchemaError(f"{where}: not a label map (shape {values.shape})")
    if values.dtype == bool:
        values = values.astype(np.uint8)
    if not (np.issubdtype(values.dtype, np.integer) or np.issubdtype(values.dtype, np.floating)):
        raise SchemaError(f"{where}: labels of type {values.dtype} (whole numbers expected)")
    low, high = values.min(), values.max()
    if np.issubdtype(values.dtype, np.floating):
        if not (np.isfinite(low) and np.isfinite(high)):
            raise SchemaError(f"{where}: labels that are not finite numbers")
        if not np.array_equal(values, np.round(values)):
            raise SchemaError(f"{where}: labels that are not whole numbers")
    if low < 0:
        raise SchemaError(f"{where}: label {low:g} is negative")
    if high >= labels:
        raise SchemaError(f"{where}: label {high:g} beyond the {labels} labels")
    return values.astype(np.uint8)


def read_label_png(path: Path, labels: int) -> np.ndarray:
    """A PNG label map (palette, grey, 1-, 8- or 16-bit) checked by :func:`label_values`.

    Raises:
        SchemaError: not a PNG, or not a label map of ``labels`` labels.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path, formats=["PNG"]) as im:
            if im.mode not in ("1", "L", "P", "I", "I;16", "F"):
                raise SchemaError(f"{path}: a {im.mode} picture, not a label map")
            values = np.asarray(im)
    except (UnidentifiedImageError, OSError, ValueError) as e:
        if isinstance(e, SchemaError):
            raise
        raise SchemaError(f"{path}: not a readable PNG ({str(e)[:80]})") from None
    return label_values(values, labels, str(path))
