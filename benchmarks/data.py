"""Data benchmarks: RLE decoding, ``prepare`` against the straightforward pipeline, and the
memory of ``prepare`` as the number of photos grows."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from fashionseg.data.compose import compose
from fashionseg.data.formats import open_dataset
from fashionseg.data.rle import rle_decode, rle_decode_numpy


def naive_rle_decode(encoded: str, height: int, width: int) -> np.ndarray:
    """The per-run Python loop most notebooks use."""
    flat = np.zeros(height * width, dtype=bool)
    tokens = encoded.split()
    for i in range(0, len(tokens), 2):
        start = int(tokens[i]) - 1
        flat[start : start + int(tokens[i + 1])] = True
    return flat.reshape(width, height).T


def _timeit(fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _rle_rows(data: str | Path) -> list[tuple[str, int, int]]:
    """(RLE string, height, width) of every mask in a data folder."""
    return [(i.rle, r.height, r.width) for r in open_dataset(data) for i in r.instances]


def bench_rle(data: str | None = None, quick: bool = False) -> dict:
    """Masks/s decoding every row of a CSV: the library against the per-run Python loop.

    Two ways through a CSV, both decoders measured the same way: *streaming* hands each mask to
    its consumer and lets it go before the next (how ``compose``, per-class statistics and
    submission checks use a CSV); *kept* holds every mask at once (N x H x W bytes), where each
    mask lands on fresh pages that the kernel must zero, the same cost for any decoder.
    """
    if data is None:
        from fashionseg.synth.writer import synth

        n, size = (6, "128x192") if quick else (60, "512x768")
        with tempfile.TemporaryDirectory(prefix="fashionseg-bench-") as tmp:
            rows = _rle_rows(synth(Path(tmp), images=n, size=size, seed=0, workers=2))
        data = f"synthetic: {n} photos of {size}"
    else:
        rows = _rle_rows(data)
    t0 = time.perf_counter()
    rle_decode(*rows[0])  # the compiled kernel: loaded from its cache, or compiled once
    first_call = time.perf_counter() - t0

    def streaming(decode):
        def run():
            for row in rows:
                decode(*row)

        return run

    def kept(decode):
        return lambda: [decode(*row) for row in rows]

    loop = naive_rle_decode
    times = {
        "loop_streaming": _timeit(streaming(loop), repeat=2),
        "library_streaming": _timeit(streaming(rle_decode)),
        "numpy_path_streaming": _timeit(streaming(rle_decode_numpy)),
        "loop_kept": _timeit(kept(loop), repeat=2),
        "library_kept": _timeit(kept(rle_decode)),
    }
    same = all((rle_decode(*row) == naive_rle_decode(*row)).all() for row in rows[:200])
    return {
        "data": data,
        "masks": len(rows),
        **{f"{k}_masks_per_s": len(rows) / v for k, v in times.items()},
        "speedup_streaming": times["loop_streaming"] / times["library_streaming"],
        "speedup_kept": times["loop_kept"] / times["library_kept"],
        "numpy_path_speedup_streaming": times["loop_streaming"] / times["numpy_path_streaming"],
        "first_call_s": first_call,
        "identical": bool(same),
    }


def baseline_prepare_one(record, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Full-resolution decode, a full-size mask per row, compose, then resize."""
    from PIL import Image

    with Image.open(record.path) as im:
        photo = im.convert("RGB")
    labels = compose(record.instances, record.height, record.width)
    image = np.asarray(photo.resize((size, size), Image.BILINEAR))
    mask = np.asarray(Image.fromarray(labels).resize((size, size), Image.NEAREST))
    return image, mask


_BASELINE_SCRIPT = """
import sys, numpy as np
from benchmarks.data import baseline_prepare_one
from fashionseg.data.formats import open_dataset
out = [baseline_prepare_one(r, int(sys.argv[2])) for r in open_dataset(sys.argv[1])]
np.save(sys.argv[3], np.stack([m for _, m in out]))
"""


def _prepare_process(data: Path, out: Path, size: int, workers: int, env: dict) -> float:
    """Seconds of a whole ``fashionseg prepare`` process (start-up and cache writes included)."""
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "fashionseg", "prepare", str(data), "--out", str(out),
         "--size", str(size), "--workers", str(workers)],
        check=True,
        capture_output=True,
        env=env,
    )  # fmt: skip
    return time.perf_counter() - t0


