"""Per-photo latency of an instance model at batch 1: from the decoded photo to its detections
and label map (``Predictor.canvas``, ``logits``, ``labels``, ``instances``), as predict does it.

    python -m benchmarks.instance_latency MODEL.pt|MODEL.onnx PHOTO [--reps 10] [--threads 2]

Prints the median and 90th percentile in milliseconds after two warm-up runs.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from PIL import Image

from fashionseg.inference.predictor import Predictor


def latency(model: str, photo: str, reps: int = 10, threads: int = 2) -> dict:
    """Median and p90 milliseconds of one photo through ``model`` on ``threads`` cores."""
    torch.set_num_threads(threads)
    predictor = Predictor(model, device="cpu", threads=threads)
    image = Image.open(photo).convert("RGB")

    def once() -> int:
        canvas = predictor.canvas(image)
        out = predictor.logits(canvas[None])[0]
        return len(predictor.result(out, image.height, image.width, instances=True).detections)

    for _ in range(2):
        once()
    times, found = [], 0
    for _ in range(reps):
        t0 = time.perf_counter()
        found = once()
        times.append(1000 * (time.perf_counter() - t0))
    return {
        "backend": predictor.backend,
        "photo": f"{image.width}x{image.height}",
        "median_ms": round(float(np.median(times)), 1),
        "p90_ms": round(float(np.percentile(times, 90)), 1),
        "detections": found,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("photo")
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    print(latency(args.model, args.photo, args.reps, args.threads))


if __name__ == "__main__":
    main()
