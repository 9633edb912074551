"""``fashionseg download NAME --out DIR``: a public data set fetched, checked and unpacked into
the layout the readers open, resumable and never used when a check fails."""

from __future__ import annotations

import sys
from pathlib import Path

from fashionseg.datasets.archives import (
    IntegrityError,
    Manifest,
    check_file,
    extract,
    free_bytes,
    move_aside,
)
from fashionseg.datasets.catalog import DATASETS, DataSet, File
from fashionseg.datasets.http import fetch, part_path, remote_size
from fashionseg.errors import UsageError


def dataset(name: str) -> DataSet:
    """The catalogue entry, or a one-line error listing the names."""
    if name not in DATASETS:
        raise UsageError(f"unknown data set {name!r}; choose from {', '.join(DATASETS)}")
    return DATASETS[name]


def listing() -> str:
    """The data sets, one paragraph each (``download --list``)."""
    lines = []
    for d in DATASETS.values():
        size = d.needed_bytes() or d.extra.get("size", 0)
        lines.append(f"{d.name:18} {d.title}")
        lines.append(f"{'':18} about {size / 2**30:.1f} GB on disk; licence: {d.licence}")
    return "\n".join(lines)


def download(
    name: str,
    out: str | Path,
    *,
    force: bool = False,
    mirror: str | None = None,
    progress: bool = True,
) -> Path:
    """Fetch, check and unpack data set ``name`` into ``out/<name>``; returns that folder.

    Files already fetched and checked (the manifest says so) are not fetched again; an
    unfinished one continues where it stopped; ``force`` starts over. ``mirror`` fetches
    each file from ``MIRROR/<file name>`` instead (an internal copy of the public files).

    Raises:
        DownloadError: a host that cannot be reached, a refused request.
        IntegrityError: a file that fails its check (it is moved aside first).
        UsageError: too little free disk space, with how much is missing.
    """
    d = dataset(name)
    folder = Path(out) / d.name
    if d.kaggle:
        from fashionseg.datasets.kaggle import download_competition

        download_competition(d, folder, force=force)
        return _finish(d, folder)
    folder.mkdir(parents=True, exist_ok=True)
    manifest = Manifest(folder)
    todo = [f for f in d.files if force or not manifest.done(f.name, folder / f.name)]
    urls = {f.name: f"{mirror.rstrip('/')}/{f.name}" if mirror else f.url for f in d.files}
    if force:
        for f in todo:
            part_path(folder / f.name).unlink(missing_ok=True)
    sizes = {f.name: remote_size(urls[f.name]) for f in todo}
    _check_space(folder, todo, sizes)
    for f in todo:
        _one(f, urls[f.name], sizes[f.name], folder, manifest, progress)
    return _finish(d, folder)


def _check_space(folder: Path, todo: list[File], sizes: dict[str, int | None]) -> None:
    """Refuse to start without room for what is left to fetch plus what it unpacks to."""
    needed = 0
    for f in todo:
        size = sizes[f.name] or f.size
        have = part_path(folder / f.name)
        needed += size - (have.stat().st_size if have.exists() else 0)
        if f.extract:
            needed += max(f.extracted_size, size)
    free = free_bytes(folder)
    if needed > free:
        raise UsageError(
            f"{folder}: needs {_gb(needed)} free (archives and what they unpack to) but the "
            f"disk has {_gb(free)}; free {_gb(needed - free)} or choose another --out"
        )


def _one(f: File, url: str, size: int | None, folder: Path, manifest: Manifest, progress: bool):
    """Fetch one file, check it (moved aside if it fails), record it, unpack it."""
    path = fetch(url, folder / f.name, size=size, progress=progress)
    try:
        check_file(path, f.keys)
    except IntegrityError as e:
        aside = move_aside(path)
        raise IntegrityError(
            f"{e}; moved aside to {aside.name}, run again to fetch it anew"
        ) from None
    if f.extract:
        print(f"unpacking {f.name} ...", file=sys.stderr)
        extract(path, folder / f.extract, expected=f.extracted_size or None)
    manifest.record(f.name, path, url, extracted=bool(f.extract))


def _finish(d: DataSet, folder: Path) -> Path:
    """Run the data set's converter if it has one; say what to run next."""
    if d.convert == "ccp":
        from fashionseg.datasets.convert.ccp import convert_ccp

        sources = sorted((folder / "source").glob("*/label_list.mat"))
        if not sources:
            raise IntegrityError(f"{folder}/source: no CCP repository (label_list.mat) inside")
        convert_ccp(sources[0].parent, folder / "ccp", unlabelled=folder / "ccp-unlabelled")
    print(f"next: {d.next_step.format(out=folder)}", file=sys.stderr)
    return folder


def verify(name: str, out: str | Path) -> list[str]:
    """``download NAME --out DIR --verify``: every file of the manifest against its size and
    SHA-256 and each archive's CRCs; returns the problems (empty when all hold)."""
    d = dataset(name)
    folder = Path(out) / d.name
    manifest = Manifest(folder)
    if not manifest.files and not manifest.bad:
        raise UsageError(f"{folder}: no {d.name} download to verify (no manifest.json)")
    problems = manifest.verify(folder)
    keys = {f.name: f.keys for f in d.files}
    for file in sorted(manifest.files):
        if not any(p.startswith(f"{file}:") for p in problems):
            try:
                check_file(folder / file, keys.get(file, ()))
            except IntegrityError as e:
                problems.append(str(e))
    return problems


def _gb(n: int) -> str:
    return f"{n / 2**30:.2f} GB" if n >= 2**28 else f"{n / 2**20:.1f} MB"
