"""Sizes as users write them: ``N`` or ``WxH``, parsed once into (height, width)."""

from __future__ import annotations

from fashionseg.errors import ConfigError


def parse_size(text: str | int) -> tuple[int, int]:
    """``"256"`` -> (256, 256); ``"384x256"`` (W x H) -> (256, 384) as (height, width)."""
    if isinstance(text, int):
        return text, text
    text = str(text).lower()
    try:
        if "x" in text:
            w, h = text.split("x")
            size = int(h), int(w)
        else:
            size = int(text), int(text)
    except ValueError:
        raise ConfigError(f"size {text!r} is not N or WxH") from None
    if min(size) < 8 or max(size) > 8192:
        raise ConfigError(f"size {text!r} out of range 8..8192")
    return size