def bench_prepare(
    images: int = 24, size: int = 256, photo: str = "2400x3600", workers: list[int] | None = None
) -> dict:
    """``prepare`` vs the straightforward pipeline on large synthetic photos."""
    with tempfile.TemporaryDirectory(prefix="fashionseg-bench-") as tmp:
        return _bench_prepare(Path(tmp), images, size, photo, workers or [1, 2])


def _bench_prepare(tmp: Path, images: int, size: int, photo: str, workers: list[int]) -> dict:
    from PIL import Image

    from fashionseg.prepare.cache import open_cache, prepare_one
    from fashionseg.synth.writer import synth

    data = synth(tmp / "big", images=images, size=photo, seed=0, workers=2)
    records = list(open_dataset(data))
    masks_per_image = float(np.mean([len(r.instances) for r in records]))
    # Steady state, in one process.
    fast = _timeit(lambda: [prepare_one(r, size, size, False, "all") for r in records], repeat=2)
    slow = _timeit(lambda: [baseline_prepare_one(r, size) for r in records], repeat=1)

    def floor_decode():
        for r in records:
            with Image.open(r.path) as im:
                im.draft("RGB", (size, size))
                im.load()

    floor = _timeit(floor_decode)
    same = all(
        (prepare_one(r, size, size, False, "all")[1] == baseline_prepare_one(r, size)[1]).all()
        for r in records
    )
    # Whole processes, start-up and I/O included.
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc_fast = _prepare_process(data, tmp / "c1", size, 1, env)
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", _BASELINE_SCRIPT, str(data), str(size), str(tmp / "base.npy")],
        check=True,
        capture_output=True,
        env=env,
    )
    proc_slow = time.perf_counter() - t0
    same_process = bool(
        (np.asarray(open_cache(tmp / "c1").masks) == np.load(tmp / "base.npy")).all()
    )
    scaling = {w: images / _prepare_process(data, tmp / f"w{w}", size, w, env) for w in workers}
    return {
        "photos": f"{images} x {photo}",
        "masks_per_image": masks_per_image,
        "target": size,
        "steady_images_per_s": images / fast,
        "baseline_steady_images_per_s": images / slow,
        "steady_speedup": slow / fast,
        "process_images_per_s": images / proc_fast,
        "baseline_process_images_per_s": images / proc_slow,
        "process_speedup": proc_slow / proc_fast,
        "dct_decode_floor_images_per_s": images / floor,
        "share_of_floor": floor / fast,
        "masks_identical": bool(same and same_process),
        "process_images_per_s_by_workers": scaling,
    }


# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across fork and exec.
_RSS_SCRIPT = """
import sys
from fashionseg.prepare.cache import prepare
prepare(sys.argv[1], sys.argv[2], size=int(sys.argv[3]), workers=1)
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0]
print(hwm.split()[1])
"""


def synth_many(out: Path, n: int, photo: str, distinct: int = 100) -> Path:
    """``n`` photos for memory tests: ``distinct`` made by synth, the rest hard links to them
    under new ImageIds (decoding work per photo is the same; making them is 10x faster)."""
    import csv

    from fashionseg.synth.writer import synth

    base = synth(out.with_name(out.name + "-base"), images=min(n, distinct), size=photo, seed=0)
    (out / "train").mkdir(parents=True, exist_ok=True)
    shutil.copy(base / "label_descriptions.json", out)
    rows = list(csv.reader(open(base / "train.csv")))
    by_id: dict[str, list] = {}
    for row in rows[1:]:
        by_id.setdefault(row[0], []).append(row)
    ids = sorted(by_id)
    with open(out / "train.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(rows[0])
        for k in range(n):
            src = ids[k % len(ids)]
            new = f"{k:012d}"
            os.link(base / "train" / f"{src}.jpg", out / "train" / f"{new}.jpg")
            for row in by_id[src]:
                w.writerow([new, *row[1:]])
    return out


def bench_memory(counts=(100, 1000), photo: str = "640x960", size: int = 256) -> dict:
    """Peak RSS (MB) of a whole ``prepare`` process as the number of photos grows."""
    out = {"photo": photo, "target": size}
    for n in counts:
        with tempfile.TemporaryDirectory(prefix="fashionseg-bench-") as tmp:
            data = synth_many(Path(tmp) / "data", n, photo)
            proc = subprocess.run(
                [sys.executable, "-c", _RSS_SCRIPT, str(data), str(Path(tmp) / "cache"), str(size)],
                check=True,
                capture_output=True,
                text=True,
            )
        out[f"peak_rss_mb_{n}_photos"] = int(proc.stdout.split()[-1]) / 1024
    return out
