"""Figures of the bundled model's card: latency per photo at batch 1 (eager PyTorch, ONNX
float32, ONNX int8) and the pixel agreement of int8 with float32 on the validation photos.

    python benchmarks/bundled_model.py --checkpoint C-best-fp16.pt --float m.onnx \\
        --int8 src/fashionseg/bundled/ccp-lite0-int8.onnx --data ../shared/data/ccp-fashionpedia

Prints one JSON document; run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from fashionseg.inference.predictor import Predictor
from fashionseg.machine import available_cores


def latency(predictor: Predictor, photo: Image.Image, repeats: int) -> dict:
    """Milliseconds from decoded photo to label map at the photo's size (canvas, model, upsample)."""
    predictor.labels(predictor.logits(predictor.canvas(photo)[None])[0], photo.height, photo.width)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        logits = predictor.logits(predictor.canvas(photo)[None])
        predictor.labels(logits[0], photo.height, photo.width)
        times.append((time.perf_counter() - start) * 1000)
    return {
        "median_ms": round(statistics.median(times), 1),
        "p90_ms": round(np.percentile(times, 90), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--float", required=True, dest="float_model")
    parser.add_argument("--int8", required=True)
    parser.add_argument("--data", required=True, help="Kaggle-layout folder of the photos")
    parser.add_argument("--ids", default="configs/ccp/val.txt")
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    threads = available_cores()
    torch.set_num_threads(threads)
    ids = Path(args.ids).read_text().split()
    photos = [Image.open(Path(args.data) / "train" / f"{i}.jpg").convert("RGB") for i in ids]
    # A typical CCP photo (275 x 413) for the latency.
    sample = next(p for p in photos if p.size == (275, 413))
    models = {
        "eager": Predictor(args.checkpoint, device="cpu"),
        "onnx_float32": Predictor(args.float_model, threads=threads),
        "onnx_int8": Predictor(args.int8, threads=threads),
    }
    result = {
        "machine": f"{platform.processor() or platform.machine()}, {threads} cores",
        "photo": list(sample.size),
        "canvas": list(models["onnx_int8"].size),
        "latency": {k: latency(p, sample, args.repeats) for k, p in models.items()},
        "sizes_mb": {
            k: round(Path(v).stat().st_size / 1e6, 2)
            for k, v in (("onnx_float32", args.float_model), ("onnx_int8", args.int8))
        },
    }
    agree = total = 0
    for photo in photos:
        a, b = (
            models[k].labels(
                models[k].logits(models[k].canvas(photo)[None])[0], photo.height, photo.width
            )
            for k in ("onnx_float32", "onnx_int8")
        )
        agree += int((a == b).sum())
        total += a.size
    result["int8_pixel_agreement_val"] = round(agree / total, 4)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
