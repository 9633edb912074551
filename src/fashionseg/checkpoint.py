"""Checkpoints: plain dicts written atomically, read with ``weights_only=True``."""

from __future__ import annotations

import pickle
from pathlib import Path

import torch

from fashionseg.errors import FashionsegError
from fashionseg.files import atomic_open

FORMAT = "fashionseg-checkpoint-1"


class CheckpointError(FashionsegError, ValueError):
    """A file that is not a usable fashionseg checkpoint."""


def save_checkpoint(state: dict, path: str | Path) -> None:
    """Write to a temporary file, fsync, then rename: a kill mid-write never leaves a torn file."""
    with atomic_open(path, "wb") as f:
        torch.save(dict(state, format=FORMAT), f)


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


def training_checkpoint(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    ema,
    config,
    *,
    categories: dict,
    epoch: int,
    step: int,
    best: float,
    selection: str,
    history: list[dict],
    epochs_planned: int,
) -> dict:
    """The schema of a training checkpoint (``last.pt`` / ``best.pt``).

    ``model`` holds the weights evaluation and prediction use (the EMA when on);
    ``selection`` names the history column that picks ``best.pt`` (``val_miou``,
    ``val_mask_ap``) and ``best`` its best value so far;
    ``raw_model``, ``optimizer``, ``scaler``, ``ema`` and ``rng_cpu`` let training continue
    bit for bit; ``config`` and ``categories`` rebuild the model from the file alone.
    """
    return {
        "model": ema.state if ema is not None else model.state_dict(),
        "raw_model": model.state_dict() if ema is not None else None,
        "optimizer": optimizer.state_dict(),
        "scaler": scaler.state_dict() if scaler.is_enabled() else None,
        "ema": ema.state if ema is not None else None,
        "rng_cpu": torch.get_rng_state(),
        "epoch": epoch,
        "step": step,
        "config": config.to_dict(),
        "categories": categories,
        "history": history,
        "epochs_planned": epochs_planned,
        "selection": selection,
        "best": best,
    }


def restore_training(state: dict, model, optimizer, scaler, ema) -> dict:
    """Load a training checkpoint's state into a run; returns its progress
    (``epoch``, ``step``, ``best``, ``planned``, ``history``)."""
    # Training goes on from the raw weights ("model" holds the EMA when it is on).
    model.load_state_dict(state.get("raw_model") or state["model"])
    optimizer.load_state_dict(state["optimizer"])
    if state.get("scaler"):
        scaler.load_state_dict(state["scaler"])
    if ema is not None and state.get("ema"):
        device = next(iter(ema.state.values())).device
        ema.state = {k: v.to(device) for k, v in state["ema"].items()}
    torch.set_rng_state(state["rng_cpu"])
    return {
        "epoch": state["epoch"],
        "step": state["step"],
        # Checkpoints before the tasks shared one engine kept the best value, of either
        # task's selection metric, under "best_miou".
        "best": state["best"] if "best" in state else state["best_miou"],
        "planned": state.get("epochs_planned", 0),
        "history": state["history"],
    }
