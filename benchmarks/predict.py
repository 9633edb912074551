"""``fashionseg bench predict``: photos/s of ``predict`` end to end against the model alone,
on the same machine in one run, with where the rest of the time goes and the peak memory for a
small and a large folder.

The folder is the real CCP photos (the bundled sample, or ``--data``) repeated under new names
up to the size asked for, as a catalogue team's folder of real-size photos would be.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path

import numpy as np

from fashionseg.machine import available_cores

# Peak memory of a whole predict run, read from the child itself (VmHWM: see benchmarks/data.py).
_PREDICT_SCRIPT = """
import sys, time
from fashionseg.use.predict.folder import predict
t = time.perf_counter()
predict(sys.argv[1], [sys.argv[2]], sys.argv[3], device=sys.argv[4], workers=int(sys.argv[5]))
seconds = time.perf_counter() - t
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0]
print(seconds, hwm.split()[1])
"""


def photo_folder(out: Path, n: int, source: Path | None = None) -> Path:
    """``n`` real photos in ``out``: the source photos repeated as symbolic links."""
    source = source or Path(str(resources.files("fashionseg") / "sample" / "ccp" / "train"))
    photos = sorted(source.glob("*.jpg"))
    out.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (out / f"p{i:05d}.jpg").symlink_to(photos[i % len(photos)].resolve())
    return out


def bench_predict(
    model: str | None = None,
    photos: int = 2000,
    small: int = 200,
    device: str = "cpu",
    workers: int | None = None,
    data: str | None = None,
) -> dict:
    """End-to-end photos/s of ``predict`` against model-only photos/s, the time per photo of
    the work around the model, and peak memory for ``small`` and ``photos`` photos."""
    from fashionseg.bundled import bundled_model
    from fashionseg.data.images import read_photo
    from fashionseg.inference.predictor import Predictor
    from fashionseg.use.predict.pipeline import write_processes
    from fashionseg.use.predict.segmentation import Products, Segmentation
    from fashionseg.use.predict.write import write_photo

    model = str(model or bundled_model())
    workers = workers or available_cores()  # predict's default: one thread per core
    source = Path(data) / "train" if data else None
    predictor = Predictor(model, device)
    result: dict = {
        "model": predictor.name,
        "backend": predictor.backend,
        "device": device,
        "workers": workers,
        "write_processes": write_processes(photos, available_cores()),
    }
    with tempfile.TemporaryDirectory(prefix="fashionseg-bench-predict-") as tmp:
        folder = photo_folder(Path(tmp) / "photos", photos, source)
        files = sorted(folder.glob("*.jpg"))
        # The model alone: canvases made beforehand, batches of 8, as predict batches them.
        canvases = np.stack([predictor.canvas(p) for p in files[:64]])
        predictor.logits(canvases[:8])
        t0, done = time.perf_counter(), 0
        while time.perf_counter() - t0 < 20 and done < len(files):
            predictor.logits(canvases[done % 64 : done % 64 + 8])
            done += 8
        model_rate = done / (time.perf_counter() - t0)
        # The work around the model, per photo, one thread: decode + canvas, then the outputs.
        sample = files[:40]
        t0 = time.perf_counter()
        decoded = [(read_photo(p), predictor.canvas(p)) for p in sample]
        decode_ms = (time.perf_counter() - t0) * 1000 / len(sample)
        labels = [
            predictor.labels(lg, ph.height, ph.width)
            for (ph, _), lg in zip(decoded, predictor.logits(np.stack([c for _, c in decoded])))
        ]
        scratch = Path(tmp) / "scratch"
        scratch.mkdir()
        t0 = time.perf_counter()
        for i, ((photo, _), lab) in enumerate(zip(decoded, labels)):
            seg = Segmentation.of(photo, lab, predictor.categories.names(), predictor.name, "x.jpg")
            write_photo(scratch, f"s{i}", seg, Products())
        write_ms = (time.perf_counter() - t0) * 1000 / len(sample)
        runs = {}
        for n in (small, photos):
            sub = folder if n == photos else photo_folder(Path(tmp) / f"photos{n}", n, source)
            child = subprocess.run(
                [sys.executable, "-c", _PREDICT_SCRIPT, model, str(sub), str(Path(tmp) / f"out{n}"),
                 device, str(workers)],
                capture_output=True, text=True, env=dict(os.environ, PYTHONWARNINGS="ignore"),
            )  # fmt: skip
            if child.returncode != 0:
                raise RuntimeError(f"predict failed: {child.stderr.strip().splitlines()[-1]}")
            seconds, hwm_kb = child.stdout.split()[-2:]
            runs[n] = {"seconds": float(seconds), "peak_mb": int(hwm_kb) / 1024}
    e2e = photos / runs[photos]["seconds"]
    result.update(
        photos=photos,
        model_only_photos_per_s=round(model_rate, 2),
        end_to_end_photos_per_s=round(e2e, 2),
        ratio=round(e2e / model_rate, 3),
        model_ms_per_photo=round(1000 / model_rate, 1),
        decode_ms_per_photo=round(decode_ms, 1),
        write_ms_per_photo=round(write_ms, 1),
        peak_mb={str(n): round(r["peak_mb"], 1) for n, r in runs.items()},
    )
    return result
