"""COCO's greedy matching and its precision/recall accumulation, compiled: one engine for
COCO's mask and box AP and for Fashionpedia's IoU-and-F1 AP.

pycocotools' ``COCOeval`` and the Fashionpedia API's ``FPEval`` run both steps in Python, one
photo, category, area range and threshold at a time; at Fashionpedia's validation size that
is most of ``score``'s time. Here one call matches every photo of a category at every area
range and (IoU, F1) threshold pair, and one call accumulates the curves, with the reference's
rules kept to the letter (its stable sorts, its "matched" meaning a nonzero annotation id, its
``np.spacing(1)``), so the figures equal it to the last bit that matters (tests compare them
at 1e-9).
"""

from __future__ import annotations

from functools import cache

import numpy as np

EPS = float(np.spacing(1))


def _match_category(
    ious, f1s, use_f1, pair_at, dt_at, gt_at, gt_area, gt_crowd, gt_named, dt_area,
    iou_thr, f1_thr, area_lo, area_hi, reuse_crowd, dt_matched, dt_ignored, gt_counted,
):  # fmt: skip
    """Match the detections of one category in every photo.

    Group ``i`` (a photo) owns detections ``dt_at[i]:dt_at[i+1]`` (sorted by score, at most
    100) and ground truth ``gt_at[i]:gt_at[i+1]``; its IoUs (and F1s) are the row-major block
    at ``pair_at[i]``.

    Args:
        ious, f1s: float64 (P,) flat (D_i, G_i) blocks (``f1s`` read only when ``use_f1``).
        gt_area, gt_crowd, gt_named: (G,) area, crowd flag and "id is not 0" per instance.
        dt_area: (D,) float64.
        iou_thr, f1_thr: (T,), (F,) thresholds (-1: not required).
        area_lo, area_hi: (A,) area ranges.
        reuse_crowd: a crowd instance may match several detections (COCO's rule).
        dt_matched, dt_ignored: (A, T, F, D) bool outputs.
        gt_counted: (A, G) bool output: instances that count towards recall.
    """
    n_groups = dt_at.size - 1
    n_a, n_t, n_f = area_lo.size, iou_thr.size, f1_thr.size
    for i in range(n_groups):
        d0, d1, g0, g1 = dt_at[i], dt_at[i + 1], gt_at[i], gt_at[i + 1]
        nd, ng = d1 - d0, g1 - g0
        base = pair_at[i]
        for a in range(n_a):
            lo, hi = area_lo[a], area_hi[a]
            ignore = np.empty(ng, dtype=np.int64)
            for g in range(ng):
                area = gt_area[g0 + g]
                ignore[g] = gt_crowd[g0 + g] or area < lo or area > hi
                gt_counted[a, g0 + g] = ignore[g] == 0
            # COCO sorts the instances with the ignored ones last (stable).
            order = np.argsort(ignore, kind="mergesort")
            taken = np.zeros((n_t, n_f, ng), dtype=np.bool_)
            for t in range(n_t):
                iou_floor = min(iou_thr[t], 1 - 1e-10)
                for f in range(n_f):
                    f1_floor = min(f1_thr[f], 1 - 1e-10)
                    for d in range(nd):
                        best_iou, best_f1, best = iou_floor, f1_floor, -1
                        for k in range(ng):
                            g = order[k]
                            if taken[t, f, k] and not (reuse_crowd and gt_crowd[g0 + g]):
                                continue
                            # A real match held: ignored instances (sorted last) end the search.
                            if best > -1 and ignore[order[best]] == 0 and ignore[g] == 1:
                                break
                            iou = ious[base + d * ng + g]
                            if iou < best_iou:
                                continue
                            if use_f1:
                                f1 = f1s[base + d * ng + g]
                                if f1 < best_f1:
                                    continue
                                best_f1 = f1
                            best_iou, best = iou, k
                        area = dt_area[d0 + d]
                        outside = area < lo or area > hi
                        if best > -1:
                            g = order[best]
                            # COCOeval stores the instance's id: an id of 0 reads as no match.
                            named = gt_named[g0 + g]
                            dt_matched[a, t, f, d0 + d] = named
                            dt_ignored[a, t, f, d0 + d] = ignore[g] == 1 or (not named and outside)
                            taken[t, f, best] = True
                        else:
                            dt_ignored[a, t, f, d0 + d] = outside


def _accumulate_category(
    scores, rank, matched, ignored, counted, max_dets, recall_points, precision, recall
):
    """Precision at each recall point and the final recall of one category.

    Args:
        scores: (D,) float64, photo after photo as COCO concatenates them; rank: (D,) each
            detection's rank within its photo.
        matched, ignored: (A, T, F, D) from :func:`_match_category`.
        counted: (A, G) instances that count.
        max_dets: (M,) detections per photo kept.
        recall_points: (R,).
        precision: (T, F, R, A, M) output, left untouched where no instance counts.
        recall: (T, F, A, M) output.
    """
    n_a, n_t, n_f = matched.shape[0], matched.shape[1], matched.shape[2]
    n_r = recall_points.size
    for m in range(max_dets.size):
        keep = np.flatnonzero(rank < max_dets[m])
        order = keep[np.argsort(-scores[keep], kind="mergesort")]
        n = order.size
        for a in range(n_a):
            n_gt = 0
            for g in range(counted.shape[1]):
                n_gt += counted[a, g]
            if n_gt == 0:
                continue
            for t in range(n_t):
                for f in range(n_f):
                    pr = np.zeros(n)
                    rc = np.zeros(n)
                    tps, fps = 0.0, 0.0
                    for j in range(n):
                        d = order[j]
                        if not ignored[a, t, f, d]:
                            if matched[a, t, f, d]:
                                tps += 1
                            else:
                                fps += 1
                        rc[j] = tps / n_gt
                        pr[j] = tps / (fps + tps + EPS)
                    recall[t, f, a, m] = rc[n - 1] if n else 0.0
                    for j in range(n - 1, 0, -1):
                        if pr[j] > pr[j - 1]:
                            pr[j - 1] = pr[j]
                    at = np.searchsorted(rc, recall_points, side="left")
                    for r in range(n_r):
                        precision[t, f, r, a, m] = pr[at[r]] if at[r] < n else 0.0


@cache
def kernels():
    """The two kernels, compiled once (Numba, cached beside this file); plain Python without
    Numba (correct, slow)."""
    try:
        from numba import njit
    except ImportError:  # pragma: no cover - numba is a dependency
        return _match_category, _accumulate_category
    return (
        njit(cache=True, nogil=True)(_match_category),
        njit(cache=True, nogil=True)(_accumulate_category),
    )
