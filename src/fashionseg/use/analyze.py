"""``fashionseg analyze``: what a collection of photos wears, from predict's JSON files.

Counts are per photo (a category is present or not), so one large coat weighs as much as a
small scarf. Pairings are scored by lift, P(a and b) / (P(a) P(b)): above 1, the two appear
together more often than if people picked them independently.
"""

from __future__ import annotations

import base64
import html
import io
import json
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from itertools import combinations
from pathlib import Path

import numpy as np

from fashionseg.data.categories import NUM_GARMENTS
from fashionseg.data.schema.predictions import SchemaError, read_prediction
from fashionseg.errors import DataFormatError
from fashionseg.outputs import ErrorLog, plan_folder
from fashionseg.use.instance_stats import InstanceTally
from fashionseg.use.table import read_docs


def load_predictions(folder: str | Path, bad: list[tuple[str, str]]) -> Iterator[dict]:
    """Every ``*.json`` written by ``predict``, one at a time (a folder of 45k photos is never
    held whole); broken files are appended to ``bad`` (name, reason) and skipped."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder of predictions")
    files = sorted(folder.glob("*.json"))
    if not files:
        raise FileNotFoundError(f"{folder}: no .json files (run fashionseg predict first)")
    return _each(files, bad)


def _each(files: list[Path], bad: list[tuple[str, str]]) -> Iterator[dict]:
    for f in files:
        try:
            yield _essentials(read_prediction(f.read_bytes(), f.name))
        except (SchemaError, OSError) as e:
            bad.append((f.name, f"not a prediction JSON ({str(e).removeprefix(f'{f.name}: ')})"))


# What the analysis never reads: masks and boxes are most of a document's bytes, and a folder
# of 45k photos kept whole would hold them all in memory.
_UNREAD = ("rle", "bbox", "cutout", "swatch")


def _essentials(doc: dict) -> dict:
    """A prediction document without the parts the analysis does not read."""
    for kind in ("garments", "instances"):
        for item in doc.get(kind) or []:
            for key in _UNREAD:
                item.pop(key, None)
    return doc


def collection_stats(docs: Iterable[dict], min_photos: int = 3) -> dict:
    """Frequencies, lift, colours and outfits of prediction documents, read once.

    Args:
        docs: predict's JSON documents (any iterable: a folder's are read one by one).
        min_photos: categories seen in fewer photos are left out of the lift matrix (a lift
            from two photos says little).

    Returns:
        A JSON-ready dict: ``photos``, ``categories`` (per name: photos, share, mean area,
        colours), ``lift`` (names and matrix), ``pairs`` and ``outfits`` (most common first).
    """
    # One pass, with state that grows with the categories, not the photos.
    n = 0
    counts: Counter[str] = Counter()
    together: Counter[tuple[str, str]] = Counter()
    outfits: Counter[str] = Counter()
    ids: dict[str, int] = {}
    area: dict[str, list[float]] = {}
    colours: dict[str, Counter] = {}
    hexes: dict[str, str] = {}
    instances = InstanceTally()
    for doc in docs:
        n += 1
        names = set()
        for g in doc["garments"]:
            name = g["name"]
            names.add(name)
            ids[name] = int(g["class_id"])
            area.setdefault(name, []).append(float(g["area_fraction"]))
            colour = g.get("color") or {}
            if colour.get("name"):
                colours.setdefault(name, Counter())[colour["name"]] += 1
                hexes.setdefault(colour["name"], colour.get("hex", "#888888"))
        counts.update(names)
        together.update(combinations(sorted(names), 2))
        # An outfit is the set of whole garments (not parts such as sleeves) in one photo.
        outfits[" + ".join(sorted(x for x in names if ids[x] < NUM_GARMENTS))] += 1
        instances.add(doc)
    categories = {
        name: {
            "class_id": ids[name],
            "photos": c,
            "share": c / n,
            "mean_area_fraction": float(np.mean(area[name])),
            "colors": dict(colours.get(name, Counter()).most_common()),
        }
        for name, c in counts.most_common()
    }
    for name, found in instances.result().items():
        if name in categories:  # documents with instances: counts and top attributes
            categories[name].update(found)
    frequent = [name for name, c in counts.most_common() if c >= min_photos]
    joint = np.diag(np.array([counts[name] for name in frequent], dtype=float))
    for a, name_a in enumerate(frequent):
        for b, name_b in enumerate(frequent):
            if a != b:
                joint[a, b] = together[min(name_a, name_b), max(name_a, name_b)]
    p = np.diag(joint) / max(n, 1)
    lift = (joint / max(n, 1)) / np.maximum(np.outer(p, p), 1e-12)
    pairs = [
        {"a": frequent[i], "b": frequent[j], "photos": int(joint[i, j]), "lift": lift[i, j]}
        for i in range(len(frequent))
        for j in range(i + 1, len(frequent))
        if joint[i, j] >= min_photos
    ]
    pairs.sort(key=lambda x: (-x["lift"], -x["photos"]))
    return {
        "photos": n,
        "categories": categories,
        "lift": {"names": frequent, "matrix": lift.round(3).tolist()},
        "pairs": pairs,
        "outfits": [
            {"outfit": k or "(no garments)", "photos": v, "share": v / n}
            for k, v in outfits.most_common()
        ],
        "color_hex": hexes,
    }


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode()


def _figures(stats: dict, out: Path, top: int) -> dict[str, str]:
    """Four PNG figures written to ``out``; returns name -> base64 for the HTML page."""
    from fashionseg.use.render.colors import plain_figures

    plain_figures()
    import matplotlib
    import matplotlib.pyplot as plt

    from fashionseg.use.colornames import PALETTE

    figs = {}
    cats = stats["categories"]
    names = list(cats)
    fig, ax = plt.subplots(figsize=(7, 0.28 * len(names) + 1))
    ax.barh(names[::-1], [100 * cats[k]["share"] for k in names[::-1]], color="#4a7bd0")
    ax.set_xlabel("% of photos")
    ax.set_title(f"Category frequency ({stats['photos']} photos)")
    figs["frequency"] = fig

    lift = stats["lift"]
    if lift["names"]:
        m = np.array(lift["matrix"], dtype=float)
        k = len(lift["names"])
        np.fill_diagonal(m, np.nan)  # a garment with itself: 1 / P(a), not a pairing
        fig, ax = plt.subplots(figsize=(0.45 * k + 3, 0.45 * k + 2))
        # Log scale centred on 1: red pairs go together, blue ones avoid each other.
        cmap = matplotlib.colormaps["RdBu_r"].with_extremes(bad="#dddddd")
        im = ax.imshow(np.log2(np.maximum(m, 1e-3)), cmap=cmap, vmin=-2, vmax=2)
        ax.set_xticks(range(k), lift["names"], rotation=70, ha="right", fontsize=8)
        ax.set_yticks(range(k), lift["names"], fontsize=8)
        fig.colorbar(im, ax=ax, label="log2 lift")
        ax.set_title("Which garments go together (lift)")
        figs["lift"] = fig

    fig, ax = plt.subplots(figsize=(8, 0.3 * len(names) + 1))
    for row, name in enumerate(names[::-1]):
        total = sum(cats[name]["colors"].values()) or 1
        left = 0.0
        for colour, c in cats[name]["colors"].items():
            rgb = np.array(PALETTE.get(colour, (136, 136, 136))) / 255
            ax.barh(row, c / total, left=left, color=rgb, edgecolor="#444", linewidth=0.3)
            left += c / total
    ax.set_yticks(range(len(names)), names[::-1])
    ax.set_xlabel("share of photos, by dominant colour")
    ax.set_title("Colours per category")
    figs["colors"] = fig

    outfits = stats["outfits"][:top]
    fig, ax = plt.subplots(figsize=(8, 0.32 * len(outfits) + 1))
    ax.barh(
        [o["outfit"] for o in outfits][::-1],
        [o["photos"] for o in outfits][::-1],
        color="#d0804a",
    )
    ax.set_xlabel("photos")
    ax.set_title("Most common outfits (whole garments per photo)")
    ax.tick_params(axis="y", labelsize=8)
    figs["outfits"] = fig

    encoded = {}
    for name, fig in figs.items():
        fig.savefig(out / f"{name}.png", dpi=110, bbox_inches="tight")
        encoded[name] = _png(fig)
        plt.close(fig)
    return encoded


def _table(rows: list[list], head: list[str]) -> str:
    cells = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows
    )
    return f"<table><tr>{cells}</tr>{body}</table>"


def regroup(doc: dict) -> dict:
    """A category-level prediction document as body-region groups (``predict --groups``'s
    names): areas add up; each group keeps the colour of its largest member. Parts stay in
    "garment part" here, since the JSON holds no masks to see what they touch (run
    ``predict --groups`` for that)."""
    from fashionseg.data.groups import GROUP_NAMES, GROUP_OF

    merged: dict[str, dict] = {}
    for g in sorted(doc["garments"], key=lambda g: -g["area_fraction"]):
        group = GROUP_OF.get(g["name"], g["name"] if g["name"] in GROUP_NAMES else "accessories")
        entry = merged.setdefault(
            group, dict(g, name=group, class_id=GROUP_NAMES.index(group) - 1, area_fraction=0.0)
        )
        entry["area_fraction"] = round(entry["area_fraction"] + g["area_fraction"], 6)
    garments = sorted(merged.values(), key=lambda g: -g["area_fraction"])
    return dict(doc, garments=garments)


# What analyze writes into its folder (the figures are _figures' names).
REPORT_FILES = (
    "summary.json", "errors.csv", "index.html",
    "frequency.png", "lift.png", "colors.png", "outfits.png",
)  # fmt: skip


def analyze(
    predictions: str | Path,
    out: str | Path,
    top: int = 15,
    groups: bool = False,
    overwrite: bool = False,
) -> Path:
    """Write ``summary.json``, four PNG figures and ``index.html`` for a prediction folder or
    a catalogue table (``predict --table``'s ``.parquet``; ``groups``: by body region rather
    than category; ``overwrite``: replace files of those names that fashionseg did not
    write)."""
    bad: list[tuple[str, str]] = []
    if Path(predictions).suffix.lower() == ".parquet" and Path(predictions).is_file():
        docs = iter(read_docs(predictions))
    else:
        docs = load_predictions(predictions, bad)
    if groups:
        docs = map(regroup, docs)
    # The analysis never lands among the predictions it reads (a photo called summary.jpg
    # has a summary.json there).
    out = plan_folder(out, [predictions], REPORT_FILES, "the report", overwrite, "analyze")
    stats = collection_stats(docs)
    errors = ErrorLog(out)
    for name, reason in bad:
        errors.add(name, reason)
    errors.close()
    if stats["photos"] == 0:
        raise DataFormatError(f"{predictions}: none of the .json files is a prediction")
    (out / "summary.json").write_text(json.dumps(stats, indent=1))
    figs = _figures(stats, out, top)
    cats = stats["categories"]
    freq = _table(
        [
            [
                k,
                v["photos"],
                f"{100 * v['share']:.1f}%",
                f"{100 * v['mean_area_fraction']:.1f}%",
                ", ".join(list(v["colors"])[:3]),
                v.get("instances", "-"),
                ", ".join(list(v.get("attributes", {}))[:3]),
            ]
            for k, v in cats.items()
        ],
        ["category", "photos", "share", "mean area", "top colours", "instances", "top attributes"],
    )
    pairs = _table(
        [[p["a"], p["b"], p["photos"], f"{p['lift']:.2f}"] for p in stats["pairs"][:top]],
        ["garment", "goes with", "photos", "lift"],
    )
    outfits = _table(
        [[o["outfit"], o["photos"], f"{100 * o['share']:.1f}%"] for o in stats["outfits"][:top]],
        ["outfit", "photos", "share"],
    )
    img = {k: f'<img alt="{k}" src="data:image/png;base64,{v}">' for k, v in figs.items()}
    page = f"""<!doctype html><html><head><meta charset="utf-8">
<title>fashionseg collection analysis</title><style>
body{{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}}
table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;padding:3px 8px}}
th{{background:#f0f0f0}}img{{max-width:100%}}</style></head><body>
<h1>What this collection wears</h1>
<p>{stats["photos"]} photos from <code>{html.escape(str(predictions))}</code>.
Counts are per photo; lift above 1 means two garments appear together more often than chance.
</p>
<h2>Categories</h2>{img["frequency"]}{freq}
<h2>Pairings</h2>{img.get("lift", "<p>Too few photos for pairings.</p>")}{pairs}
<h2>Colours</h2>{img["colors"]}
<h2>Outfits</h2>{img["outfits"]}{outfits}
</body></html>"""
    (out / "index.html").write_text(page)
    print(f"{stats['photos']} photos analysed -> {out}", file=sys.stderr)
    return out / "index.html"
