"""Files every stage writes the same way: one temporary-name scheme, atomic replacement, and an
exclusive lock for what several processes may build at once (caches).

No torch and no NumPy here, so the lightest command can use it.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from fashionseg.errors import FashionsegError

try:  # POSIX; on NFS Linux maps flock onto the server's byte-range locks
    import fcntl
except ImportError:  # pragma: no cover - Windows: caches are then not safe to share
    fcntl = None


# The file suffixes of photos, for every command that looks for photos in a folder (the
# formats Pillow is allowed to open are data.images.PHOTO_FORMATS).
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")


def is_photo(path: Path) -> bool:
    """True for a file whose suffix is one of :data:`PHOTO_SUFFIXES` (any case)."""
    return path.suffix.lower() in PHOTO_SUFFIXES


def temp_path(path: str | Path) -> Path:
    """A hidden name beside ``path`` that no other process or thread picks: the one temporary
    scheme of the package, so a kill leaves at most ``.NAME.*.tmp`` files behind."""
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")


@contextmanager
def atomic_open(path: str | Path, mode: str = "w", **kwargs) -> Iterator[IO]:
    """Open a temporary file beside ``path`` for writing; on a clean exit it is flushed,
    fsynced and renamed over ``path`` (readers see the old file or the whole new one, never a
    half-written one); on an error it is removed and ``path`` is left as it was."""
    path = Path(path)
    tmp = temp_path(path)
    try:
        with open(tmp, mode, **kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def atomic_write(path: str | Path, data: str | bytes) -> None:
    """Write ``data`` (text as UTF-8) to ``path`` through :func:`atomic_open`."""
    if isinstance(data, str):
        with atomic_open(path, "w", encoding="utf-8") as f:
            f.write(data)
    else:
        with atomic_open(path, "wb") as f:
            f.write(data)


class FileLock:
    """An exclusive lock between processes (``flock`` on ``path``), held for a whole build.

    Args:
        path: the lock file (created if missing, never removed: removing it would let a late
            process lock a new file while another still holds the old one).
        what: the thing being built, for the waiting message.
    """

    def __init__(self, path: str | Path, what: str = ""):
        self.path = Path(path)
        self.what = what or str(self.path)
        self.waited = False
        self._file = None

    def __enter__(self) -> FileLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "a+")
        if fcntl is None:
            return self
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.waited = True
            print(f"waiting for another process building {self.what} ...", file=sys.stderr)
            start = time.monotonic()
            fcntl.flock(self._file, fcntl.LOCK_EX)
            print(
                f"{self.what}: the other process finished after {time.monotonic() - start:.0f} s",
                file=sys.stderr,
            )
        return self

    def __exit__(self, *exc) -> None:
        if self._file is not None:
            if fcntl is not None:
                fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None

    def held_elsewhere(self) -> bool:
        """True while another process holds the lock (checked without waiting)."""
        if fcntl is None or not self.path.exists():
            return False
        with open(self.path, "a+") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(f, fcntl.LOCK_UN)
        return False


def read_ids(path: str | Path) -> list[str]:
    """The ImageIds of a list file (one per line, blank lines skipped; a byte-order mark, as
    Excel writes, is not part of the first id).

    Raises:
        FashionsegError: not UTF-8 text, naming the file; OSError: missing or unreadable.
    """
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise FashionsegError(
            f"{path}: not UTF-8 text (byte {e.start}); expected ImageIds"
        ) from None
    return [line.strip() for line in text.splitlines() if line.strip()]


def wanted_ids(ids_file: str | Path | None) -> set[str] | None:
    """The ImageIds of ``--ids`` (None: all)."""
    return set(read_ids(ids_file)) if ids_file else None


def user_cache_dir() -> Path:
    """Where raw data folders are prepared on first use (``FASHIONSEG_CACHE`` overrides)."""
    root = os.environ.get("FASHIONSEG_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "fashionseg"
    )
    return Path(root)


def keyed_cache_dir(prefix: str, key) -> Path:
    """A folder of the user cache named ``prefix`` plus a digest of ``key`` (JSON-able: the
    source, its stamps and the settings), so other inputs or settings get another folder."""
    digest = hashlib.sha1(json.dumps(key).encode()).hexdigest()[:12]
    return user_cache_dir() / f"{prefix}-{digest}"


def collect_photos(inputs: list[str | Path]) -> list[Path]:
    """Files as given, and the photos (by extension) anywhere under the folders given."""
    photos: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            photos += sorted(p for p in path.rglob("*") if is_photo(p) and p.is_file())
        elif path.is_file():
            photos.append(path)
        else:
            raise FileNotFoundError(f"{path}: no such file or folder")
    if not photos:
        raise FileNotFoundError(f"no photos found in {', '.join(map(str, inputs))}")
    return photos
