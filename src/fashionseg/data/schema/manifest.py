"""A download's ``manifest.json`` (per file: its source, size, SHA-256, when it was checked).
It lives beside the data and can be edited by hand, so it passes the door like any outside
file: a bad entry is named (and that file fetched or checked anew), never a crash."""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

from fashionseg.data.schema.door import SchemaError, Skipped, decode, why

Sha256 = Annotated[str, Meta(pattern="^[0-9a-f]{64}$")]


class ManifestEntry(msgspec.Struct, gc=False):
    size: Annotated[int, Meta(ge=0, le=2**50)]
    sha256: Sha256
    url: Annotated[str, Meta(max_length=4096)] = ""
    extracted: bool = False
    checked: Annotated[str, Meta(max_length=64)] = ""


class _Manifest(msgspec.Struct):
    files: dict[Annotated[str, Meta(max_length=255)], msgspec.Raw]


def read_manifest(data: bytes, where: str) -> tuple[dict[str, ManifestEntry], list[Skipped]]:
    """The manifest's entries by file name, and the entries that do not fit (named).

    Raises:
        SchemaError: not JSON, or no ``files`` object.
    """
    doc = decode(data, _Manifest, where)
    entries, bad = {}, []
    for name, raw in doc.files.items():
        try:
            entries[name] = msgspec.json.decode(raw, type=ManifestEntry)
        except msgspec.ValidationError as e:
            bad.append(Skipped(name, f"manifest entry {why(e, root='')}"))
    return entries, bad


__all__ = ["ManifestEntry", "SchemaError", "read_manifest"]
