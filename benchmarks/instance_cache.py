"""The instance cache against today's (semantic) cache, per photo and as whole processes.

    python -m benchmarks.instance_cache DATA [--size 240x160] [--photos 200] [--workers 2]

Per photo: ``prepare_one`` (decode, resize, label map, and for instances their masks, boxes
and RLEs) in one process, each kind timed over the same photos in turn, best of three rounds.
Whole: ``fashionseg prepare`` processes (start-up and cache writes included) on all the photos,
semantic, ``--task instances`` (rows) and ``--task instances --instances components``. Prints
JSON; nothing here is a test.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fashionseg.data.formats import open_dataset
from fashionseg.prepare.cache import prepare_one
from fashionseg.sizes import parse_size

KINDS = {"semantic": None, "rows": "rows", "components": "components"}


def per_photo(data: str, size: tuple[int, int], photos: int) -> dict:
    """Milliseconds per photo of ``prepare_one`` for each kind (best of three rounds)."""
    records = [r for r in open_dataset(data) if r.error is None][:photos]
    best = dict.fromkeys(KINDS, float("inf"))
    for _ in range(3):
        for kind, rule in KINDS.items():
            t0 = time.perf_counter()
            for r in records:
                prepare_one(r, *size, False, "all", rule)
            best[kind] = min(best[kind], (time.perf_counter() - t0) / len(records) * 1000)
    out = {f"{k}_ms": round(v, 2) for k, v in best.items()}
    out.update(
        photos=len(records),
        rows_over_semantic=round(best["rows"] / best["semantic"], 2),
        components_over_semantic=round(best["components"] / best["semantic"], 2),
    )
    return out


def whole(data: str, size: str, workers: int) -> dict:
    """Seconds of whole ``fashionseg prepare`` processes, one per kind, into fresh folders."""
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for kind in KINDS:
            flags = [] if kind == "semantic" else ["--task", "instances", "--instances", kind]
            cmd = [sys.executable, "-m", "fashionseg", "prepare", data, "--out",
                   str(Path(tmp) / kind), "--size", size, "--workers", str(workers), *flags]  # fmt: skip
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True)
            out[f"{kind}_s"] = round(time.perf_counter() - t0, 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data")
    parser.add_argument("--size", default="160x240", help="WxH of the cache")
    parser.add_argument("--photos", type=int, default=200, help="photos timed one by one")
    parser.add_argument("--workers", type=int, default=2, help="of the whole processes")
    args = parser.parse_args()
    h, w = parse_size(args.size)
    result = {"per_photo": per_photo(args.data, (h, w), args.photos)}
    result["whole"] = whole(args.data, args.size, args.workers)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
