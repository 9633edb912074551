"""From a cache to batches: the split, the per-epoch batch order, the batch reader.

All randomness derives from ``(seed, epoch)``, so the batches of epoch e are the same whether
the run went straight through or was resumed.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from fashionseg.config import TrainConfig
from fashionseg.data.splits import split_ids
from fashionseg.errors import DataFormatError
from fashionseg.files import read_ids
from fashionseg.prepare.cache import Cache
from fashionseg.sizes import parse_size
from fashionseg.training.errors import TrainingError


def split_indices(
    cache: Cache, seed: int, val_fraction: float, train_list: str = "", val_list: str = ""
):
    """Cache row indices for training and validation.

    With list files (one ImageId per line) those decide; otherwise a seeded shuffle holds out
    ``val_fraction`` of the images (at least one).
    """
    ids = cache.ids
    rows = np.asarray(cache.indices)
    if train_list or val_list:
        pos = {image_id: r for image_id, r in zip(ids, rows)}

        def read(path: str) -> np.ndarray:
            wanted = read_ids(path)
            missing = [w for w in wanted if w not in pos]
            if missing:
                raise DataFormatError(
                    f"{path}: {len(missing)} ImageIds not in the data, e.g. {missing[0]}"
                )
            return np.array([pos[w] for w in wanted], dtype=np.int64)

        val = read(val_list) if val_list else np.array([], dtype=np.int64)
        train = read(train_list) if train_list else np.setdiff1d(rows, val)
        return train, val
    split = split_ids(list(ids), seed, val_fraction)
    pos = {image_id: r for image_id, r in zip(ids, rows)}
    return tuple(np.array([pos[i] for i in split[k]], dtype=np.int64) for k in ("train", "val"))


def epoch_batches(
    indices: np.ndarray, batch_size: int, gen: torch.Generator, rank: int = 0, world: int = 1
) -> list[list[int]]:
    """Shuffled batches of cache rows for one epoch and one rank.

    Every rank draws the same permutation and takes every world-th element, trimmed so all
    ranks take the same number of steps. Single-sample tails are dropped (batch norm needs two).
    """
    perm = indices[torch.randperm(len(indices), generator=gen).numpy()]
    perm = perm[: len(perm) // world * world][rank::world]
    batches = [sorted(perm[i : i + batch_size].tolist()) for i in range(0, len(perm), batch_size)]
    return [b for b in batches if len(b) > 1 or len(perm) == 1]


class BatchReader(Dataset):
    """Reads a whole batch of cache rows at once; the memory maps open lazily per worker.

    ``second`` names the per-row array that travels with the photos: the label maps of a
    training cache, or the allowed classes of an unlabelled one.
    """

    def __init__(self, root: Path, second: str = "masks.npy"):
        self.root = Path(root)
        self.second = second
        self._images = self._masks = None

    def __len__(self) -> int:  # pragma: no cover - sampled by batches only
        return 0

    def __getitem__(self, rows: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        if self._images is None:
            self._images = np.load(self.root / "images.npy", mmap_mode="r")
            self._masks = np.load(self.root / self.second, mmap_mode="r")
        # Sorted rows make the fancy-index read sequential on disk.
        return torch.from_numpy(self._images[rows]), torch.from_numpy(self._masks[rows])


class BatchPlan:
    """The batches of the current epoch, as a sampler that one loader keeps for a whole run.

    Assigning ``batches`` between epochs lets the loader's persistent workers serve the next
    epoch. Fresh workers would pay their start-up every epoch, several times what kept ones cost,
    and on a GPU an epoch of a few hundred photos is short enough for that to show
    (docs/benchmarks.md).
    """

    def __init__(self, batches: list[list[int]] | None = None):
        self.batches = list(batches or [])

    def __iter__(self):
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)


def make_loader(
    cache: Cache | Path,
    batches: list[list[int]] | BatchPlan,
    workers: int,
    pin: bool,
    second: str = "masks.npy",
) -> DataLoader:
    """A loader of whole batches; pass a :class:`BatchPlan` to reuse it (and its workers)."""
    plan = batches if isinstance(batches, BatchPlan) else BatchPlan(batches)
    root = cache if isinstance(cache, Path) else cache.root
    return DataLoader(
        BatchReader(root, second),
        sampler=plan,
        batch_size=None,
        num_workers=workers,
        pin_memory=pin,
        prefetch_factor=4 if workers > 0 else None,
        persistent_workers=workers > 0,
    )


def adopt_cache_settings(config: TrainConfig, cache, prepared: bool) -> TrainConfig:
    """The config saying what the model is trained on: the cache's size, letterboxing and
    classes. These travel into the checkpoint and the ONNX metadata, and predict, serve and
    export build their canvases from them.

    A prepared cache named with ``--data`` is the truth: a setting left at its default takes
    the cache's value, one set to something else is refused in one line.
    """
    meta = cache.meta
    truth = {
        "size": "{1}x{0}".format(*meta["size"]),
        "keep_aspect": bool(meta.get("keep_aspect", False)),
        "classes": meta.get("classes", "all"),
    }
    defaults = TrainConfig()
    for key, value in truth.items():
        asked = getattr(config, key)
        same = parse_size(asked) == parse_size(value) if key == "size" else asked == value
        if not same and prepared and asked != getattr(defaults, key):
            raise TrainingError(
                f"{config.data}: the cache was prepared with {key} {value}, not "
                f"--{key.replace('_', '-')} {asked}; prepare another cache or leave the setting out"
            )
    return replace(config, **truth)
