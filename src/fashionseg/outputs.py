"""Where commands write: output folders apart from their inputs, output files that are files,
and the plan of everything a command writes, checked as a whole before the first byte.

Every command checks its outputs here before any work starts, so a mistake costs nothing and
never overwrites what the user already has.
"""

from __future__ import annotations

import csv
import json
import os
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from fashionseg.errors import FashionsegError
from fashionseg.files import atomic_write


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
            where = "is or lies inside the input" if path.is_dir() else "holds the input"
            raise OutputError(
                f"{out}: the output folder {where} {item}; choose a folder apart from the inputs"
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


def safe_stem(path: Path) -> str:
    """A file's stem as an output name that stays inside the output folder and is not hidden:
    leading dots become ``_`` (``...jpg`` has the stem ``..``), and an empty one is ``photo``."""
    stem = path.stem
    bare = stem.lstrip(".")
    stem = "_" * (len(stem) - len(bare)) + bare
    return "".join("_" if c in "/\\\0:" or ord(c) < 32 else c for c in stem) or "photo"


def output_stems(photos: list[Path]) -> list[str]:
    """A distinct output name per photo: its :func:`safe_stem`, with ``-2``, ``-3`` ... where
    taken.

    Names are compared without case, so outputs stay apart on case-insensitive disks too.
    """
    taken: set[str] = set()
    tries: Counter[str] = Counter()
    stems = []
    for p in photos:
        base = stem = safe_stem(p)
        while stem.lower() in taken:
            tries[base.lower()] += 1
            stem = f"{base}-{tries[base.lower()] + 1}"
        taken.add(stem.lower())
        stems.append(stem)
    return stems


# Marks a folder fashionseg wrote (and names the files it wrote elsewhere for that folder's
# command), so that a rerun may replace its own outputs and never the user's.
MARKER = ".fashionseg-outputs"


class OutputPlan:
    """Everything one command will write, declared before it writes anything (pip resolves a
    whole install before it changes a file), then checked as a whole by :meth:`check`.

    Args:
        out: the command's output folder (None: it writes named files only).
        inputs: what it reads (files and folders).
        overwrite: replace files that exist even where fashionseg did not write them.
        command: the command's name, for the folder's marker.
    """

    def __init__(
        self,
        out: str | Path | None,
        inputs: Iterable[str | Path] = (),
        overwrite: bool = False,
        command: str = "",
    ):
        self.out = Path(out) if out is not None else None
        self.inputs = [Path(p) for p in inputs]
        self.overwrite = overwrite
        self.command = command
        self.entries: list[tuple[Path, str, bool]] = []

    def add(self, path: str | Path, what: str, named: bool = False) -> Path:
        """Declare one output: a file or folder the command derives inside ``out``, or, with
        ``named``, a file the user named (``--table``), which may lie anywhere."""
        path = Path(path)
        self.entries.append((path, what, named))
        return path

    def check(self) -> None:
        """Refuse the plan as a whole, naming the first problem: two outputs on one path, an
        output that is an input or lies inside one, a derived output outside ``out``, or an
        existing file fashionseg did not write (unless ``overwrite``).

        Raises:
            OutputError: one line naming the path(s) and what each was for.
        """
        out = self.out.resolve() if self.out is not None else None
        seen: dict[str, str] = {}
        inputs = [(p.resolve(), p.is_dir()) for p in self.inputs]
        for path, what, named in self.entries:
            full = path.resolve()
            # Compared without case: outputs stay apart on case-insensitive disks too.
            key = str(full).lower()
            if key in seen:
                raise OutputError(f"{path}: both {seen[key]} and {what} would be written there")
            seen[key] = what
            for item, is_dir in inputs:
                if full == item or (is_dir and item in full.parents):
                    raise OutputError(f"{path}: {what} would be written over the input {item}")
            if not named and out is not None and full != out and out not in full.parents:
                raise OutputError(f"{path}: {what} would be written outside {self.out}")
        if not self.overwrite:
            self._check_existing()

    def _check_existing(self) -> None:
        mine = self._previous()
        listings: dict[Path, set[str]] = {}
        out = self.out.resolve() if self.out is not None else None
        for path, what, named in self.entries:
            parent = path.parent.resolve()
            if parent not in listings:
                listings[parent] = set(os.listdir(parent)) if parent.is_dir() else set()
            if path.name not in listings[parent]:
                continue
            full = path.resolve()
            ours = str(full) in mine["named"] or (
                mine["marked"] and not named and out is not None and out in full.parents
            )
            if not ours:
                raise OutputError(
                    f"{path}: exists and fashionseg did not write it ({what}); choose another "
                    "name, or pass --overwrite to replace it"
                )

    def _previous(self) -> dict:
        """What an earlier run of a fashionseg command recorded in ``out``'s marker."""
        if self.out is None or not (self.out / MARKER).is_file():
            return {"marked": False, "named": set()}
        try:
            named = json.loads((self.out / MARKER).read_text()).get("named", [])
        except (ValueError, AttributeError):  # a damaged marker still marks the folder
            named = []
        return {"marked": True, "named": {str(p) for p in named if isinstance(p, str)}}

    def commit(self) -> None:
        """Create ``out`` and mark it as fashionseg's, with the named files it writes (call
        after :meth:`check`, before writing, so a killed run's files are known as ours)."""
        if self.out is None:
            return
        self.out.mkdir(parents=True, exist_ok=True)
        named = sorted(
            self._previous()["named"] | {str(p.resolve()) for p, _, n in self.entries if n}
        )
        text = json.dumps({"command": self.command, "named": named})
        marker = self.out / MARKER
        if not marker.is_file() or marker.read_text() != text:  # a rerun leaves it untouched
            atomic_write(marker, text)


def data_inputs(data: str | Path) -> list[Path]:
    """What a command reading a data set reads: the folder's entries (its photo and mask
    folders, CSV and JSON files), so an output folder may sit beside them but not be the data
    folder or lie inside its photo folders; a data file alone where one is named."""
    data = Path(data)
    return sorted(data.iterdir()) if data.is_dir() else [data]


def plan_folder(
    out: str | Path,
    inputs: Iterable[str | Path],
    names: Iterable[str],
    what: str,
    overwrite: bool = False,
    command: str = "",
) -> Path:
    """Check and commit the plan of a command that writes ``names`` into ``out`` (a report's
    fixed files, one label map per image); return the created folder.

    Raises:
        OutputError: as :meth:`OutputPlan.check`.
    """
    out = output_dir(out, inputs)
    plan = OutputPlan(out, inputs, overwrite, command)
    for name in names:
        plan.add(out / name, what)
    plan.check()
    plan.commit()
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
