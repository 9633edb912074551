"""Checkpoints: plain dicts written atomically, read with ``weights_only=True``."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import torch

FORMAT = "fashionseg-checkpoint-1"


class CheckpointError(ValueError):
    """A file that is not a usable fashionseg checkpoint."""


def save_checkpoint(state: dict, path: str | Path) -> None:
    """Write to a temporary file, fsync, then rename: a kill mid-write never leaves a torn file."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        torch.save(dict(state, format=FORMAT), f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict:
    """Load a checkpoint without running any pickled code.

    Raises:
        CheckpointError: missing file, a file that needs arbitrary code to unpickle, or a
            dict that is not a fashionseg checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint")
    with open(path, "rb") as f:
        magic = f.read(4)
    # torch.save writes a zip archive; anything else (a photo, text, random bytes) is not one.
    if magic != b"PK\x03\x04":
        raise CheckpointError(f"{path}: not a PyTorch checkpoint (expected a .pt from train)")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError:
        raise CheckpointError(
            f"{path}: refused, it needs arbitrary code to unpickle (not a plain checkpoint)"
        ) from None
    except Exception as e:  # torch.load raises many kinds (KeyError, EOFError, ...) on junk
        reason = (str(e).splitlines() or [type(e).__name__])[0][:80]
        raise CheckpointError(f"{path}: not a readable checkpoint ({reason})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a fashionseg checkpoint")
    return state
