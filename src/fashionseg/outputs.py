"""Where commands write: output folders apart from their inputs, output files that are files.

Every command checks its outputs here before any work starts, so a mistake costs nothing and
never overwrites what the user already has.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterable
from pathlib import Path

from fashionseg.errors import FashionsegError


class OutputError(FashionsegError, ValueError):
    """An output path that would fail or overwrite an input."""


def _within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def output_dir(out: str | Path, inputs: Iterable[str | Path] = ()) -> Path:
    """Check (and create) an output folder.

    Args:
        out: the folder to write into.
        inputs: the files and folders the command reads. The output folder may be none of the
            input folders, lie inside none of them (a rerun would read its own outputs), and
            contain none of them; nor may it be the folder of an input file.

    Raises:
        OutputError: ``out`` is a file, or overlaps an input as above.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out}: exists and is not a folder (--out names a folder)")
    target = out.resolve()
    for item in inputs:
        path = Path(item).resolve()
        folder = path if path.is_dir() else path.parent
        if _within(target, folder) and (path.is_dir() or target == folder):
            raise OutputError(
                f"{out}: the output folder is or lies inside the input {item}; "
                "choose a folder apart from the inputs"
            )
        if _within(path, target):
            raise OutputError(f"{out}: the output folder contains the input {item}")
    out.mkdir(parents=True, exist_ok=True)
    return out


def output_file(out: str | Path, inputs: Iterable[str | Path] = ()) -> Path:
    """Check an output file path: not a folder, not an input; its folder is created.

    Raises:
        OutputError: ``out`` is a folder or one of the inputs.
    """
    out = Path(out)
    if out.is_dir():
        raise OutputError(f"{out}: is a folder; name a file")
    if any(Path(item).resolve() == out.resolve() for item in inputs):
        raise OutputError(f"{out}: is an input; name another file")
    if out.parent.exists() and not out.parent.is_dir():
        raise OutputError(f"{out.parent}: is not a folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    return out


class ErrorLog:
    """``errors.csv`` in the output folder: one row per skipped image with its reason."""

    def __init__(self, out_dir: Path, append: bool = False):
        self.path = out_dir / "errors.csv"
        self.count = 0
        fresh = not (append and self.path.exists())
        self.file = open(self.path, "w" if fresh else "a", newline="")
        self.writer = csv.writer(self.file)
        if fresh:
            self.writer.writerow(["ImageId", "reason"])

    def add(self, image_id: str, reason: str) -> None:
        self.writer.writerow([image_id, reason])
        self.file.flush()
        self.count += 1

    def close(self) -> None:
        self.file.close()
        if self.count:
            print(f"{self.count} image(s) skipped; reasons in {self.path}", file=sys.stderr)
