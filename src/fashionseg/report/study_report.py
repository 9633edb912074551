"""The study report: tables in the spirit of the study's Tables I-IV, curves, mask panels, the
best run's per-class IoU, its most confused category pairs, and a generated summary.

Writes ``report.md`` and a self-contained ``report.html`` (figures embedded as base64) with the
PNG figures beside them in ``figures/``.
"""

from __future__ import annotations

import base64
import csv
import html
import json
from pathlib import Path

import numpy as np

from ..selection import best_run, rank_combinations
from .colors import colorize, legend_handles


def _fmt(v, digits: int = 3) -> str:
    if v is None or v == "":
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def _table(headers: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + " --- |" * len(headers)]
    lines += ["| " + " | ".join(_fmt(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def _group(rows: list[dict], keys: tuple[str, ...]) -> dict:
    groups: dict = {}
    for r in rows:
        if r["status"] == "ok":
            groups.setdefault(tuple(r[k] for k in keys), []).append(r)
    return groups


def _mean_std(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{np.mean(values):.3f} ± {np.std(values, ddof=1):.3f}"


def _curves(out: Path, rows: list[dict], fig_dir: Path) -> list[Path]:
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
            for ax, key in zip(
                axes, ["val_loss", "val_pixel_accuracy", "val_binary_iou", "val_miou"]
            ):
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


def _panels(
    out: Path, rows: list[dict], data: str, split: dict, fig_dir: Path, n_images: int = 3
) -> Path | None:
    import matplotlib.pyplot as plt
    import torch

    from ..data.compose import compose, keep_classes
    from ..data.formats import open_dataset
    from ..data.images import load_resized
    from ..use.inference import Predictor

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


def _best_run_figures(out: Path, best: dict, fig_dir: Path) -> list[Path]:
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


def _key(r: dict) -> tuple:
    return (r["stage"], r["model"], r["loss"], r["optimizer"], r["lr"], r["size"])


def _summary(rows: list[dict], cfg) -> str:
    ok = [r for r in rows if r["status"] == "ok"]
    if not ok:
        return "No run finished; see the error column of results.csv."
    last = max(int(r["stage"]) for r in ok)
    ranked = [
        (score, _key(g[0]), g) for score, g in rank_combinations(rows, last)
    ]  # by validation mIoU: the study's one selection rule
    best_score, best_key, best_runs = ranked[0]
    text = (
        f"The best combination, by validation mIoU, is **{best_key[1]} with {best_key[2]} loss "
        f"and {best_key[3]} (lr {best_key[4]:g}) at {best_key[5]}**: validation mIoU "
        f"{best_score:.3f}; on the held-out test split mIoU "
        f"{np.mean([r['test_miou'] for r in best_runs]):.3f} (pixel accuracy "
        f"{np.mean([r['test_pixel_accuracy'] for r in best_runs]):.3f}, binary IoU "
        f"{np.mean([r['test_binary_iou'] for r in best_runs]):.3f})."
    )
    if len(ranked) > 1:
        second_score, second_key, second_runs = ranked[1]
        margin = best_score - second_score
        text += f" It leads {second_key[1]} / {second_key[2]} / {second_key[3]} at {second_key[5]} by {margin:.3f} mIoU."
        spread = [np.std([r["val_miou"] for r in g], ddof=1) for _, _, g in ranked if len(g) > 1]
        if spread:
            noise = float(np.mean(spread))
            if margin < 2 * noise:
                text += f" Caution: the margin is within seed noise (typical spread over seeds {noise:.3f})."
            else:
                text += f" The margin exceeds twice the spread over seeds ({noise:.3f})."
        else:
            text += " Caution: one seed per combination, so seed noise is unmeasured; add seeds to the study config before trusting small margins."
    failed = [r for r in rows if r["status"] == "failed"]
    if failed:
        text += f" {len(failed)} run(s) failed; see results.csv."
    return text


def write_report(out: Path, rows: list[dict], cfg, data: str, split: dict) -> Path:
    """Write ``report.md`` and ``report.html``; returns the HTML path."""
    import matplotlib

    matplotlib.use("Agg")
    fig_dir = out / "figures"
    fig_dir.mkdir(exist_ok=True)
    ok = [r for r in rows if r["status"] == "ok"]
    md = [
        "# Study report",
        "",
        f"Data: `{data}`. Sizes {', '.join(cfg.sizes)}; {cfg.epochs} epochs; width {cfg.width}; "
        f"seeds {cfg.seeds}. Test split: {len(split['test'].read_text().split())} images never used for selection.",
        "",
    ]
    md += ["## Summary", "", _summary(rows, cfg), ""]

    table1 = []
    for key, g in sorted(
        _group(rows, ("stage", "size", "model", "loss", "optimizer", "lr")).items(),
        key=lambda kv: (kv[0][0], -np.mean([r["val_miou"] for r in kv[1]])),
    ):
        table1.append(
            [
                key[0],
                key[1],
                key[2],
                key[3],
                f"{key[4]} {key[5]:g}",
                _mean_std([r["val_miou"] for r in g]),
                float(np.mean([r["test_pixel_accuracy"] for r in g])),
                float(np.mean([r["test_binary_iou"] for r in g])),
                _mean_std([r["test_miou"] for r in g]),
                float(np.mean([r["test_mean_class_accuracy"] for r in g])),
                float(np.mean([r["minutes"] for r in g])),
                float(np.mean([r["images_per_second"] for r in g])),
            ]
        )
    md += [
        "## Table I: every combination",
        "",
        "Pixel accuracy and binary IoU as in the original study; mIoU is the headline.",
        "",
    ]
    md += [
        _table(
            [
                "stage",
                "size",
                "model",
                "loss",
                "optimizer",
                "val mIoU",
                "test pixel acc",
                "test binary IoU",
                "test mIoU",
                "test mean class acc",
                "train min",
                "img/s",
            ],
            table1,
        ),
        "",
    ]

    for title, key in (
        ("Table II: optimizers compared (test mIoU)", "optimizer"),
        ("Table III: losses compared (test mIoU)", "loss"),
    ):
        values = sorted({r[key] for r in ok if r["stage"] == 1})
        trows = []
        for model in sorted({r["model"] for r in ok if r["stage"] == 1}):
            cells = [model]
            for v in values:
                g = [
                    r["test_miou"]
                    for r in ok
                    if r["stage"] == 1 and r["model"] == model and r[key] == v
                ]
                cells.append(_mean_std(g) if g else "-")
            trows.append(cells)
        md += [f"## {title}", "", _table(["model"] + values, trows), ""]

    finals = [r for r in ok if r["stage"] == 2]
    if finals:
        trows = []
        for r in finals:
            first = [
                x
                for x in ok
                if x["stage"] == 1
                and (x["model"], x["loss"], x["optimizer"], x["lr"], x["seed"])
                == (r["model"], r["loss"], r["optimizer"], r["lr"], r["seed"])
            ]
            f = first[0] if first else {}
            trows.append(
                [
                    r["model"],
                    r["loss"],
                    r["optimizer"],
                    f.get("test_miou"),
                    r["test_miou"],
                    f.get("test_binary_iou"),
                    r["test_binary_iou"],
                    r["test_pixel_accuracy"],
                ]
            )
        md += [
            f"## Table IV: the finalists re-trained at {cfg.sizes[1]}",
            "",
            _table(
                [
                    "model",
                    "loss",
                    "optimizer",
                    f"mIoU @{cfg.sizes[0]}",
                    f"mIoU @{cfg.sizes[1]}",
                    f"binary IoU @{cfg.sizes[0]}",
                    f"binary IoU @{cfg.sizes[1]}",
                    "pixel acc",
                ],
                trows,
            ),
            "",
        ]

    figures: list[tuple[str, Path]] = []
    for p in _curves(out, rows, fig_dir):
        figures.append((f"Validation curves: {p.stem.removeprefix('curves_')}", p))
    panel = _panels(out, rows, data, split, fig_dir)
    if panel:
        figures.append(("Predicted masks on test photos", panel))
    if ok:
        best = best_run(rows)
        for p in _best_run_figures(out, best, fig_dir):
            figures.append(
                (
                    "Per-class IoU of the best run"
                    if "per_class" in p.name
                    else "Most confused category pairs",
                    p,
                )
            )
    md += ["## Figures", ""]
    for title, p in figures:
        md += [f"### {title}", "", f"![{title}](figures/{p.name})", ""]
    failed = [r for r in rows if r["status"] == "failed"]
    if failed:
        md += ["## Failed runs", ""] + [f"- {r['run']}: {r['error']}" for r in failed] + [""]
    (out / "report.md").write_text("\n".join(md))
    html_path = out / "report.html"
    html_path.write_text(_to_html("\n".join(md), fig_dir))
    return html_path


def _to_html(md: str, fig_dir: Path) -> str:
    """A small Markdown-to-HTML for the subset this report uses, with figures embedded."""
    import re

    body, table = [], []

    def inline(text: str) -> str:
        text = html.escape(text)
        text = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", text)
        return re.sub(r"`(.+?)`", r"<code>\1</code>", text)

    def flush_table() -> None:
        if table:
            head, *rest = [
                [c.strip() for c in r.strip("|").split("|")]
                for r in table
                if not r.startswith("|---") and "--- |" not in r
            ]
            body.append("<table><tr>" + "".join(f"<th>{inline(c)}</th>" for c in head) + "</tr>")
            body.extend(
                "<tr>" + "".join(f"<td>{inline(c)}</td>" for c in r) + "</tr>" for r in rest
            )
            body.append("</table>")
            table.clear()

    for line in md.splitlines():
        if line.startswith("|"):
            table.append(line)
            continue
        flush_table()
        if m := re.match(r"!\[(.*)\]\(figures/(.+)\)", line):
            data = base64.b64encode((fig_dir / m.group(2)).read_bytes()).decode()
            body.append(
                f'<figure><img alt="{html.escape(m.group(1))}" src="data:image/png;base64,{data}"></figure>'
            )
        elif line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            body.append(f"<h{level}>{inline(line.lstrip('#').strip())}</h{level}>")
        elif line.startswith("- "):
            body.append(f"<li>{inline(line[2:])}</li>")
        elif line.strip():
            body.append(f"<p>{inline(line)}</p>")
    flush_table()
    style = (
        "body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}"
        "table{border-collapse:collapse;margin:1em 0;font-size:13px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
        "th{background:#f0f3f8}td:nth-child(-n+5){text-align:left}img{max-width:100%;border:1px solid #eee}"
    )
    return f"<!doctype html><html><head><meta charset='utf-8'><title>fashionseg study report</title><style>{style}</style></head><body>{''.join(body)}</body></html>"
