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


def attribute_f1(dt_attributes: np.ndarray, gt_attributes: np.ndarray) -> np.ndarray:
    """Binary macro F1 between every detection and every ground-truth instance.

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


def _match(ious, f1s, gt_ignore, crowd, gt_ids, dt_ids, n_f1, reuse_crowd):
    """COCO's greedy matching at every (IoU, F1) threshold pair at once.

    Returns:
        ``(dt_matches, gt_matches, dt_ignore)``: (T, F, D), (T, F, G), (T, F, D); matches
        hold the partner's annotation id (0: unmatched), as COCOeval stores them.
    """
    n_t, n_d, n_g = len(IOU_THRESHOLDS), ious.shape[0], ious.shape[1]
    f1_thr = F1_THRESHOLDS if n_f1 > 1 else np.array([-1.0])
    gt_matches = np.zeros((n_t, n_f1, n_g))
    dt_matches = np.zeros((n_t, n_f1, n_d))
    dt_ignore = np.zeros((n_t, n_f1, n_d), dtype=bool)
    if n_d == 0 or n_g == 0:
        return dt_matches, gt_matches, dt_ignore
    iou_floor = np.minimum(IOU_THRESHOLDS, 1 - 1e-10)[:, None] * np.ones((1, n_f1))
    f1_floor = np.ones((n_t, 1)) * np.minimum(f1_thr, 1 - 1e-10)[None, :]
    for d in range(n_d):
        best_iou, best_f1 = iou_floor.copy(), f1_floor.copy()
        best = np.full((n_t, n_f1), -1)
        searching = np.ones((n_t, n_f1), dtype=bool)
        for g in range(n_g):
            taken = gt_matches[:, :, g] > 0
            if reuse_crowd and crowd[g]:
                taken = np.zeros_like(taken)
            # Once a real match is held, ignored instances (sorted last) end the search.
            stop = (best > -1) & (gt_ignore[np.maximum(best, 0)] == 0) & (gt_ignore[g] == 1)
            searching &= ~(~taken & stop)
            better = searching & ~taken & (ious[d, g] >= best_iou)
            if f1s is not None:
                better &= f1s[d, g] >= best_f1
                best_f1 = np.where(better, f1s[d, g], best_f1)
            best_iou = np.where(better, ious[d, g], best_iou)
            best = np.where(better, g, best)
        found = best > -1
        t_idx, f_idx = np.nonzero(found)
        g_idx = best[found]
        dt_ignore[t_idx, f_idx, d] = gt_ignore[g_idx] == 1
        dt_matches[t_idx, f_idx, d] = gt_ids[g_idx]
        gt_matches[t_idx, f_idx, g_idx] = dt_ids[d]
    return dt_matches, gt_matches, dt_ignore


class FashionpediaEval:
    """FPEval's three kinds of AP for one ground truth and one set of detections.

    Args:
        gt: a ``pycocotools.coco.COCO`` of the ground truth (with ``attributes`` and each
            annotation's ``attribute_ids``).
        dt: ``gt.loadRes(...)`` of the detections (``attribute_ids`` optional: none).
        iou_type: ``segm`` (masks) or ``bbox``.
    """

    def __init__(self, gt, dt, iou_type: str = "segm"):
        self.gt, self.dt, self.iou_type = gt, dt, iou_type
        self.image_ids = sorted(gt.getImgIds())
        self.category_ids = sorted(gt.getCatIds())
        self.attribute_index = {
            int(a["id"]): i for i, a in enumerate(gt.dataset.get("attributes", []))
        }
        self.precision: np.ndarray | None = None
        self.recall: np.ndarray | None = None

    def _multihot(self, anns: list[dict]) -> np.ndarray:
        out = np.zeros((len(anns), len(self.attribute_index)), dtype=np.int64)
        for k, ann in enumerate(anns):
            for a in ann.get("attribute_ids", []) or []:
                out[k, self.attribute_index[int(a)]] = 1
        return out

    def _grouped(self, coco) -> dict:
        groups = defaultdict(list)
        for ann in coco.loadAnns(coco.getAnnIds(imgIds=self.image_ids, catIds=self.category_ids)):
            if self.iou_type == "segm":
                ann["segmentation"] = coco.annToRLE(ann)
            groups[ann["image_id"], ann["category_id"]].append(ann)
        return groups

    def _ious(self, dts: list[dict], gts: list[dict]) -> np.ndarray:
        from pycocotools import mask as mask_utils

        key = "segmentation" if self.iou_type == "segm" else "bbox"
        crowd = [int(g.get("iscrowd", 0)) for g in gts]
        return np.asarray(mask_utils.iou([d[key] for d in dts], [g[key] for g in gts], crowd))

    def _pairs(self, gts, dts, with_f1):
        """IoU (D, G) and attribute F1 (D, G; None without F1) of one image and category,
        computed once for all its area ranges."""
        if not (dts and gts):
            return np.zeros((len(dts), len(gts))), None
        f1s = attribute_f1(self._multihot(dts), self._multihot(gts)) if with_f1 else None
        return self._ious(dts, gts), f1s

    def _image(self, gts, dts, pairs, area, with_f1):
        lo, hi = area
        gt_ignore_raw = np.array(
            [int(g.get("iscrowd", 0)) or not (lo <= g["area"] <= hi) for g in gts], dtype=int
        )
        order = np.argsort(gt_ignore_raw, kind="mergesort")
        gts = [gts[i] for i in order]
        gt_ignore = gt_ignore_raw[order]
        n_f1 = len(F1_THRESHOLDS) if with_f1 else 1
        ious, f1s = pairs
        dt_matches, _, dt_ignore = _match(
            ious[:, order],
            None if f1s is None else f1s[:, order],
            gt_ignore,
            np.array([int(g.get("iscrowd", 0)) for g in gts]),
            np.array([g["id"] for g in gts]),
            np.array([d["id"] for d in dts]),
            n_f1,
            reuse_crowd=not with_f1,
        )
        outside = np.array([not (lo <= d["area"] <= hi) for d in dts], dtype=bool)
        dt_ignore |= (dt_matches == 0) & outside[None, None, :]
        return {
            "scores": np.array([d["score"] for d in dts]),
            "dt_matches": dt_matches,
            "dt_ignore": dt_ignore,
            "gt_ignore": gt_ignore,
        }

    def run(self) -> FashionpediaEval:
        """Match and accumulate: fills ``precision`` (T, F, R, K, A, M) and ``recall``
        (T, F, K, A, M), -1 where a category has no ground truth."""
        gts, dts = self._grouped(self.gt), self._grouped(self.dt)
        n_t, n_f, n_r = len(IOU_THRESHOLDS), len(F1_THRESHOLDS), len(RECALL_POINTS)
        n_k, n_a, n_m = len(self.category_ids), len(AREAS), len(MAX_DETECTIONS)
        self.precision = -np.ones((n_t, n_f, n_r, n_k, n_a, n_m))
        self.recall = -np.ones((n_t, n_f, n_k, n_a, n_m))
        for k, cat in enumerate(self.category_ids):
            with_f1 = k in CATEGORIES_WITH_ATTRIBUTES
            per_image = []
            for img in self.image_ids:
                g, d = gts.get((img, cat), []), dts.get((img, cat), [])
                if g or d:
                    order = np.argsort([-x["score"] for x in d], kind="mergesort")
                    d = [d[i] for i in order[: MAX_DETECTIONS[-1]]]
                    per_image.append((g, d, self._pairs(g, d, with_f1)))
            for a, area in enumerate(AREAS.values()):
                evals = [self._image(g, d, pairs, area, with_f1) for g, d, pairs in per_image]
                for m, max_det in enumerate(MAX_DETECTIONS):
                    self._accumulate(evals, max_det, k, a, m, with_f1)
        return self

    def _accumulate(self, evals, max_det, k, a, m, with_f1):
        if not evals:
            return
        scores = np.concatenate([e["scores"][:max_det] for e in evals])
        order = np.argsort(-scores, kind="mergesort")
        matched = np.concatenate([e["dt_matches"][:, :, :max_det] for e in evals], axis=2)
        ignored = np.concatenate([e["dt_ignore"][:, :, :max_det] for e in evals], axis=2)
        matched, ignored = matched[:, :, order], ignored[:, :, order]
        n_gt = int(np.count_nonzero(np.concatenate([e["gt_ignore"] for e in evals]) == 0))
        if n_gt == 0:
            return
        tp_sum = np.cumsum((matched != 0) & ~ignored, axis=2).astype(float)
        fp_sum = np.cumsum((matched == 0) & ~ignored, axis=2).astype(float)
        f_slots = range(len(F1_THRESHOLDS)) if with_f1 else [-1]
        for t in range(len(IOU_THRESHOLDS)):
            for f in f_slots:
                src = f if with_f1 else 0
                tp, fp = tp_sum[t, src], fp_sum[t, src]
                n = len(tp)
                rc = tp / n_gt
                self.recall[t, f, k, a, m] = rc[-1] if n else 0
                pr = np.maximum.accumulate((tp / (fp + tp + np.spacing(1)))[::-1])[::-1]
                at = np.searchsorted(rc, RECALL_POINTS, side="left")
                q = np.zeros(len(RECALL_POINTS))
                valid = at < n
                q[valid] = pr[at[valid]]
                self.precision[t, f, :, k, a, m] = q

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
        cat_axis = 3 if kind == "ap" else 2  # (T, F, R, K) or (T, F, K)
        parts = []
        for c in categories:
            entry = np.take(table, [c], axis=cat_axis)
            if f1 and c in CATEGORIES_WITH_ATTRIBUTES:
                slots = np.flatnonzero(F1_THRESHOLDS == f1_thr) if f1_thr is not None else range(10)
            else:
                slots = [-1]
            parts.append(entry[:, list(slots)].ravel())
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
