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

from fashionseg.errors import FashionsegError
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


def extract(archive: Path, into: Path) -> None:
    """Unpack a ZIP into ``into``; members that would land outside it are refused.

    A single top folder shared by every member is kept (``clothing-co-parsing-master/``).
    """
    into.mkdir(parents=True, exist_ok=True)
    root = into.resolve()
    with zipfile.ZipFile(archive) as z:
        for member in z.infolist():
            target = (into / member.filename).resolve()
            if root != target and root not in target.parents:
                raise IntegrityError(f"{archive.name}: member {member.filename} leaves the folder")
        z.extractall(into)


class Manifest:
    """``DIR/manifest.json``: per file, its source, size, SHA-256 and when it was checked."""

    def __init__(self, folder: Path):
        self.path = folder / MANIFEST
        self.files: dict[str, dict] = {}
        if self.path.exists():
            try:
                self.files = json.loads(self.path.read_text())["files"]
            except (ValueError, KeyError, TypeError) as e:
                raise IntegrityError(f"{self.path}: not a fashionseg manifest ({e})") from None

    def done(self, name: str, path: Path) -> bool:
        """Downloaded and checked before, and still the size it was."""
        entry = self.files.get(name)
        return bool(entry) and path.is_file() and path.stat().st_size == entry["size"]

    def record(self, name: str, path: Path, url: str, extracted: bool = False) -> None:
        self.files[name] = {
            "url": url,
            "size": path.stat().st_size,
            "sha256": sha256(path),
            "extracted": extracted,
            "checked": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        self.save()

    def save(self) -> None:
        atomic_write(self.path, json.dumps({"files": self.files}, indent=1))

    def verify(self, folder: Path) -> list[str]:
        """Every recorded file against its size and SHA-256; returns the problems, one line
        each (empty when all hold)."""
        problems = []
        for name, entry in sorted(self.files.items()):
            path = folder / name
            if not path.is_file():
                problems.append(f"{name}: missing")
            elif path.stat().st_size != entry["size"]:
                problems.append(f"{name}: {path.stat().st_size} bytes, recorded {entry['size']}")
            elif sha256(path) != entry["sha256"]:
                problems.append(f"{name}: SHA-256 differs from the one recorded")
        return problems


def free_bytes(folder: Path) -> int:
    """Free space on the disk that holds ``folder`` (or its nearest existing parent)."""
    probe = folder
    while not probe.exists():
        probe = probe.parent
    return shutil.disk_usage(probe).free
