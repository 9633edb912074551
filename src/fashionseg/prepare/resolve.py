"""From what a user names (a raw data folder, a prepared cache, a folder of unlabelled photos)
to an opened cache: a raw folder is prepared once into the user cache, keyed by its files and
the settings, and never written inside the data folder (which may be read-only).
"""

from __future__ import annotations

from pathlib import Path

from fashionseg.files import keyed_cache_dir
from fashionseg.prepare.cache import Cache, CacheError, is_cache, open_cache, prepare
from fashionseg.prepare.unlabelled import build_unlabelled
from fashionseg.tasks import task_facts


def resolve_data(
    data: str,
    size: str,
    keep_aspect: bool,
    classes: str,
    workers: int | None = None,
    instance_rule: str | None = None,
) -> Cache:
    """Open ``data`` as a cache, preparing a raw data folder into the user cache if needed
    (an instance cache with ``instance_rule``, ``prepare/instances.py``).

    The cache is keyed by the data folder, its annotation file's size and time, and the
    settings; it is never written inside the data folder (which may be read-only).
    """
    if is_cache(data):
        cache = open_cache(data)
        if instance_rule is not None and not task_facts(cache.meta.get("task")).instances:
            raise CacheError(
                f"{data}: a semantic cache; an instance run needs one from prepare --task "
                "instances (or the raw data folder)"
            )
        return cache
    src = Path(data).resolve()
    if not src.exists():
        raise FileNotFoundError(f"{data}: no such data folder or cache")
    stamp = [
        (p.name, p.stat().st_size, int(p.stat().st_mtime))
        for p in sorted(src.glob("*.csv*")) + sorted(src.glob("*.json"))
    ]
    key = [str(src), stamp, str(size), keep_aspect, classes]
    if instance_rule is not None:
        key.append(instance_rule)
        out = keyed_cache_dir(f"{src.name}-{size}-instances", key)
        return prepare(
            src, out, size, workers, keep_aspect, classes, task="instances",
            instance_rule=instance_rule,
        )  # fmt: skip
    out = keyed_cache_dir(f"{src.name}-{size}", key)
    return prepare(src, out, size, workers, keep_aspect, classes)


def resolve_unlabelled(
    folder: str, size: tuple[int, int], keep_aspect: bool, num_classes: int, use_tags: bool
) -> Path:
    """The decoded cache of an unlabelled photo folder (built on first use, in the user cache)."""
    src = Path(folder).resolve()
    if not src.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder of unlabelled photos")
    tags = src / "tags.csv"
    stamp = [tags.stat().st_size, int(tags.stat().st_mtime)] if tags.is_file() else None
    count = sum(1 for _ in (src / "images" if (src / "images").is_dir() else src).iterdir())
    key = [str(src), stamp, count, list(size), keep_aspect, num_classes, use_tags]
    out = keyed_cache_dir(f"unlabelled-{src.name}-{size[1]}x{size[0]}", key)
    return build_unlabelled(src, out, size, keep_aspect, num_classes, use_tags)
