"""The study report's figures: validation curves, predicted-mask panels on test photos, the
chosen run's per-class IoU and most confused category pairs (PNG files)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from fashionseg.training.history import VALIDATION_COLUMNS
from fashionseg.use.render.colors import colorize, legend_handles


def curves(out: Path, rows: list[dict], fig_dir: Path) -> list[Path]:
    import matplotlib.pyplot as plt

    paths = []
    for model in sorted({r["model"] for r in rows if r["stage"] == 1}):
        fig, axes = plt.subplots(1, 4, figsize=(16, 3.4))
        for r in rows:
            if r["model"] != model or r["stage"] != 1 or r["status"] != "ok":
                continue
            hist = list(csv.DictReader(open(out / "runs" / r["run"] / "history.csv")))
            epochs = [int(h["epoch"]) for h in hist]
            label = f"{r['loss']} / {r['optimizer']} {r['lr']:g} (seed {r['seed']})"
            for ax, key in zip(axes, VALIDATION_COLUMNS):
                ax.plot(epochs, [float(h[key]) for h in hist], marker="o", ms=3, label=label)
                ax.set_title(key.replace("val_", "validation "))
                ax.set_xlabel("epoch")
        axes[0].legend(fontsize=7)
        fig.suptitle(f"{model}: losses and optimizers compared")
        fig.tight_layout()
        path = fig_dir / f"curves_{model}.png"
        fig.savefig(path, dpi=90)
        plt.close(fig)
        paths.append(path)
    return paths


def panels(
    out: Path, rows: list[dict], data: str, split: dict, fig_dir: Path, n_images: int = 3
) -> Path | None:
    import matplotlib.pyplot as plt
    import torch

    from fashionseg.data.compose import compose, keep_classes
    from fashionseg.data.formats import open_dataset
    from fashionseg.data.images import load_resized
    from fashionseg.inference.predictor import Predictor

    test_ids = set(split["test"].read_text().split())
    records = [r for r in open_dataset(data) if r.image_id in test_ids and not r.error][:n_images]
    # One run per model from stage 1 (its best) plus every stage-2 run.
    chosen, seen_models = [], set()
    for r in sorted(
        (r for r in rows if r["status"] == "ok"), key=lambda r: (r["stage"] != 2, -r["val_miou"])
    ):
        if r["stage"] == 2 or r["model"] not in seen_models:
            chosen.append(r)
            seen_models.add(r["model"])
    if not records or not chosen:
        return None
    preds = {}
    for r in chosen:
        predictor = Predictor(out / "runs" / r["run"] / "best.pt", "cpu")
        for rec in records:
            canvas = load_resized(
                rec.path, rec.height, rec.width, *predictor.size, predictor.keep_aspect
            )
            with torch.no_grad():
                logits = predictor.logits(canvas[None])[0]
            preds[(r["run"], rec.image_id)] = predictor.labels(logits, rec.height, rec.width)
    names = predictor.categories.names()
    classes = predictor.config.get("classes", "all")
    cols = 2 + len(chosen)
    fig, axes = plt.subplots(
        len(records), cols, figsize=(2.2 * cols, 3.2 * len(records) + 1), squeeze=False
    )
    present: set[int] = set()
    from PIL import Image

    for i, rec in enumerate(records):
        truth = compose(keep_classes(rec.instances, classes), rec.height, rec.width)
        present |= set(np.unique(truth).tolist())
        with Image.open(rec.path) as im:
            axes[i, 0].imshow(im.convert("RGB"))
        axes[i, 1].imshow(colorize(truth, len(names)))
        for j, r in enumerate(chosen):
            pred = preds[(r["run"], rec.image_id)]
            present |= set(np.unique(pred).tolist())
            axes[i, 2 + j].imshow(colorize(pred, len(names)))
            if i == 0:
                axes[i, 2 + j].set_title(
                    f"{r['model']}\n{r['loss']}/{r['optimizer']} @{r['size']}", fontsize=7
                )
        if i == 0:
            axes[i, 0].set_title("photo", fontsize=8)
            axes[i, 1].set_title("truth", fontsize=8)
    for ax in axes.ravel():
        ax.axis("off")
    fig.legend(handles=legend_handles(present, names), loc="lower center", ncol=4, fontsize=7)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    path = fig_dir / "predictions.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def best_run_figures(out: Path, best: dict, fig_dir: Path) -> list[Path]:
    import matplotlib.pyplot as plt

    test = json.loads((out / "runs" / best["run"] / "test_metrics.json").read_text())
    per = {k: v for k, v in test["per_class_iou"].items() if v is not None}
    paths = []
    fig, ax = plt.subplots(figsize=(8, max(3, 0.28 * len(per))))
    items = sorted(per.items(), key=lambda kv: kv[1])
    ax.barh([k for k, _ in items], [v for _, v in items], color="#3b7dd8")
    ax.set_xlabel("test IoU")
    ax.set_xlim(0, 1)
    ax.set_title(f"Per-class IoU of the best run ({best['run']})", fontsize=9)
    fig.tight_layout()
    paths.append(fig_dir / "per_class_iou.png")
    fig.savefig(paths[-1], dpi=90)
    plt.close(fig)

    cm = np.array(test["confusion"], dtype=float)
    names = list(test["per_class_iou"])
    off = cm.copy()
    np.fill_diagonal(off, 0)
    pairs = np.dstack(np.unravel_index(np.argsort(-off, axis=None), off.shape))[0][:12]
    keep = sorted({int(i) for p in pairs for i in p if off[p[0], p[1]] > 0})
    if keep:
        rows_norm = cm[np.ix_(keep, keep)] / np.maximum(cm[keep].sum(1, keepdims=True), 1)
        fig, ax = plt.subplots(figsize=(1 + 0.5 * len(keep), 0.8 + 0.45 * len(keep)))
        im = ax.imshow(rows_norm, cmap="magma_r", vmin=0, vmax=1)
        labels = [names[i][:18] for i in keep]
        ax.set_xticks(range(len(keep)), labels, rotation=60, ha="right", fontsize=7)
        ax.set_yticks(range(len(keep)), labels, fontsize=7)
        ax.set_xlabel("predicted")
        ax.set_ylabel("truth")
        ax.set_title("Most confused categories (row-normalised)", fontsize=9)
        fig.colorbar(im, ax=ax, fraction=0.046)
        fig.tight_layout()
        paths.append(fig_dir / "confusion.png")
        fig.savefig(paths[-1], dpi=90)
        plt.close(fig)
    return paths
