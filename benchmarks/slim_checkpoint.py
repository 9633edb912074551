"""A checkpoint cut down to what predict, evaluate and export read: the weights in float16,
the config, the categories and the history (no optimizer, raw weights or EMA state).

    python benchmarks/slim_checkpoint.py RUN/best.pt RUN/best-fp16.pt
"""

from __future__ import annotations

import sys

from fashionseg.checkpoint import load_checkpoint, save_checkpoint

KEEP = (
    "config",
    "categories",
    "history",
    "epoch",
    "best",
    "selection",
    "best_miou",
    "epochs_planned",
)


def main(src: str, dst: str) -> None:
    state = load_checkpoint(src)
    weights = {k: v.half() if v.dtype.is_floating_point else v for k, v in state["model"].items()}
    save_checkpoint({"model": weights, **{k: state[k] for k in KEEP if k in state}}, dst)


if __name__ == "__main__":
    main(*sys.argv[1:3])
