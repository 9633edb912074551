"""``fashionseg score RESULTS.json --data GT``: COCO's box and mask AP and Fashionpedia's
IoU-and-F1 AP of a results file from any tool, all on one compiled matching engine
(:mod:`.fpeval`, :mod:`.matching`); pycocotools' COCOeval and the Fashionpedia API are the
references the tests compare with."""

from __future__ import annotations

from pathlib import Path

from fashionseg.evaluate.instances.fpeval import (
    CATEGORIES_WITH_ATTRIBUTES,
    IOU_ONLY_SUPERCATEGORY,
    SUPERCATEGORIES,
    FashionpediaEval,
    coco_stats,
)
from fashionseg.evaluate.instances.results import check_results, load_detections, read_results
from fashionseg.evaluate.instances.truth import ground_truth, instance_counts

# The headline keys of the output, in the order a table shows them.
HEADLINE = ("mask_ap", "mask_ap50", "mask_ap75", "box_ap", "mask_ap_iou_f1", "mask_ap_f1")


def _round(value: float) -> float | None:
    return None if value < 0 else round(float(value), 6)


def score_detections(entries: list, gt, where: str = "results") -> dict:
    """Every instance figure of ``entries`` (a results list) against ``gt`` (a COCO object).

    Returns:
        The headline keys (``HEADLINE``; None where no category has ground truth),
        ``fpeval`` (FPEval's three summary dictionaries under its own key names),
        ``per_category`` and ``per_supercategory`` tables, and counts.
    """
    entries = check_results(entries, gt, where)
    dt = load_detections(entries, gt)
    # Three evaluations of one load, sharing each photo's instances, IoUs and F1s.
    shared: dict = {}
    segm = FashionpediaEval(gt, dt, "segm", coco=True, shared=shared).run()
    mask_stats, mask_per_cat = coco_stats(segm)
    box_stats, _ = coco_stats(FashionpediaEval(gt, dt, "bbox", coco=True, shared=shared).run())
    fp = FashionpediaEval(gt, dt, shared=shared).run()
    names = [c["name"] for c in gt.loadCats(sorted(gt.getCatIds()))]
    counts = instance_counts(gt)
    per_category = []
    for k, name in enumerate(names):
        attributes = k in CATEGORIES_WITH_ATTRIBUTES
        per_category.append(
            {
                "name": name,
                "instances": int(counts[k]),
                "mask_ap": _round(mask_per_cat[k]),
                "mask_ap_iou_f1": _round(fp.value(categories=[k])) if attributes else None,
                "mask_ap_f1": _round(fp.value(iou=False, categories=[k])) if attributes else None,
            }
        )
    per_super = {}
    for name, members in SUPERCATEGORIES.items():
        row = {"mask_ap": _round(fp.value(f1=False, categories=members))}
        if name != IOU_ONLY_SUPERCATEGORY:
            row["mask_ap_iou_f1"] = _round(fp.value(categories=members))
            row["mask_ap_f1"] = _round(fp.value(iou=False, categories=members))
        per_super[name] = row
    return {
        "mask_ap": _round(mask_stats[0]),
        "mask_ap50": _round(mask_stats[1]),
        "mask_ap75": _round(mask_stats[2]),
        "box_ap": _round(box_stats[0]),
        "mask_ap_iou_f1": _round(fp.value()),
        "mask_ap_f1": _round(fp.value(iou=False)),
        "images": len(gt.getImgIds()),
        "instances": int(counts.sum()),
        "detections": len(entries),
        "fpeval": {
            "iou_f1": fp.summary(),
            "iou": fp.summary(f1=False),
            "f1": fp.summary(iou=False),
        },
        "per_category": per_category,
        "per_supercategory": per_super,
    }


def score_results(
    results: str | Path, data: str, rule: str = "rows", wanted: set[str] | None = None
) -> dict:
    """``score`` of a results file against a ground truth (COCO JSON or any data folder).

    Args:
        results: the COCO-format results JSON.
        data: the ground truth (``truth.ground_truth``).
        rule: instance rule for sources without instances (``rows`` or ``components``).
        wanted: ImageIds to score (None: all).
    """
    gt = ground_truth(data, rule, wanted)
    return score_detections(read_results(results), gt, str(results))


def format_instances(metrics: dict, title: str) -> str:
    """The headline figures and the per-category table, as ``score`` prints them."""
    lines = [title]
    keys = HEADLINE + (("attribute_f1",) if metrics.get("attribute_f1") is not None else ())
    lines.append("  ".join(f"{k} {_show(metrics[k])}" for k in keys))
    lines.append(f"{'category':<30} {'n':>5} {'mask AP':>8} {'IoU+F1':>8} {'F1':>8}")
    for row in metrics["per_category"]:
        if row["instances"] or row["mask_ap"] is not None:
            lines.append(
                f"{row['name'][:30]:<30} {row['instances']:>5} {_show(row['mask_ap']):>8} "
                f"{_show(row['mask_ap_iou_f1']):>8} {_show(row['mask_ap_f1']):>8}"
            )
    return "\n".join(lines)


def _show(value) -> str:
    return "-" if value is None else f"{value:.4f}"
