"""``score`` against the Fashionpedia API's ``FPEval`` at Fashionpedia's validation size: a
Fashionpedia-shaped ground truth (``fashionpedia_like``) and a results file of 100 detections
per photo (moved copies of the instances with mixed attributes, and false positives), each
scored in a fresh process; the figures must agree to 1e-9.

    python -m benchmarks.score_scale [--images 1158] [--detections 100] [--out /tmp/score]

FPEval needs ``pip install fashionpedia`` (its ``np.float`` is patched back for NumPy 2).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.fashionpedia_like import coco_file, polygon

FASHIONSEG = str(Path(sys.executable).with_name("fashionseg"))

# FPEval in a process of its own: its figures (JSON) on stdout.
REFERENCE = """
import json, sys
import numpy as np
np.float = float
from fashionpedia.fp import Fashionpedia
from fashionpedia.fp_eval import FPEval
gt = Fashionpedia(sys.argv[1])
ev = FPEval(gt, gt.loadRes(json.load(open(sys.argv[2]))), "segm")
ev.run()
print(json.dumps({"iou_f1": ev.results, "iou": ev.resultDet, "f1": ev.resultF1}))
"""


def results_for(gt: dict, detections: int, seed: int = 0) -> list[dict]:
    """``detections`` per photo: each instance moved a little (its category kept 85% of the
    time, its attributes mixed), then false positives of any category up to the count."""
    from pycocotools import mask as mask_utils

    rng = np.random.default_rng(seed)
    attributes = np.array([a["id"] for a in gt["attributes"]])
    by_image: dict[int, list[dict]] = {}
    for ann in gt["annotations"]:
        by_image.setdefault(ann["image_id"], []).append(ann)
    out = []
    for img in gt["images"]:
        h, w = img["height"], img["width"]
        polygons = []
        for ann in by_image.get(img["id"], [])[:detections]:
            seg = ann["segmentation"]
            if isinstance(seg, dict):
                seg = [polygon(rng, h, w)]
            poly = np.array(seg[0]).reshape(-1, 2) + rng.normal(0, 0.02 * min(h, w), 2)
            poly = np.clip(poly, 0, [w - 1, h - 1])
            category = ann["category_id"] if rng.random() < 0.85 else int(rng.integers(0, 46))
            keep = [a for a in ann["attribute_ids"] if rng.random() < 0.7]
            if rng.random() < 0.4:
                keep.append(int(rng.choice(attributes)))
            polygons.append((poly.ravel().tolist(), category, sorted(set(keep))))
        while len(polygons) < detections:
            extra = rng.choice(attributes, int(rng.integers(0, 3)), replace=False).tolist()
            polygons.append((polygon(rng, h, w), int(rng.integers(0, 46)), sorted(extra)))
        for poly, category, attrs in polygons:
            rle = mask_utils.merge(mask_utils.frPyObjects([poly], h, w))
            out.append(
                {"image_id": img["id"], "category_id": category,
                 "segmentation": {"size": [h, w], "counts": rle["counts"].decode()},
                 "score": round(float(rng.random()), 4), "attribute_ids": attrs}
            )  # fmt: skip
    return out


def timed(command: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{command[:3]} failed:\n{done.stderr[-2000:]}")
    return time.perf_counter() - start, done.stdout


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=1158)
    p.add_argument("--detections", type=int, default=100)
    p.add_argument("--out", default="/tmp/fashionseg-score-scale")
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    gt_path, res_path = out / "gt.json", out / "results.json"
    gt = coco_file(args.images, seed=1)
    gt_path.write_text(json.dumps(gt))
    res_path.write_text(json.dumps(results_for(gt, args.detections)))
    metrics = out / "ours.json"
    ours_s, _ = timed(
        [FASHIONSEG, "score", str(res_path), "--data", str(gt_path), "--out", str(metrics)]
    )
    ref_s, ref_out = timed([sys.executable, "-c", REFERENCE, str(gt_path), str(res_path)])
    reference = json.loads(ref_out.strip().splitlines()[-1])
    ours = json.loads(metrics.read_text())["fpeval"]
    worst = max(
        abs(ours[kind][key] - float(value))
        for kind in reference
        for key, value in reference[kind].items()
    )
    n = args.images * args.detections
    print(f"{args.images} photos x {args.detections} detections ({n} entries)")
    print(f"fashionseg score: {ours_s:.1f} s (COCO mask and box AP and FPEval's figures)")
    print(f"FPEval:           {ref_s:.1f} s; score is {ref_s / ours_s:.2f}x faster")
    print(
        f"largest difference over FPEval's {sum(map(len, reference.values()))} figures: {worst:.1e}"
    )
    if worst > 1e-9:
        raise SystemExit("the figures differ from FPEval's")


if __name__ == "__main__":
    main()
