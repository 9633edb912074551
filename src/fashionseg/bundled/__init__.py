"""The default model that ships inside the package: used when a command names no model.

DeepLabV3+ on the ImageNet EfficientNet-Lite0 encoder, trained on the CCP street photos with
the unlabelled ones as a mean teacher's pseudo-labels, quantized to 8 bits (ONNX Runtime's QDQ
format). ``MODEL_CARD.md`` beside it says how it was made and how well it does.
"""

from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path

NAME = "ccp-lite0-int8.onnx"
# The file's SHA-256, as in MODEL_CARD.md; a test checks that they agree.
SHA256 = "75f4c66de512eb143c26a58e37bd87856492649ed4f0dd996ad46a55fd3b5f92"


def bundled_model() -> Path:
    """Path of the bundled ONNX model.

    Raises:
        FileNotFoundError: the package was installed without its model file.
    """
    path = Path(str(resources.files("fashionseg.bundled") / NAME))
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: the bundled model is missing from this install; name a model file instead"
        )
    return path


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
