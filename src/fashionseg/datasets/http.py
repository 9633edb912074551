"""Fetching one file over HTTP(S): resumed with Range after a drop, retried with backoff on
transient errors, a progress bar with bytes/s and time left, one-line errors.

Only the standard library's ``urllib``: a download must not need more than fashionseg does.
"""

from __future__ import annotations

import errno
import os
import socket
import sys
import time
import urllib.error
import urllib.request
from http.client import HTTPException
from pathlib import Path

from fashionseg.errors import FashionsegError

CHUNK = 1 << 20
TIMEOUT = 60.0  # seconds without a byte before a connection counts as dropped
RETRIES = 6
BACKOFF = 1.0  # seconds before the first retry; doubled after each
TRANSIENT_STATUS = {408, 425, 429, 500, 502, 503, 504}


class DownloadError(FashionsegError):
    """A file that could not be fetched: the host, the status, or too many failed tries."""


def part_path(dest: Path) -> Path:
    """Where an unfinished download of ``dest`` grows (kept between runs, to resume)."""
    return dest.with_name(dest.name + ".part")


def remote_size(
    url: str, timeout: float = TIMEOUT, retries: int = RETRIES, backoff: float = BACKOFF
) -> int | None:
    """The file's size from a HEAD request (None when the server does not say); transient
    failures (5xx, 429, a dropped connection) are retried as the GET's are."""
    request = urllib.request.Request(url, method="HEAD")
    for attempt in range(retries + 1):
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:
                length = answer.headers.get("Content-Length")
                return int(length) if length and length.isdigit() else None
        except urllib.error.HTTPError as e:
            if e.code in (403, 405, 501):  # some hosts refuse HEAD but serve GET
                return None
            if e.code not in TRANSIENT_STATUS or attempt == retries:
                raise DownloadError(f"{url}: HTTP {e.code} {e.reason}") from None
        except (TimeoutError, urllib.error.URLError, ConnectionError, HTTPException) as e:
            if _unreachable(e) or attempt == retries:
                hint = " (no network, or the host is down?)" if _unreachable(e) else ""
                raise DownloadError(f"{url}: {_reason(e)}{hint}") from None
        time.sleep(backoff * 2**attempt)
    return None  # pragma: no cover - the loop returns or raises


def fetch(
    url: str,
    dest: Path,
    *,
    size: int | None = None,
    retries: int = RETRIES,
    backoff: float = BACKOFF,
    timeout: float = TIMEOUT,
    progress: bool = True,
) -> Path:
    """Download ``url`` to ``dest``, continuing a ``.part`` file left by an earlier try.

    Args:
        url: the file's address.
        dest: where it lands, renamed there only once complete.
        size: its size when known (from :func:`remote_size`); checked at the end.
        retries: tries after a transient failure (dropped connection, 5xx, 429, timeout).
        backoff: seconds before the first retry, doubled after each.

    Raises:
        DownloadError: a refused request (404, 403...), a host that cannot be reached after
            the retries, or a size that differs from the server's.
    """
    from tqdm import tqdm

    part = part_path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    bar = tqdm(
        total=size, initial=part.stat().st_size if part.exists() else 0, unit="B",
        unit_scale=True, unit_divisor=1024, desc=dest.name, file=sys.stderr,
        disable=not progress, miniters=1,
    )  # fmt: skip
    failures = 0
    try:
        while True:
            have = part.stat().st_size if part.exists() else 0
            if size is not None and have == size:
                break
            try:
                total = _get(url, part, have, timeout, bar, size)
                if size is None:
                    size = total
                if size is None or part.stat().st_size >= size:
                    break
                raise _Transient("the connection closed before the end of the file")
            except _Transient as e:
                failures += 1
                if failures > retries:
                    raise DownloadError(
                        f"{url}: gave up after {retries} retries ({e}); run the command again "
                        f"to continue from {part.stat().st_size if part.exists() else 0} bytes"
                    ) from None
                time.sleep(backoff * 2 ** (failures - 1))
    finally:
        bar.close()
    got = part.stat().st_size
    if size is not None and got != size:
        raise DownloadError(f"{url}: got {got} bytes where the server announced {size}")
    os.replace(part, dest)
    return dest


class _Transient(Exception):
    """A failure worth another try."""


def _get(
    url: str, part: Path, have: int, timeout: float, bar, size: int | None = None
) -> int | None:
    """One GET from byte ``have`` on, appended to ``part``; returns the file's total size.
    At most the announced size is read: the GET's own (Content-Range or Content-Length), else
    ``size`` (the HEAD's)."""
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        answer = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:  # nothing past what we have: the part is the whole file
            return have
        if e.code in TRANSIENT_STATUS:
            raise _Transient(f"HTTP {e.code}") from None
        raise DownloadError(f"{url}: HTTP {e.code} {e.reason}") from None
    except (TimeoutError, urllib.error.URLError, ConnectionError, HTTPException) as e:
        if _unreachable(e):
            raise DownloadError(f"{url}: {_reason(e)} (no network, or the host is down?)") from None
        raise _Transient(_reason(e)) from None
    with answer:
        total = _total(answer, have)
        mode = "ab" if answer.status == 206 else "wb"  # 200: the server ignored Range
        if mode == "wb":
            bar.reset(total)
            have = 0
        # Never more than the server announced: a body that runs on is refused, not stored.
        announced = total if total is not None else size
        left = None if announced is None else announced - have
        with open(part, mode) as f:
            try:
                while chunk := answer.read(CHUNK if left is None else min(CHUNK, left + 1)):
                    if left is not None:
                        left -= len(chunk)
                        if left < 0:
                            raise DownloadError(
                                f"{url}: the server sent more than the {announced} bytes it announced"
                            )
                    _write(f, chunk, part)
                    bar.update(len(chunk))
            except (TimeoutError, ConnectionError, HTTPException, OSError) as e:
                raise _Transient(_reason(e)) from None
    return total


def _write(f, chunk: bytes, part: Path) -> None:
    """Append a chunk; a full disk is final (retrying cannot help), named with what is kept."""
    try:
        f.write(chunk)
    except OSError as e:
        if e.errno != errno.ENOSPC:
            raise
        raise DownloadError(
            f"{part}: no space left on the disk; {part.stat().st_size} bytes are kept there, "
            "free some space and run the command again to continue"
        ) from None


def _total(answer, have: int) -> int | None:
    """The whole file's size from a 206's Content-Range or a 200's Content-Length."""
    if answer.status == 206:
        whole = answer.headers.get("Content-Range", "").rpartition("/")[2]
        return int(whole) if whole.isdigit() else None
    length = answer.headers.get("Content-Length")
    return int(length) if length and length.isdigit() else None


def _unreachable(e: BaseException) -> bool:
    """A host name that does not resolve or a refused connection: retrying will not help."""
    reason = e.reason if isinstance(e, urllib.error.URLError) else e
    return isinstance(reason, (socket.gaierror, ConnectionRefusedError))


def _reason(e: BaseException) -> str:
    reason = getattr(e, "reason", None) or e
    return str(reason) or type(e).__name__
