"""The study report: tables in the spirit of the study's Tables I-IV, curves, mask panels, the
best run's per-class IoU, its most confused category pairs, and a generated summary.

Writes ``report.md`` and a self-contained ``report.html`` (figures embedded as base64) with the
PNG figures beside them in ``figures/``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fashionseg.experiments.report.figures import best_run_figures, curves, panels
from fashionseg.experiments.selection import best_run, rank_combinations
from fashionseg.use.render.page import one_line, to_html


def _fmt(v, digits: int = 3) -> str:
    if v is None or v == "":
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return one_line(v)


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


def _table_1(rows: list[dict]) -> list[str]:
    """Every combination, best validation mIoU first within each stage."""
    md: list[str] = []
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

    return md


def _tables_2_3(ok: list[dict]) -> list[str]:
    """Optimizers and losses compared per model at stage 1 (test mIoU, shown not chosen on)."""
    md: list[str] = []
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

    return md


def _table_4(ok: list[dict], cfg) -> list[str]:
    """The finalists at both sizes."""
    md: list[str] = []
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

    return md


def _figures(out: Path, rows: list[dict], data: str, split: dict, fig_dir: Path):
    """(title, PNG path) of every figure: curves, test panels, the best run's IoU and pairs."""
    ok = [r for r in rows if r["status"] == "ok"]
    figures: list[tuple[str, Path]] = []
    for p in curves(out, rows, fig_dir):
        figures.append((f"Validation curves: {p.stem.removeprefix('curves_')}", p))
    panel = panels(out, rows, data, split, fig_dir)
    if panel:
        figures.append(("Predicted masks on test photos", panel))
    if ok:
        best = best_run(rows)
        for p in best_run_figures(out, best, fig_dir):
            figures.append(
                (
                    "Per-class IoU of the best run"
                    if "per_class" in p.name
                    else "Most confused category pairs",
                    p,
                )
            )
    return figures


def write_report(out: Path, rows: list[dict], cfg, data: str, split: dict) -> Path:
    """Write ``report.md`` and ``report.html``; returns the HTML path."""
    from fashionseg.use.render.colors import plain_figures

    plain_figures()
    fig_dir = out / "figures"
    fig_dir.mkdir(exist_ok=True)
    ok = [r for r in rows if r["status"] == "ok"]
    md = [
        "# Study report",
        "",
        f"Data: `{one_line(data)}`. Sizes {', '.join(cfg.sizes)}; {cfg.epochs} epochs; width {cfg.width}; "
        f"seeds {cfg.seeds}. Test split: {len(split['test'].read_text().split())} images never used for selection.",
        "",
    ]
    md += ["## Summary", "", _summary(rows, cfg), ""]

    md += _table_1(rows) + _tables_2_3(ok) + _table_4(ok, cfg)
    figures = _figures(out, rows, data, split, fig_dir)
    md += ["## Figures", ""]
    for title, p in figures:
        md += [f"### {title}", "", f"![{title}](figures/{p.name})", ""]
    failed = [r for r in rows if r["status"] == "failed"]
    if failed:
        md += ["## Failed runs", ""]
        md += [f"- {one_line(r['run'])}: {one_line(r['error'])}" for r in failed] + [""]
    (out / "report.md").write_text("\n".join(md))
    html_path = out / "report.html"
    html_path.write_text(to_html("\n".join(md), fig_dir, figures=[p for _, p in figures]))
    return html_path
