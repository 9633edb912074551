"""The package's version: the one in its installed metadata (``pyproject.toml``)."""

from __future__ import annotations

from importlib import metadata

try:
    __version__ = metadata.version("fashionseg")
except metadata.PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"
