"""``fashionseg masks``: one 8-bit PNG label map per image (ClassId + 1, 0 = background)."""

from __future__ import annotations

import functools
from pathlib import Path

from PIL import Image

from fashionseg.data.compose import compose, compose_resized, keep_classes
from fashionseg.data.formats import open_dataset
from fashionseg.data.images import DataError, open_checked
from fashionseg.data.records import Record, is_plain_name
from fashionseg.outputs import ErrorLog, data_inputs, plan_folder
from fashionseg.prepare.parallel import StrictError, run_records
from fashionseg.sizes import parse_size


def check_image(record: Record) -> None:
    """Fail with :class:`DataError` if the photo is missing, of the wrong size or truncated."""
    with open_checked(record.path, record.height, record.width) as im:
        im.draft("RGB", (max(1, im.width // 8), max(1, im.height // 8)))
        try:
            im.load()  # decodes the whole stream (at 1/8 scale): catches truncation cheaply
        except (OSError, SyntaxError, ValueError) as e:
            raise DataError(f"unreadable or truncated image {record.path.name}: {e}") from None


def mask_one(record: Record, out: Path, size: tuple[int, int] | None, classes: str) -> str:
    check_image(record)
    instances = keep_classes(record.instances, classes)
    if size is None:
        labels = compose(instances, record.height, record.width)
    else:
        labels = compose_resized(instances, record.height, record.width, *size)
    path = out / f"{record.image_id}.png"
    Image.fromarray(labels, mode="L").save(path)
    return str(path)


def write_masks(
    data: str | Path,
    out: str | Path,
    size: str | None = None,
    classes: str = "all",
    strict: bool = False,
    workers: int | None = None,
    overwrite: bool = False,
) -> int:
    """Write ``out/<ImageId>.png`` for every usable image of ``data``.

    Args:
        data: data folder in any supported layout.
        out: output folder (created).
        size: None for each image's own size, else N or WxH (nearest neighbour).
        classes: ``all`` or ``garments``.
        strict: raise :class:`StrictError` at the first bad image.
        workers: processes (default: all cores).
        overwrite: replace PNGs of the same names that fashionseg did not write.

    Returns:
        The number of masks written; skipped images are listed in ``out/errors.csv``.
    """
    dataset = open_dataset(data)
    keep_classes([], classes)  # validate the name before any work
    # The data's own folders and files, and the data folder itself, are never outputs.
    # An ImageId that is no plain name (``../x``) is a bad row the reader skips, never a path.
    ids = [i for i in dataset.image_ids() if is_plain_name(f"{i}.png")]
    names = ["errors.csv", *(f"{i}.png" for i in ids)]
    out = plan_folder(out, data_inputs(data), names, "a label map", overwrite, "masks")
    fn = functools.partial(
        mask_one, out=out, size=parse_size(size) if size else None, classes=classes
    )
    errors = ErrorLog(out)
    written = 0
    try:
        for _, image_id, _, error in run_records(
            fn, enumerate(dataset), len(dataset), workers, "masks"
        ):
            if error is None:
                written += 1
            elif strict:
                raise StrictError(f"{image_id}: {error}")
            else:
                errors.add(image_id, error)
    finally:
        errors.close()
    return written
