"""A run folder: what it holds, whether a new run may replace it, and the inputs it records
(the semantic engine and the instance loop share these)."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import torch

from fashionseg.checkpoint import load_checkpoint
from fashionseg.config import TrainConfig, save_config
from fashionseg.files import atomic_write
from fashionseg.prepare.cache import is_cache
from fashionseg.prepare.resolve import resolve_data
from fashionseg.training.errors import TrainingError
from fashionseg.training.loader import adopt_cache_settings, split_indices

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


def open_run_data(config: TrainConfig, out: Path, dist_info, instance_rule: str | None = None):
    """The cache (prepared on first use, by rank 0 alone; an instance cache with
    ``instance_rule``), the config as the run uses it (the cache's settings adopted, derived
    values resolved) and the split; writes the run folder's config.yaml and split.json.

    Returns:
        ``(config, cache, train_idx, val_idx)``.
    """

    def open_cache():
        args = (config.data, config.size, config.keep_aspect, config.classes)
        return resolve_data(*args, instance_rule=instance_rule)

    cache = open_cache() if dist_info.main else None
    if dist_info.world > 1:
        torch.distributed.barrier()
    if not dist_info.main:
        cache = open_cache()
    config = adopt_cache_settings(config, cache, is_cache(config.data)).resolved()
    train_idx, val_idx = split_indices(
        cache, config.seed, config.val_fraction, config.train_list, config.val_list
    )
    if len(train_idx) < 2:
        raise TrainingError(
            f"{config.data}: needs at least 2 training images, found {len(train_idx)}"
        )
    if dist_info.main:
        out.mkdir(parents=True, exist_ok=True)
        save_config(config, out / "config.yaml")
        ids = cache.meta["ids"]
        split = {"train": [ids[i] for i in train_idx], "val": [ids[i] for i in val_idx]}
        atomic_write(out / "split.json", json.dumps(split))
    return config, cache, train_idx, val_idx
