"""Screen the pretrained recipe's levers on the CPU at small scale.

    python benchmarks/screen_pretrained.py --data ../shared/data/ccp-fashionpedia \
        --unlabelled ../shared/data/ccp-unlabelled --out screens/pretrained

Two parts, each row one change from its part's base, scored on the fixed validation split at
cache resolution:

- the labelled-only levers (encoder size, input size, augmentation strength, schedule length,
  loss, class weights), each a run from the ImageNet encoder;
- the semi-supervised levers, each continuing the base run's weights (``init``) for a few
  epochs: labelled photos only, plus the unlabelled photos, plus their tags, with a
  class-balanced threshold, with half the unlabelled weight.

The table goes to OUT/screen.md (docs/accuracy.md records a run); finished rows are skipped
on a rerun, so an interrupted screen continues.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from screen_ccp import table  # the folder of this script is on sys.path

from fashionseg.config import TrainConfig
from fashionseg.training.engine import train

VAL = str(Path(__file__).resolve().parents[1] / "configs" / "ccp" / "val.txt")

# configs/ccp_pretrained.yaml, scaled down for 2 CPU cores: a smaller input, a fixed number of
# epochs, and no EMA (an EMA of 0.995 lags a run of a few hundred steps; docs/accuracy.md).
BASE = dict(
    model="deeplabv3plus",
    encoder="efficientnet_lite0",
    pretrained=True,
    size="128x192",
    keep_aspect=True,
    loss="ce+dice",
    optimizer="adamw",
    lr=1e-3,
    weight_decay=1e-4,
    schedule="cosine",
    warmup_epochs=1,
    epochs=8,
    batch_size=16,
    hflip=True,
    scale_min=0.5,
    scale_max=1.75,
    color_jitter=0.3,
    ema=0.0,
    workers=1,
    val_list=VAL,
    tensorboard=False,
)

# (key, what changes) relative to BASE
LABELLED = [
    ("base", "base: Lite0, 128x192, flip + scale 0.5-1.75 + jitter 0.3, 8 epochs, CE + Dice", {}),
    ("lite2", "encoder Lite2 (Lite0: 3.9 M parameters in all, Lite2: 5.3 M)",
     {"encoder": "efficientnet_lite2"}),
    ("size160", "input 160x240 (1.56x the pixels)", {"size": "160x240"}),
    ("aug-off", "augmentation off (flip only)", {"scale_min": 1.0, "scale_max": 1.0,
                                                 "color_jitter": 0.0}),
    ("aug-strong", "augmentation stronger: scale 0.35-2.0, jitter 0.5",
     {"scale_min": 0.35, "scale_max": 2.0, "color_jitter": 0.5}),
    ("epochs16", "schedule twice as long: 16 epochs", {"epochs": 16}),
    ("ce", "loss CE alone", {"loss": "ce"}),
    ("median", "median-frequency class weights", {"class_weights": "median"}),
]  # fmt: skip

# Continuations of the base run: a teacher that is already decent from the first step.
CONTINUE = dict(epochs=3, warmup_epochs=0, lr=3e-4, ema=0.99)
SEMI = [
    ("cont", "continue 3 epochs, labelled only", {}),
    ("cont-unl", "+ unlabelled photos, tags ignored", {"unlabelled": "U", "tags": False}),
    ("cont-tags", "+ unlabelled photos, tags obeyed", {"unlabelled": "U"}),
    ("cont-balanced", "+ tags, class-balanced threshold",
     {"unlabelled": "U", "pseudo_balance": 0.5}),
    ("cont-half", "+ tags, unlabelled weight 0.5", {"unlabelled": "U", "unlabelled_weight": 0.5}),
]  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--unlabelled", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--only", default="", help="comma-separated row keys (default: all)")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    only = set(filter(None, args.only.split(",")))
    rows = []
    base_ckpt = str((out / "base" / "best.pt").resolve())
    parts = [(LABELLED, dict(BASE)), (SEMI, dict(BASE, **CONTINUE, init=base_ckpt))]
    for part, start in parts:
        for key, name, change in part:
            if only and key not in only:
                continue
            change = {k: (args.unlabelled if v == "U" else v) for k, v in change.items()}
            settings = dict(start, **change, data=args.data, out=str(out / key))
            rows.append(_row(key, name, settings))
            table(rows, out / "screen.md", first="key")


def _row(key: str, name: str, settings: dict) -> dict:
    done = Path(settings["out"]) / "result.json"
    if done.exists():
        return json.loads(done.read_text())
    t0 = time.time()
    metrics = train(TrainConfig(**settings))
    row = {
        "key": key,
        "change": name,
        "val_miou": metrics["miou"],
        "val_binary_iou": metrics["binary_iou"],
        "val_pixel_accuracy": metrics["pixel_accuracy"],
        "minutes": (time.time() - t0) / 60,
        "config": settings,
    }
    done.write_text(json.dumps(row, indent=1))
    return row


if __name__ == "__main__":
    main()
