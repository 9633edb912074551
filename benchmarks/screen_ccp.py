"""Screen training-recipe changes on the CPU, one at a time, on the fixed CCP validation split.

    python benchmarks/screen_ccp.py --data ../shared/data/ccp-fashionpedia --out screens/ccp

Each step adds one change to the previous best; the table of validation metrics and minutes goes
to OUT/screen.md (docs/accuracy.md records a run). Finished steps are skipped on a rerun.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from fashionseg.config import TrainConfig
from fashionseg.training.engine import train

VAL = str(Path(__file__).resolve().parents[1] / "configs" / "ccp" / "val.txt")

# The study's plain setup, scaled down for 2 CPU cores.
BASE = dict(
    model="unet",
    width=16,
    size="80",
    optimizer="adam",
    lr=1e-3,
    loss="ce",
    epochs=12,
    batch_size=8,
    hflip=True,
    workers=1,
    val_list=VAL,
    tensorboard=False,
    eval_every=4,
)

# (name, changes relative to the step before it)
STEPS = [
    ("study setup: unet w16, Adam 1e-3, CE, 80x80 squashed, flip", {}),
    ("aspect kept: 64x96 (WxH, the photos' 2:3, 4% fewer pixels)", {"size": "64x96"}),
    ("+ scale 0.5-1.5 / crop, colour jitter 0.2", {"scale_min": 0.5, "scale_max": 1.5,
                                                   "color_jitter": 0.2}),
    ("+ AdamW 2e-3, wd 1e-4, cosine, 1 warm-up epoch", {"optimizer": "adamw", "lr": 2e-3,
                                                       "weight_decay": 1e-4, "schedule": "cosine",
                                                       "warmup_epochs": 1}),
    ("+ CE + Dice loss", {"loss": "ce+dice"}),
    ("unet_resnet34 instead of unet w16", {"model": "unet_resnet34"}),
    ("+ EMA 0.99 of weights", {"ema": 0.99}),
    ("deeplabv3plus instead of unet_resnet34", {"model": "deeplabv3plus"}),
]  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=len(STEPS))
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    settings = dict(BASE, data=args.data)
    rows = []
    for k, (name, change) in enumerate(STEPS[: args.steps]):
        settings.update(change)
        run = out / f"step{k}"
        done = run / "result.json"
        if done.exists():
            rows.append(json.loads(done.read_text()))
            continue
        t0 = time.time()
        metrics = train(TrainConfig(**dict(settings, out=str(run))))
        row = {
            "step": k,
            "change": name,
            "val_miou": metrics["miou"],
            "val_binary_iou": metrics["binary_iou"],
            "val_pixel_accuracy": metrics["pixel_accuracy"],
            "minutes": (time.time() - t0) / 60,
            "config": dict(settings),
        }
        done.write_text(json.dumps(row, indent=1))
        rows.append(row)
        table(rows, out / "screen.md")


def table(rows: list[dict], path: Path, first: str = "step") -> None:
    """Write (and print) the screen's markdown table; ``first`` is the rows' name column."""
    lines = [
        f"| {first} | change | val mIoU | val binary IoU | val pixel acc | minutes |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r[first]} | {r['change']} | {r['val_miou']:.3f} | {r['val_binary_iou']:.3f} "
            f"| {r['val_pixel_accuracy']:.3f} | {r['minutes']:.1f} |"
        )
    path.write_text("\n".join(lines) + "\n")
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    main()
