"""Fashionpedia's average precision, where a detection must match in mask IoU *and* in the F1
of its attributes: the definition of the Fashionpedia API's ``FPEval``, owned here.

The API itself (``fashionpedia`` on PyPI) stops on NumPy >= 1.24 (``np.float``); this module
computes the same figures, and ``tests/evaluate/test_instance_scores.py`` checks them against it.
The definition, as FPEval has it:

- thresholds: IoU 0.50:0.95 and attribute F1 0.50:0.95 (steps of 0.05), each with an extra
  -1 that means "not required"; 101 recall points; 1, 10 and 100 detections per photo; COCO's
  area ranges;
- attribute F1 between a detection and a ground-truth instance is scikit-learn's
  ``f1_score(average="macro")`` of their multi-hot vectors over the ground truth's attribute
  list: the mean F1 of the "has it" and the "lacks it" labels (two instances without
  attributes agree: 1.0);
- matching is COCO's greedy one (detections by score, each to the best free instance), where
  "better" needs both a higher-or-equal IoU and a higher-or-equal F1 than the best so far;
- only the 18 categories of ``CATEGORIES_WITH_ATTRIBUTES`` use the F1 thresholds; the others
  are scored on IoU alone in every kind of AP; categories and super-categories are indices
  into the ground truth's categories sorted by id (FPEval's fixed tables, for the 46-category
  taxonomy; for a file with other categories they apply by position, as in FPEval).
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from fashionseg.evaluate.instances.matching import kernels

IOU_THRESHOLDS = np.append(np.linspace(0.5, 0.95, 10), -1.0)
F1_THRESHOLDS = np.append(np.linspace(0.5, 0.95, 10), -1.0)
RECALL_POINTS = np.linspace(0.0, 1.0, 101)
MAX_DETECTIONS = (1, 10, 100)
AREAS = {"all": (0, 1e10), "small": (0, 32**2), "medium": (32**2, 96**2), "large": (96**2, 1e10)}
CATEGORIES_WITH_ATTRIBUTES = frozenset(
    {10, 7, 0, 6, 5, 4, 9, 31, 33, 3, 12, 11, 1, 2, 8, 32, 29, 28}
)
SUPERCATEGORIES = {
    "outerwear": range(0, 13),
    "accessory": range(13, 27),
    "part": range(27, 46),
}
# Accessories carry no attributes, so FPEval reports them on IoU alone.
IOU_ONLY_SUPERCATEGORY = "accessory"


def pairwise_attribute_f1(dt_attributes: np.ndarray, gt_attributes: np.ndarray) -> np.ndarray:
    """FPEval's attribute F1 between every detection and every ground-truth instance (binary
    macro F1 of their multi-hot vectors; ``validation.matched_attribute_f1`` is the other
    figure, over matched pairs).

    Args:
        dt_attributes: (D, A) 0/1 multi-hot vectors.
        gt_attributes: (G, A) 0/1 multi-hot vectors.

    Returns:
        (D, G) float64: for each pair, the mean of the F1 of label 1 and of label 0 over the
        A attributes, each counted only where that label occurs in either vector.
    """
    d = dt_attributes.astype(np.int64)
    g = gt_attributes.astype(np.int64)
    total = d.shape[1]
    tp = d @ g.T
    fp = d.sum(1)[:, None] - tp
    fn = g.sum(1)[None, :] - tp
    tn = total - tp - fp - fn
    with np.errstate(invalid="ignore", divide="ignore"):
        f1_has = np.where(tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn), 0.0)
        f1_lacks = np.where(tn + fp + fn > 0, 2 * tn / (2 * tn + fp + fn), 0.0)
    present = (tp + fp + fn > 0).astype(np.int64) + (tn + fp + fn > 0)
    return (f1_has * (tp + fp + fn > 0) + f1_lacks * (tn + fp + fn > 0)) / present


class FashionpediaEval:
    """FPEval's three kinds of AP for one ground truth and one set of detections, or (with
    ``coco``) COCOeval's figures, on the compiled matching of :mod:`.matching`.

    Args:
        gt: a ``pycocotools.coco.COCO`` of the ground truth (with ``attributes`` and each
            annotation's ``attribute_ids``).
        dt: ``gt.loadRes(...)`` of the detections (``attribute_ids`` optional: none).
        iou_type: ``segm`` (masks) or ``bbox``.
        coco: COCOeval's evaluation (IoU 0.50:0.95, no F1): read it with :func:`coco_stats`.
        shared: a dict shared by evaluations of the same ``gt`` and ``dt`` (COCO's mask and
            box AP and FPEval's, in ``score``): each photo's instances, IoUs and F1s are
            computed once for all of them.
    """

    def __init__(
        self, gt, dt, iou_type: str = "segm", coco: bool = False, shared: dict | None = None
    ):
        self.gt, self.dt, self.iou_type, self.coco = gt, dt, iou_type, coco
        self.shared = {} if shared is None else shared
        # COCO's own evaluation: IoU 0.50:0.95 only, no attribute F1 anywhere.
        self.iou_thresholds = IOU_THRESHOLDS[:-1] if coco else IOU_THRESHOLDS
        self.f1_thresholds = np.array([-1.0]) if coco else F1_THRESHOLDS
        self.image_ids = sorted(gt.getImgIds())
        self.category_ids = sorted(gt.getCatIds())
        self.attribute_index = {
            int(a["id"]): i for i, a in enumerate(gt.dataset.get("attributes", []))
        }
        self.precision: np.ndarray | None = None
        self.recall: np.ndarray | None = None

    def with_f1(self, k: int) -> bool:
        """Whether category index ``k`` is matched on attribute F1 too."""
        return not self.coco and k in CATEGORIES_WITH_ATTRIBUTES

    def _multihot(self, anns: list[dict]) -> np.ndarray:
        out = np.zeros((len(anns), len(self.attribute_index)), dtype=np.int64)
        for k, ann in enumerate(anns):
            for a in ann.get("attribute_ids", []) or []:
                out[k, self.attribute_index[int(a)]] = 1
        return out

    def _grouped(self, coco) -> dict:
        groups = defaultdict(list)
        for ann in coco.loadAnns(coco.getAnnIds(imgIds=self.image_ids, catIds=self.category_ids)):
            # As RLE for the masks' IoU (shared with a box evaluation, which reads ``bbox``).
            ann["segmentation"] = coco.annToRLE(ann)
            groups[ann["image_id"], ann["category_id"]].append(ann)
        return groups

    def _ious(self, dts: list[dict], gts: list[dict]) -> np.ndarray:
        from pycocotools import mask as mask_utils

        key = "segmentation" if self.iou_type == "segm" else "bbox"
        crowd = [int(g.get("iscrowd", 0)) for g in gts]
        return np.asarray(mask_utils.iou([d[key] for d in dts], [g[key] for g in gts], crowd))

    def _once(self, key, make):
        if key not in self.shared:
            self.shared[key] = make()
        return self.shared[key]

    def _photos(self, cat) -> list[tuple[list, list]]:
        """(instances, detections by score, at most 100) of each photo that has either."""
        gts, dts = self._once("groups", lambda: (self._grouped(self.gt), self._grouped(self.dt)))
        out = []
        for img in self.image_ids:
            g, d = gts.get((img, cat), []), dts.get((img, cat), [])
            if g or d:
                order = np.argsort([-x["score"] for x in d], kind="mergesort")
                out.append((g, [d[i] for i in order[: MAX_DETECTIONS[-1]]]))
        return out

    def _flat(self, photos, pairs) -> np.ndarray:
        """``pairs(dts, gts)`` of every photo that has both, as one flat float64 array."""
        blocks = [pairs(d, g).ravel() for g, d in photos if g and d]
        return np.concatenate(blocks).astype(np.float64) if blocks else np.zeros(0)

    def _arrays(self, cat) -> dict:
        """One category's photos as the kernels' flat arrays (see ``matching``)."""
        photos = self._photos(cat)
        gts = [x for g, _ in photos for x in g]
        dts = [x for _, d in photos for x in d]
        n_gt = np.array([len(g) for g, _ in photos], dtype=np.int64)
        n_dt = np.array([len(d) for _, d in photos], dtype=np.int64)
        pairs = n_gt * n_dt
        return {
            "photos": photos,
            "pair_at": np.concatenate(([0], np.cumsum(pairs)[:-1])).astype(np.int64),
            "dt_at": np.concatenate(([0], np.cumsum(n_dt))).astype(np.int64),
            "gt_at": np.concatenate(([0], np.cumsum(n_gt))).astype(np.int64),
            "gt_area": np.array([x["area"] for x in gts], dtype=np.float64),
            "gt_crowd": np.array([bool(x.get("iscrowd", 0)) for x in gts], dtype=np.bool_),
            "gt_named": np.array([x["id"] != 0 for x in gts], dtype=np.bool_),
            "dt_area": np.array([x["area"] for x in dts], dtype=np.float64),
            "scores": np.array([x["score"] for x in dts], dtype=np.float64),
            "rank": np.concatenate([np.arange(n) for n in n_dt] or [[]]).astype(np.int64),
        }

    def _category(self, cat, with_f1) -> dict:
        """The arrays, this evaluation's IoUs and (``with_f1``) the attribute F1s of ``cat``."""
        x = dict(self._once(("arrays", cat), lambda: self._arrays(cat)))
        photos = x["photos"]
        x["ious"] = self._once(
            (self.iou_type, cat), lambda: self._flat(photos, lambda d, g: self._ious(d, g))
        )
        x["f1s"] = np.zeros(0)
        if with_f1:
            x["f1s"] = self._once(
                ("f1", cat),
                lambda: self._flat(
                    photos, lambda d, g: pairwise_attribute_f1(self._multihot(d), self._multihot(g))
                ),
            )
        return x

    def run(self) -> FashionpediaEval:
        """Match and accumulate: fills ``precision`` (T, F, R, K, A, M) and ``recall``
        (T, F, K, A, M), -1 where a category has no ground truth."""
        match, accumulate = kernels()
        iou_thr = self.iou_thresholds
        n_t, n_f, n_r = len(iou_thr), len(self.f1_thresholds), len(RECALL_POINTS)
        n_k, n_a, n_m = len(self.category_ids), len(AREAS), len(MAX_DETECTIONS)
        self.precision = -np.ones((n_t, n_f, n_r, n_k, n_a, n_m))
        self.recall = -np.ones((n_t, n_f, n_k, n_a, n_m))
        lo = np.array([a[0] for a in AREAS.values()], dtype=np.float64)
        hi = np.array([a[1] for a in AREAS.values()], dtype=np.float64)
        max_dets = np.array(MAX_DETECTIONS, dtype=np.int64)
        for k, cat in enumerate(self.category_ids):
            with_f1 = self.with_f1(k)
            x = self._category(cat, with_f1)
            if not x["photos"]:
                continue
            f1_thr = self.f1_thresholds if with_f1 else np.array([-1.0])
            n_d, n_g = len(x["scores"]), len(x["gt_area"])
            matched = np.zeros((n_a, n_t, len(f1_thr), n_d), dtype=np.bool_)
            ignored = np.zeros_like(matched)
            counted = np.zeros((n_a, n_g), dtype=np.bool_)
            match(
                x["ious"], x["f1s"], with_f1, x["pair_at"], x["dt_at"], x["gt_at"],
                x["gt_area"], x["gt_crowd"], x["gt_named"], x["dt_area"], iou_thr, f1_thr,
                lo, hi, not with_f1, matched, ignored, counted,
            )  # fmt: skip
            precision = -np.ones((n_t, len(f1_thr), n_r, n_a, n_m))
            recall = -np.ones((n_t, len(f1_thr), n_a, n_m))
            accumulate(
                x["scores"], x["rank"], matched, ignored, counted, max_dets,
                RECALL_POINTS, precision, recall,
            )  # fmt: skip
            slots = slice(None) if with_f1 else slice(n_f - 1, n_f)  # F1 "not required": last
            self.precision[:, slots, :, k] = precision
            self.recall[:, slots, k] = recall
        return self

    def _values(self, kind, iou, f1, iou_thr, f1_thr, area, max_det, categories):
        """The precision (or recall) entries FPEval's ``_summarize`` averages."""
        table = self.precision if kind == "ap" else self.recall
        table = table[..., list(AREAS).index(area), MAX_DETECTIONS.index(max_det)]
        if iou and iou_thr is not None:
            table = table[np.flatnonzero(IOU_THRESHOLDS == iou_thr)]
        elif iou:
            table = table[:-1]
        else:
            table = table[-1:]
        # (T, F, R, K) or (T, F, K): categories last, so one gather takes each one's entries.
        table = np.moveaxis(table, 3 if kind == "ap" else 2, -1)
        parts = []
        for c in categories:
            if f1 and c in CATEGORIES_WITH_ATTRIBUTES:
                slots = np.flatnonzero(F1_THRESHOLDS == f1_thr) if f1_thr is not None else range(10)
            else:
                slots = [-1]
            parts.append(table[:, list(slots), ..., c].ravel())
        return np.concatenate(parts) if parts else np.zeros(0)

    def value(
        self,
        kind: str = "ap",
        iou: bool = True,
        f1: bool = True,
        iou_thr: float | None = None,
        f1_thr: float | None = None,
        area: str = "all",
        max_det: int = 100,
        categories=None,
    ) -> float:
        """One summary figure, as FPEval's ``_summarize``: the mean of the entries that exist
        (-1 when none does).

        Args:
            kind: ``ap`` or ``ar``.
            iou: require the IoU thresholds (False: IoU -1 only).
            f1: require the F1 thresholds on the categories with attributes.
            iou_thr: one IoU threshold instead of 0.50:0.95.
            f1_thr: one F1 threshold instead of 0.50:0.95.
            area: ``all``, ``small``, ``medium`` or ``large``.
            max_det: 1, 10 or 100.
            categories: category indices (None: all).
        """
        if categories is None:
            categories = range(len(self.category_ids))
        categories = [c for c in categories if c < len(self.category_ids)]
        values = self._values(kind, iou, f1, iou_thr, f1_thr, area, max_det, categories)
        values = values[values > -1]
        return float(values.mean()) if values.size else -1.0

    def summary(self, iou: bool = True, f1: bool = True, categories=None) -> dict[str, float]:
        """FPEval's summary dictionary (its ``results``, ``resultDet`` or ``resultF1``, by
        ``iou`` and ``f1``), with its key names."""
        out = {}
        if categories is None:
            for name, members in SUPERCATEGORIES.items():
                if not (f1 and name == IOU_ONLY_SUPERCATEGORY):
                    out["AP" + name[0]] = self.value(iou=iou, f1=f1, categories=members)
        kw = {"iou": iou, "f1": f1, "categories": categories}
        out["AP"] = self.value(**kw)
        if iou:
            out["AP_IOU50"] = self.value(iou_thr=0.5, **kw)
            out["AP_IOU75"] = self.value(iou_thr=0.75, **kw)
        if f1:
            out["AP_F150"] = self.value(f1_thr=0.5, **kw)
            out["AP_F175"] = self.value(f1_thr=0.75, **kw)
        if f1 and iou:
            for t in (0.5, 0.75):
                for f in (0.5, 0.75):
                    out[f"AP_IOU{int(t * 100)}_F1{int(f * 100)}"] = self.value(
                        iou_thr=t, f1_thr=f, **kw
                    )
        for area in ("small", "medium", "large"):
            out["AP" + area[0]] = self.value(area=area, **kw)
        for max_det in MAX_DETECTIONS:
            out[f"AR@{max_det}"] = self.value("ar", max_det=max_det, **kw)
        for area in ("small", "medium", "large"):
            out[f"AR{area[0]}@100"] = self.value("ar", area=area, **kw)
        return out


def coco_stats(ev: FashionpediaEval) -> tuple[np.ndarray, np.ndarray]:
    """COCOeval's 12 summary figures and per-category AP@[.50:.95] (area all, 100
    detections) of a ``coco=True`` evaluation that has run, computed as ``summarize`` does."""
    precision, recall = ev.precision[:, 0], ev.recall[:, 0]  # (T, R, K, A, M), (T, K, A, M)
    areas, dets = list(AREAS), list(MAX_DETECTIONS)

    def mean(values: np.ndarray) -> float:
        values = values[values > -1]
        return float(np.mean(values)) if values.size else -1.0

    def ap(iou=None, area="all", max_det=100) -> float:
        table = precision if iou is None else precision[ev.iou_thresholds == iou]
        return mean(table[:, :, :, areas.index(area), dets.index(max_det)])

    def ar(area="all", max_det=100) -> float:
        return mean(recall[:, :, areas.index(area), dets.index(max_det)])

    stats = np.array(
        [ap(), ap(0.5), ap(0.75), ap(area="small"), ap(area="medium"), ap(area="large"),
         ar(max_det=1), ar(max_det=10), ar(), ar("small"), ar("medium"), ar("large")]
    )  # fmt: skip
    per_category = np.array([mean(precision[:, :, k, 0, -1]) for k in range(precision.shape[2])])
    return stats, per_category
