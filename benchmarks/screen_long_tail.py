"""Screen the long-tail levers on the CPU: repeat-factor sampling, copy-paste, class-balanced
losses, each against the same base with the same budget, reporting the rare classes' IoU.

    python benchmarks/screen_long_tail.py --data ../shared/data/ccp-fashionpedia --out screens/tail
    python benchmarks/screen_long_tail.py ... --init C-best-fp16.pt   # fine-tune a checkpoint

Without ``--init`` each row trains from the ImageNet encoder at the small scale of
``screen_pretrained.py``; with it, each row fine-tunes that checkpoint for ``--epochs``. Scored
on ``configs/ccp/val.txt`` at cache resolution; finished rows are skipped on a rerun.
``--quick`` is a dry run of every row on a few synthetic photos.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from screen_pretrained import BASE  # the folder of this script is on sys.path

from fashionseg.config import TrainConfig
from fashionseg.training.engine import train

# The garments the bundled model never finds (docs/accuracy.md), and two it rarely does.
RARE = ["cardigan", "cape", "tie", "glove", "watch", "sock", "jumpsuit", "vest"]

ROWS = [
    ("base", "base (as screen_pretrained's, CE + Dice)", {}),
    ("repeat", "repeat-factor sampling, t = 0.1", {"repeat_threshold": 0.1}),
    ("paste", "copy-paste, half the photos, rare garments favoured", {"copy_paste": 0.5}),
    ("both", "repeat t = 0.1 + copy-paste 0.5", {"repeat_threshold": 0.1, "copy_paste": 0.5}),
    ("median", "median-frequency class weights", {"class_weights": "median"}),
    ("focal", "focal loss (gamma 2)", {"loss": "focal"}),
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", help="a Kaggle-layout folder (default with --quick: synthetic)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--init", default="", help="a checkpoint every row fine-tunes")
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--only", default="", help="comma-separated row keys (default: all)")
    ap.add_argument("--quick", action="store_true", help="a dry run on synthetic photos")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    base = dict(BASE, epochs=args.epochs)
    if args.init:
        base.update(init=args.init, warmup_epochs=0, lr=3e-4)
    if args.quick:
        from fashionseg.synth.writer import synth

        args.data = str(synth(out / "synth", images=12, size="64x96", seed=0, workers=1))
        base.update(size="32x48", epochs=1, batch_size=4, val_list="", val_fraction=0.25,
                    pretrained=False, encoder="", model="unet", width=4)  # fmt: skip
    only = set(filter(None, args.only.split(",")))
    rows = []
    for key, name, change in ROWS:
        if not only or key in only:
            settings = dict(base, **change, data=args.data, out=str(out / key))
            rows.append(_row(key, name, settings))
            _table(rows, out / "screen.md")


def _row(key: str, name: str, settings: dict) -> dict:
    done = Path(settings["out"]) / "result.json"
    if done.exists():
        return json.loads(done.read_text())
    t0 = time.time()
    metrics = train(TrainConfig(**settings))
    per_class = metrics.get("per_class_iou", {})
    row = {
        "key": key, "change": name, "miou": metrics["miou"], "binary_iou": metrics["binary_iou"],
        "rare": {c: per_class.get(c) for c in RARE}, "minutes": (time.time() - t0) / 60,
        "config": settings,
    }  # fmt: skip
    done.write_text(json.dumps(row, indent=1))
    return row


def _table(rows: list[dict], path: Path) -> None:
    head = "| row | change | mIoU | binary IoU | " + " | ".join(RARE) + " | minutes |"
    lines = [head, "| --- | --- | ---: | ---: | " + " | ".join("---:" for _ in RARE) + " | ---: |"]
    for r in rows:
        rare = " | ".join("-" if r["rare"][c] is None else f"{r['rare'][c]:.3f}" for c in RARE)
        lines.append(
            f"| {r['key']} | {r['change']} | {r['miou']:.3f} | {r['binary_iou']:.3f} | {rare} "
            f"| {r['minutes']:.1f} |"
        )
    path.write_text("\n".join(lines) + "\n")
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    main()
