"""A run folder: what it holds, whether a new run may replace it, and the inputs it records
(the semantic engine and the instance loop share these)."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

from fashionseg.checkpoint import load_checkpoint
from fashionseg.config import TrainConfig
from fashionseg.training.errors import TrainingError

# What a run folder holds once an epoch finished: a new run into it would replace them.
RUN_FILES = ("last.pt", "best.pt", "history.csv", "metrics.json")


def previous_state(out: Path, resume: bool, overwrite: bool, main: bool) -> dict | None:
    """The checkpoint to continue from (``resume``), or None for a new run, checking (on rank
    0, which alone writes the folder) that a new run replaces nothing unless asked to."""
    if resume:
        if not (out / "last.pt").exists():
            raise TrainingError(
                f"{out}: no last.pt to resume from (no epoch finished); start the run again "
                "without --resume"
            )
        return load_checkpoint(out / "last.pt")
    if out.exists() and not out.is_dir():
        raise TrainingError(f"{out}: exists and is not a folder; --out names the run folder")
    if not main:
        return None
    held = [name for name in RUN_FILES if (out / name).exists()]
    if held and not overwrite:
        raise TrainingError(
            f"{out}: holds a run ({', '.join(held)}); continue it with --resume {out}, or pass "
            "--overwrite to start over (its checkpoints and history are then removed)"
        )
    if held:
        for name in RUN_FILES:
            (out / name).unlink(missing_ok=True)
        shutil.rmtree(out / "tb", ignore_errors=True)
    return None


def absolute_paths(config: TrainConfig) -> TrainConfig:
    """Inputs recorded as absolute paths, so the run resumes from any working folder."""
    paths = {
        key: str(Path(getattr(config, key)).resolve())
        for key in ("data", "unlabelled", "train_list", "val_list", "init")
        if getattr(config, key) and Path(getattr(config, key)).exists()
    }
    return replace(config, **paths)
