"""Reading photos safely and fast.

Photos are read at reduced scale when the target is much smaller (libjpeg DCT scaling through
Pillow's ``draft``), never auto-rotated (masks refer to the stored pixel grid), and every
problem becomes a :class:`DataError` with a one-line reason.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from fashionseg.data.compose import fit
from fashionseg.errors import FashionsegError

ImageFile.LOAD_TRUNCATED_IMAGES = False
# Fashion photos can be large; refuse only absurd sizes (Pillow's own bomb check is ~179 MP).
Image.MAX_IMAGE_PIXELS = 1 << 28


class DataError(FashionsegError, ValueError):
    """One image (or its annotation) cannot be used; the message is the reason."""


_WARNED: set[str] = set()


def upright(im: Image.Image, name: str = "photo") -> Image.Image:
    """The photo turned as its EXIF orientation says. An EXIF block that Pillow cannot handle
    (tags of the wrong type, as some phones and editors write) keeps the stored orientation;
    that is said once per file name, and the photo is used."""
    try:
        return ImageOps.exif_transpose(im)
    except Exception as e:  # Pillow raises TypeError, ValueError, AttributeError, ... here
        if name not in _WARNED:
            _WARNED.add(name)
            reason = (str(e).splitlines() or [type(e).__name__])[0][:80]
            print(
                f"{name}: unreadable EXIF ({reason}); the stored orientation is kept",
                file=sys.stderr,
            )
        return im


def to_rgb(im: Image.Image) -> Image.Image:
    """8-bit RGB of any photo mode. 16- and 32-bit greyscale (``I;16``, ``I``, ``F``: PNG and
    TIFF scans, medical-style exports) are scaled to 8 bits; Pillow's own conversion would clip
    everything above 255 to white."""
    if im.mode.startswith("I;16") or im.mode in ("I", "F"):
        values = np.asarray(im, dtype=np.float64)
        if im.mode.startswith("I;16") or (
            values.min(initial=0) >= 0 and values.max(initial=0) <= 65535 and im.mode == "I"
        ):
            scaled = values / 257.0
        elif im.mode == "F" and values.min(initial=0) >= 0 and values.max(initial=0) <= 1:
            scaled = values * 255.0
        else:  # an arbitrary range: stretch it
            low, high = values.min(initial=0), values.max(initial=0)
            scaled = (values - low) * (255.0 / max(high - low, 1e-12))
        grey = np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
        return Image.fromarray(grey, "L").convert("RGB")
    return im if im.mode == "RGB" else im.convert("RGB")


def open_checked(path: Path, height: int | None = None, width: int | None = None) -> Image.Image:
    """Open a photo and check that its stored size is ``height`` x ``width``.

    Raises:
        DataError: missing, unreadable, or of another size than the annotation says.
    """
    if not path.is_file():
        raise DataError(f"image file missing: {path.name}")
    im = open_photo(path, path.name)
    if height is not None and (im.height, im.width) != (height, width):
        size = f"{im.height}x{im.width}"
        im.close()
        raise DataError(f"Height/Width {height}x{width} do not match the image file ({size})")
    return im


def load_resized(
    path: Path,
    height: int | None,
    width: int | None,
    out_h: int,
    out_w: int,
    keep_aspect: bool = False,
    fill: int = 0,
) -> np.ndarray:
    """Read a photo resized (antialiased) into an ``out_h`` x ``out_w`` canvas.

    Args:
        path: the photo.
        height: expected stored height (None: do not check).
        width: expected stored width.
        out_h: canvas height.
        out_w: canvas width.
        keep_aspect: letterbox instead of squashing.
        fill: padding value when letterboxing.

    Returns:
        uint8 array of shape (out_h, out_w, 3).
    """
    with open_checked(path, height, width) as im:
        try:
            return decode_canvas(im, out_h, out_w, keep_aspect, fill)
        except (OSError, SyntaxError, ValueError) as e:
            raise DataError(f"unreadable or truncated image {path.name}: {e}") from None


def decode_canvas(
    im: Image.Image,
    out_h: int,
    out_w: int,
    keep_aspect: bool = False,
    fill: int = 0,
    auto_orient: bool = False,
) -> np.ndarray:
    """The one way a photo becomes a model's input canvas, for training, evaluation,
    prediction and serving alike (so they all see the same pixels).

    Args:
        im: an opened photo, best not yet decoded: a JPEG is then decoded at reduced DCT
            scale (1/2, 1/4, 1/8) while staying at least the canvas size.
        out_h: canvas height.
        out_w: canvas width.
        keep_aspect: letterbox instead of squashing.
        fill: padding value when letterboxing.
        auto_orient: apply the EXIF orientation first (then decoded at full size).

    Returns:
        uint8 (out_h, out_w, 3).

    Raises:
        OSError, SyntaxError, ValueError: a truncated or corrupt file (Pillow's own errors).
    """
    if auto_orient:
        im.load()
        im = upright(im, Path(getattr(im, "filename", "") or "upload").name)
    new_h, new_w, top, left = fit(im.height, im.width, out_h, out_w, keep_aspect)
    if not auto_orient:
        im.draft("RGB", (new_w, new_h))
    im.load()
    rgb = to_rgb(im).resize((new_w, new_h), Image.BILINEAR, reducing_gap=None)
    return place(np.asarray(rgb), out_h, out_w, top, left, fill)


def place(
    image: np.ndarray, out_h: int, out_w: int, top: int, left: int, fill: int = 0
) -> np.ndarray:
    """A resized photo (h, w, 3) at ``(top, left)`` of an ``out_h`` x ``out_w`` canvas
    (the letterbox of :func:`fit`); returned as is when it already fills the canvas."""
    h, w = image.shape[:2]
    if (h, w) == (out_h, out_w):
        return image
    canvas = np.full((out_h, out_w, 3), fill, dtype=np.uint8)
    canvas[top : top + h, left : left + w] = image
    return canvas


# The photo formats predict and serve open; Pillow is never asked to try the others (EPS,
# for one, would run Ghostscript).
PHOTO_FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "TIFF")


def open_photo(source: Path | bytes | io.BytesIO, name: str) -> Image.Image:
    """Open (header only) a photo of one of :data:`PHOTO_FORMATS`: the one door through which
    every command opens a photo.

    Raises:
        DataError: not a photo of those formats, or unreadable; PixelLimitError: a
            decompression bomb.
    """
    try:
        if isinstance(source, bytes):
            source = io.BytesIO(source)
        return Image.open(source, formats=PHOTO_FORMATS)
    except UnidentifiedImageError:
        raise DataError(
            f"{name}: not a photo in a supported format ({', '.join(PHOTO_FORMATS)})"
        ) from None
    except Image.DecompressionBombError as e:
        raise PixelLimitError(f"{name}: {str(e).split('.')[0]}") from None
    except (OSError, ValueError) as e:
        raise DataError(f"{name}: not a readable image ({str(e)[:80]})") from None


# A header check reads at most this much. Pillow reads a PNG's chunks up to the first image
# data, so a file of a million empty chunks would otherwise take seconds to size up.
HEADER_BYTES = 1 << 20


class HeaderTooLong(Exception):
    """A photo whose header does not end within :data:`HEADER_BYTES`."""


class _Bounded(io.BytesIO):
    """The bytes of a file, of which at most ``limit`` may be read (seeks are free, so a TIFF
    whose directory sits at the end still sizes up cheaply)."""

    def __init__(self, data: bytes, limit: int):
        super().__init__(data)
        self.left = limit

    def read(self, size: int | None = -1) -> bytes:
        out = super().read(size)
        self.left -= len(out)
        if self.left < 0:
            raise HeaderTooLong
        return out


def photo_pixels(source: Path | bytes, max_pixels: int = 0) -> int:
    """Width x height from the photo's header, without decoding it, reading at most
    :data:`HEADER_BYTES` of it.

    Raises:
        DataError: not a supported photo, or a header that never ends; PixelLimitError: over
            ``max_pixels``.
    """
    name = source.name if isinstance(source, Path) else "upload"
    data = source.read_bytes() if isinstance(source, Path) else source
    try:
        im = open_photo(_Bounded(data, HEADER_BYTES), name)
    except HeaderTooLong:
        raise DataError(
            f"{name}: its header does not end within {HEADER_BYTES} bytes (not a photo)"
        ) from None
    with im:
        pixels = im.width * im.height
        if max_pixels and pixels > max_pixels:
            raise PixelLimitError(
                f"{name}: {im.width}x{im.height} is over the limit of {max_pixels} pixels"
            )
    return pixels


def read_photo(source: Path | bytes, auto_orient: bool = False, max_pixels: int = 0) -> Image.Image:
    """Decode a photo to RGB.

    Args:
        source: a path or the file's bytes.
        auto_orient: apply the EXIF orientation (phone photos); off by default because masks
            in the data sets refer to the stored pixel grid.
        max_pixels: refuse photos with more pixels than this before decoding (0: no limit
            beyond Pillow's own bomb check).

    Raises:
        DataError: not an image, truncated, or too large; the message says which.
    """
    name = source.name if isinstance(source, Path) else "upload"
    im = open_photo(source, name)
    if max_pixels and im.width * im.height > max_pixels:
        raise PixelLimitError(
            f"{name}: {im.width}x{im.height} is over the limit of {max_pixels} pixels"
        )
    try:
        im.load()
        if auto_orient:
            im = upright(im, name)
        return to_rgb(im)
    except (OSError, SyntaxError, ValueError) as e:
        raise DataError(f"{name}: unreadable or truncated image ({str(e)[:80]})") from None


class PixelLimitError(DataError):
    """A photo with more pixels than allowed."""


def memory_photo(photo, name: str) -> Image.Image:
    """An in-memory photo (a PIL image or an (H, W, 3) uint8 array, as the Python API takes
    them) checked at the door and made 8-bit RGB, as a file of it would be: decoded now (a
    truncated image is a :class:`DataError`, not a bare OSError later), at least one pixel,
    16- and 32-bit greyscale scaled rather than clipped to white.

    Raises:
        DataError: naming ``name`` and the problem.
    """
    if isinstance(photo, np.ndarray):
        if photo.dtype != np.uint8 or photo.ndim != 3 or photo.shape[2] != 3:
            raise DataError(
                f"{name}: an array must be (H, W, 3) uint8, not {photo.shape} {photo.dtype}"
            )
        if photo.shape[0] == 0 or photo.shape[1] == 0:
            raise DataError(f"{name}: an array of {photo.shape[0]}x{photo.shape[1]} pixels")
        photo = Image.fromarray(photo)
    elif not isinstance(photo, Image.Image):
        raise DataError(f"{name}: not a path, PIL image or array ({type(photo).__name__})")
    if photo.width == 0 or photo.height == 0:
        raise DataError(f"{name}: an image of {photo.width}x{photo.height} pixels")
    try:
        photo.load()
        return to_rgb(photo)
    except (OSError, SyntaxError, ValueError) as e:
        raise DataError(f"{name}: unreadable or truncated image ({str(e)[:80]})") from None


def photo_canvas(
    source: Image.Image | Path | bytes,
    out_h: int,
    out_w: int,
    keep_aspect: bool = False,
    auto_orient: bool = False,
) -> np.ndarray:
    """A photo (a file, its bytes, or an opened image) as a model's input canvas (out_h, out_w,
    3) uint8, through :func:`decode_canvas`. Pass the file rather than a decoded image: a JPEG
    is then decoded at the reduced scale the training cache uses, so predictions match
    evaluation.

    Raises:
        DataError: not a photo, or a file that cannot be decoded.
    """
    if isinstance(source, Image.Image):
        return decode_canvas(source, out_h, out_w, keep_aspect, auto_orient=auto_orient)
    name = source.name if isinstance(source, Path) else "upload"
    with open_photo(source, name) as im:
        try:
            return decode_canvas(im, out_h, out_w, keep_aspect, auto_orient=auto_orient)
        except (OSError, SyntaxError, ValueError) as e:
            raise DataError(f"{name}: unreadable or truncated image ({str(e)[:80]})") from None
