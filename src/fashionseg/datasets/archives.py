"""Checking what was downloaded and unpacking it: every ZIP member's CRC, the JSON keys the
readers need, and a SHA-256 manifest that a later run (or a colleague's copy) is checked
against. A file that fails is moved aside, never used.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import msgspec

from fashionseg.data.schema.door import SchemaError, Skipped
from fashionseg.data.schema.manifest import ManifestEntry, read_manifest
from fashionseg.errors import FashionsegError, UsageError
from fashionseg.files import atomic_write

MANIFEST = "manifest.json"


class IntegrityError(FashionsegError):
    """A downloaded or extracted file that is not what it should be."""


def sha256(path: Path) -> str:
    """The file's SHA-256, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def check_file(path: Path, keys: tuple[str, ...] = ()) -> None:
    """A ZIP whose every member matches its CRC, or a JSON that parses and holds ``keys``.

    Raises:
        IntegrityError: naming the file and what is wrong.
    """
    if path.suffix.lower() == ".zip":
        try:
            with zipfile.ZipFile(path) as z:
                bad = z.testzip()
        except (zipfile.BadZipFile, OSError, EOFError) as e:
            raise IntegrityError(f"{path.name}: not a readable ZIP archive ({e})") from None
        if bad is not None:
            raise IntegrityError(f"{path.name}: member {bad} fails its CRC check")
    elif path.suffix.lower() == ".json":
        try:
            data = json.loads(path.read_bytes())
        except (ValueError, UnicodeDecodeError) as e:
            raise IntegrityError(f"{path.name}: not valid JSON ({e})") from None
        missing = [k for k in keys if not isinstance(data, dict) or k not in data]
        if missing:
            raise IntegrityError(f"{path.name}: no {', '.join(repr(k) for k in missing)} key")


def move_aside(path: Path) -> Path:
    """Rename a failed file to ``<name>.rejected`` (kept for a look, never read again)."""
    target = path.with_name(path.name + ".rejected")
    os.replace(path, target)
    return target


# An archive may unpack to this much more than the catalogue says before it is refused
# (catalogue sizes are rounded; a new release may grow a little).
SLACK = 1.25


def extract(archive: Path, into: Path, expected: int | None = None) -> None:
    """Unpack a ZIP into ``into``, after checking what its members declare: none may land
    outside ``into``, and their sizes together must fit on the disk and, where the catalogue
    gives ``expected`` (bytes), stay within :data:`SLACK` times it. Python's reader stops each
    member at its declared size, so a member cannot write past what was checked.

    A single top folder shared by every member is kept (``clothing-co-parsing-master/``).

    Raises:
        IntegrityError: a member leaving the folder, or sizes past the catalogue's.
        UsageError: too little free space for the declared sizes.
    """
    into.mkdir(parents=True, exist_ok=True)
    root = into.resolve()
    with zipfile.ZipFile(archive) as z:
        members = z.infolist()
        for member in members:
            target = (into / member.filename).resolve()
            if root != target and root not in target.parents:
                raise IntegrityError(f"{archive.name}: member {member.filename} leaves the folder")
        declared = sum(m.file_size for m in members)
        if expected and declared > SLACK * expected:
            raise IntegrityError(
                f"{archive.name}: its members declare {declared} bytes, far more than the "
                f"{expected} the catalogue gives; not unpacked"
            )
        free = free_bytes(into)
        if declared > free:
            raise UsageError(
                f"{archive.name}: unpacks to {declared} bytes but {into} has {free} free; "
                "free some space and run again"
            )
        z.extractall(into)


class Manifest:
    """``DIR/manifest.json``: per file, its source, size, SHA-256 and when it was checked.

    Read through the schema door (``data/schema/manifest.py``): an entry edited into
    something else (no size, a size of the wrong type) is listed in ``bad`` and its file is
    fetched anew by ``download`` and reported by ``--verify``.
    """

    def __init__(self, folder: Path):
        self.path = folder / MANIFEST
        self.files: dict[str, ManifestEntry] = {}
        self.bad: list[Skipped] = []
        if self.path.exists():
            try:
                self.files, self.bad = read_manifest(self.path.read_bytes(), str(self.path))
            except SchemaError as e:
                raise IntegrityError(f"not a fashionseg manifest: {e}") from None

    def done(self, name: str, path: Path) -> bool:
        """Downloaded and checked before, and still the size it was."""
        entry = self.files.get(name)
        return entry is not None and path.is_file() and path.stat().st_size == entry.size

    def record(self, name: str, path: Path, url: str, extracted: bool = False) -> None:
        self.files[name] = ManifestEntry(
            url=url,
            size=path.stat().st_size,
            sha256=sha256(path),
            extracted=extracted,
            checked=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        )
        self.bad = [b for b in self.bad if b.item != name]
        self.save()

    def save(self) -> None:
        files = {name: msgspec.structs.asdict(entry) for name, entry in self.files.items()}
        atomic_write(self.path, json.dumps({"files": files}, indent=1))

    def verify(self, folder: Path) -> list[str]:
        """Every recorded file against its size and SHA-256; returns the problems, one line
        each (empty when all hold)."""
        problems = [str(b) for b in self.bad]
        for name, entry in sorted(self.files.items()):
            path = folder / name
            if not path.is_file():
                problems.append(f"{name}: missing")
            elif path.stat().st_size != entry.size:
                problems.append(f"{name}: {path.stat().st_size} bytes, recorded {entry.size}")
            elif sha256(path) != entry.sha256:
                problems.append(f"{name}: SHA-256 differs from the one recorded")
        return problems


def free_bytes(folder: Path) -> int:
    """Free space on the disk that holds ``folder`` (or its nearest existing parent)."""
    probe = folder
    while not probe.exists():
        probe = probe.parent
    return shutil.disk_usage(probe).free
