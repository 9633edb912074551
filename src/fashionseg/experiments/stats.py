"""``fashionseg stats``: the data exploration of the original study, as figures and tables.

Counts come from the RLE runs (no mask is decoded); only the sample figure reads photos.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np

from fashionseg.data.compose import compose
from fashionseg.data.formats import open_dataset
from fashionseg.data.rle import RLEError, runs_area
from fashionseg.outputs import data_inputs, plan_folder


def collect(data: str | Path) -> dict:
    """Per-category image and pixel counts, sizes, instances per image, attribute counts."""
    dataset = open_dataset(data)
    table = dataset.categories
    image_count: Counter = Counter()
    pixel_count: Counter = Counter()
    attr_count: Counter = Counter()
    heights, widths, per_image = [], [], []
    total_pixels = 0
    skipped = []
    for record in dataset:
        if record.error:
            skipped.append((record.image_id, record.error))
            continue
        try:
            areas = [
                (i.class_id, runs_area(i.runs(record.height, record.width)))
                for i in record.instances
            ]
        except RLEError as e:
            skipped.append((record.image_id, str(e)))
            continue
        heights.append(record.height)
        widths.append(record.width)
        per_image.append(len(record.instances))
        total_pixels += record.height * record.width
        for class_id in {c for c, _ in areas}:
            image_count[class_id] += 1
        for class_id, area in areas:
            pixel_count[class_id] += area
        for inst in record.instances:
            attr_count.update(inst.attributes)
    n = len(heights)
    cats = [
        {
            "id": c.id,
            "name": c.name,
            "images": image_count[c.id],
            "image_share": image_count[c.id] / n if n else 0.0,
            "pixel_share": pixel_count[c.id] / total_pixels if total_pixels else 0.0,
        }
        for c in table.categories
    ]
    attrs = [
        {"id": a, "name": table.attributes.get(a, str(a)), "count": k}
        for a, k in attr_count.most_common()
    ]
    return {
        "data": str(data),
        "images": n,
        "skipped": len(skipped),
        "instances": int(sum(per_image)),
        "categories": cats,
        "attributes": attrs,
        "height": _describe(heights),
        "width": _describe(widths),
        "instances_per_image": _describe(per_image),
        "_heights": heights,
        "_widths": widths,
        "_per_image": per_image,
        "_skipped": skipped,
    }


def _describe(values: list[int]) -> dict:
    if not values:
        return {}
    a = np.asarray(values)
    return {
        "min": int(a.min()),
        "median": float(np.median(a)),
        "mean": float(a.mean()),
        "max": int(a.max()),
    }


# What stats writes into its folder.
REPORT_FILES = (
    "categories.png", "sizes.png", "attributes.png", "samples.png", "summary.json", "summary.md"
)  # fmt: skip


def stats(data: str | Path, out: str | Path, samples: int = 6, overwrite: bool = False) -> dict:
    """Write figures (PNG), ``summary.md`` and ``summary.json`` describing a data set
    (``overwrite``: replace files of those names that fashionseg did not write)."""
    from fashionseg.use.render.colors import plain_figures

    plain_figures()
    import matplotlib.pyplot as plt

    out = plan_folder(out, data_inputs(data), REPORT_FILES, "the statistics", overwrite, "stats")
    s = collect(data)
    cats = sorted(s["categories"], key=lambda c: -c["image_share"])
    names = [c["name"] for c in cats]

    fig, axes = plt.subplots(1, 2, figsize=(13, max(5, 0.22 * len(cats))), sharey=True)
    axes[0].barh(names, [100 * c["image_share"] for c in cats], color="#3b7dd8")
    axes[0].set_xlabel("% of images containing the category")
    axes[1].barh(names, [100 * c["pixel_share"] for c in cats], color="#d8743b")
    axes[1].set_xlabel("% of all pixels")
    axes[0].invert_yaxis()
    fig.suptitle(f"Categories in {s['images']} images")
    fig.tight_layout()
    fig.savefig(out / "categories.png", dpi=110)
    plt.close(fig)

    fig, axes = plt.subplots(1, 3, figsize=(14, 3.6))
    axes[0].hist(s["_heights"], bins=30, color="#3b7dd8")
    axes[0].set_xlabel("height (px)")
    axes[1].hist(s["_widths"], bins=30, color="#3bd87d")
    axes[1].set_xlabel("width (px)")
    top = max(s["_per_image"], default=1)
    axes[2].hist(s["_per_image"], bins=np.arange(0, top + 2) - 0.5, color="#d8743b")
    axes[2].set_xlabel("instances per image")
    for ax in axes:
        ax.set_ylabel("images")
    fig.tight_layout()
    fig.savefig(out / "sizes.png", dpi=110)
    plt.close(fig)

    attrs = s["attributes"][:30]
    if attrs:
        fig, ax = plt.subplots(figsize=(9, max(3, 0.25 * len(attrs))))
        ax.barh([a["name"] for a in attrs], [a["count"] for a in attrs], color="#8a3bd8")
        ax.invert_yaxis()
        ax.set_xlabel("instances with the attribute")
        fig.tight_layout()
        fig.savefig(out / "attributes.png", dpi=110)
        plt.close(fig)

    _sample_figure(data, out / "samples.png", samples)

    public = {k: v for k, v in s.items() if not k.startswith("_")}
    (out / "summary.json").write_text(json.dumps(public, indent=1))
    lines = [
        f"# Data statistics: {data}",
        "",
        f"{s['images']} images, {s['instances']} instances, {s['skipped']} skipped.",
        f"Height {s['height']}, width {s['width']}, instances per image {s['instances_per_image']}.",
        "",
        "| category | images | % images | % pixels |",
        "| --- | ---: | ---: | ---: |",
    ]
    lines += [
        f"| {c['name']} | {c['images']} | {100 * c['image_share']:.1f} | {100 * c['pixel_share']:.2f} |"
        for c in cats
    ]
    if attrs:
        lines += ["", "Most frequent attributes:", ""] + [
            f"- {a['name']}: {a['count']}" for a in attrs[:15]
        ]
    lines += ["", "![categories](categories.png)", "![sizes](sizes.png)", "![samples](samples.png)"]
    (out / "summary.md").write_text("\n".join(lines) + "\n")
    return public


def _sample_figure(data, path: Path, samples: int) -> None:
    import matplotlib.pyplot as plt
    from PIL import Image

    from fashionseg.use.render.colors import colorize, legend_handles

    dataset = open_dataset(data)
    names = dataset.categories.names()
    shown = []
    for record in dataset:
        if len(shown) == samples:
            break
        if record.error or not record.path.is_file():
            continue
        try:
            labels = compose(record.instances, record.height, record.width)
            with Image.open(record.path) as im:
                photo = np.asarray(im.convert("RGB"))
        except (RLEError, OSError):
            continue
        if photo.shape[:2] != labels.shape:
            continue
        shown.append((record.image_id, photo, labels))
    if not shown:
        return
    fig, axes = plt.subplots(2, len(shown), figsize=(2.6 * len(shown), 7.5), squeeze=False)
    present = set()
    for k, (image_id, photo, labels) in enumerate(shown):
        axes[0, k].imshow(photo)
        axes[0, k].set_title(image_id, fontsize=8)
        axes[1, k].imshow(colorize(labels, len(names)))
        present |= set(np.unique(labels).tolist())
    for ax in axes.ravel():
        ax.axis("off")
    fig.legend(handles=legend_handles(present, names), loc="lower center", ncol=4, fontsize=8)
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    fig.savefig(path, dpi=100)
    plt.close(fig)
