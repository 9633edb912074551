"""Instance scoring: FPEval's definition (against the Fashionpedia API itself), pycocotools'
mask AP, and one-line errors for results that do not fit."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from fashionseg.evaluate.instances.fpeval import pairwise_attribute_f1
from fashionseg.evaluate.instances.results import ResultsError
from fashionseg.evaluate.instances.score import score_results

SAMPLE = Path(__file__).parents[3] / "shared/data/fashionpedia-sample/coco/instances_sample.json"
ATTRIBUTES = 12


def rle(mask: np.ndarray) -> dict:
    out = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    out["counts"] = out["counts"].decode("ascii")
    return out


def box_mask(y0, x0, y1, x1, size=64) -> np.ndarray:
    mask = np.zeros((size, size), dtype=bool)
    mask[y0:y1, x0:x1] = True
    return mask


def write_truth(path: Path, instances: list[tuple[int, int, np.ndarray, list[int]]]) -> Path:
    """A Fashionpedia-style JSON with the 46 categories (ids 0-45) and 12 attributes."""
    images = sorted({img for img, *_ in instances})
    data = {
        "images": [
            {"id": i, "file_name": f"{i:04d}.jpg", "height": 64, "width": 64} for i in images
        ],
        "categories": [{"id": k, "name": f"c{k}", "supercategory": "s"} for k in range(46)],
        "attributes": [{"id": 100 + a, "name": f"a{a}"} for a in range(ATTRIBUTES)],
        "annotations": [
            {
                "id": n + 1,
                "image_id": img,
                "category_id": cat,
                "segmentation": rle(mask),
                "area": int(mask.sum()),
                "bbox": [float(v) for v in mask_utils.toBbox(rle(mask))],
                "iscrowd": 0,
                "attribute_ids": attrs,
            }
            for n, (img, cat, mask, attrs) in enumerate(instances)
        ],
    }
    path.write_text(json.dumps(data))
    return path


def fpeval_reference(gt_path: Path, results: list[dict], monkeypatch) -> dict:
    """The Fashionpedia API's own figures (its np.float patched back for NumPy >= 1.24)."""
    fp_eval = pytest.importorskip("fashionpedia.fp_eval")
    from fashionpedia.fp import Fashionpedia

    monkeypatch.setattr(np, "float", float, raising=False)
    gt = Fashionpedia(str(gt_path))
    ev = fp_eval.FPEval(gt, gt.loadRes(json.loads(json.dumps(results))), "segm")
    ev.run()
    return {"iou_f1": ev.results, "iou": ev.resultDet, "f1": ev.resultF1}


def assert_same(ours: dict, reference: dict) -> None:
    for kind in ("iou_f1", "iou", "f1"):
        assert ours[kind].keys() == reference[kind].keys(), kind
        for key, value in reference[kind].items():
            assert ours[kind][key] == pytest.approx(float(value), abs=1e-9), (kind, key)


def test_attribute_f1_is_sklearn_binary_macro():
    sklearn = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    dts = (rng.random((9, ATTRIBUTES)) < 0.3).astype(int)
    gts = (rng.random((7, ATTRIBUTES)) < 0.3).astype(int)
    dts[0] = 0
    gts[0] = 0  # two instances without attributes agree: 1.0
    ours = pairwise_attribute_f1(dts, gts)
    for d in range(9):
        for g in range(7):
            want = sklearn.f1_score(gts[g], dts[d], average="macro", zero_division=0)
            assert ours[d, g] == pytest.approx(want), (d, g)
    assert ours[0, 0] == 1.0


def test_iou_and_attribute_f1_decide_differently(tmp_path, monkeypatch):
    """A dress (category 10, with attributes) found twice: the tight detection has the wrong
    attributes, the loose one the right ones. IoU alone prefers the first, IoU + F1 the
    second; a shoe (23, no attributes) is scored on IoU in every kind."""
    dress = box_mask(8, 8, 48, 40)
    shoe = box_mask(50, 10, 60, 20)
    gt = write_truth(tmp_path / "gt.json", [(1, 10, dress, [100, 101]), (1, 23, shoe, [])])
    results = [
        {"image_id": 1, "category_id": 10, "segmentation": rle(box_mask(8, 8, 47, 40)),
         "score": 0.9, "attribute_ids": [102, 103, 104]},
        {"image_id": 1, "category_id": 10, "segmentation": rle(box_mask(8, 8, 30, 40)),
         "score": 0.6, "attribute_ids": [100, 101]},
        {"image_id": 1, "category_id": 23, "segmentation": rle(box_mask(50, 10, 59, 20)),
         "score": 0.8},
    ]  # fmt: skip
    (tmp_path / "res.json").write_text(json.dumps(results))
    ours = score_results(tmp_path / "res.json", str(gt))
    reference = fpeval_reference(gt, results, monkeypatch)
    assert_same(ours["fpeval"], reference)
    assert ours["mask_ap_iou_f1"] < ours["mask_ap"]  # the right attributes come second
    assert ours["mask_ap_f1"] > ours["mask_ap_iou_f1"]  # F1 alone: the loose one matches
    assert ours["mask_ap"] == pytest.approx(reference["iou"]["AP"], abs=1e-9)
    shoe_row = next(r for r in ours["per_category"] if r["name"] == "c23")
    assert shoe_row["mask_ap_iou_f1"] is None and shoe_row["mask_ap"] > 0


def _perturbed(gt: dict, rng) -> list[dict]:
    """Detections made from a ground truth: shifted masks, mixed attributes, duplicates and
    false positives, random scores."""
    attributes = [a["id"] for a in gt["attributes"]]
    results = []
    for ann in gt["annotations"]:
        img = next(i for i in gt["images"] if i["id"] == ann["image_id"])
        h, w = img["height"], img["width"]
        seg = ann["segmentation"]
        rles = mask_utils.frPyObjects(seg, h, w) if isinstance(seg, list) else [seg]
        mask = mask_utils.decode(mask_utils.merge(rles) if isinstance(seg, list) else rles[0])
        for copy in range(int(rng.integers(1, 3))):
            shift = int(rng.integers(0, max(2, h // 12)))
            moved = np.roll(mask, shift * (copy + 1), axis=int(rng.integers(0, 2)))
            keep = list(ann.get("attribute_ids", []))
            if rng.random() < 0.5 and keep:
                keep = keep[: int(rng.integers(0, len(keep) + 1))]
            if rng.random() < 0.4:
                keep.append(int(rng.choice(attributes)))
            category = ann["category_id"] if rng.random() < 0.85 else int(rng.integers(0, 48))
            results.append(
                {"image_id": ann["image_id"], "category_id": category,
                 "segmentation": rle(moved), "score": float(rng.random()),
                 "attribute_ids": sorted(set(keep))}
            )  # fmt: skip
    return results


@pytest.mark.skipif(not SAMPLE.exists(), reason="needs ../shared/data")
def test_equals_fpeval_and_pycocotools_on_the_fashionpedia_sample(tmp_path, monkeypatch):
    gt = json.loads(SAMPLE.read_text())
    results = _perturbed(gt, np.random.default_rng(3))
    (tmp_path / "res.json").write_text(json.dumps(results))
    ours = score_results(tmp_path / "res.json", str(SAMPLE))
    reference = fpeval_reference(SAMPLE, results, monkeypatch)
    assert_same(ours["fpeval"], reference)
    for ours_key, ref_key in (("mask_ap", "AP"), ("mask_ap50", "AP_IOU50")):
        assert ours[ours_key] == pytest.approx(reference["iou"][ref_key], abs=1e-6)
    assert ours["mask_ap_iou_f1"] == pytest.approx(reference["iou_f1"]["AP"], abs=1e-6)
    assert ours["mask_ap_f1"] == pytest.approx(reference["f1"]["AP"], abs=1e-6)
    assert 0 < ours["mask_ap_iou_f1"] < ours["mask_ap"] <= 1
    assert ours["images"] == 2 and ours["instances"] == 12


def test_perfect_detections_score_one(tmp_path):
    masks = [box_mask(4, 4, 30, 30), box_mask(34, 34, 60, 60)]
    gt = write_truth(tmp_path / "gt.json", [(1, 0, masks[0], [100]), (1, 24, masks[1], [])])
    results = [
        {"image_id": "0001", "category_id": 0, "segmentation": rle(masks[0]), "score": 0.9,
         "attribute_ids": [100]},
        {"image_id": 1, "category_id": 24, "segmentation": rle(masks[1]), "score": 0.5},
    ]  # fmt: skip
    (tmp_path / "res.json").write_text(json.dumps(results))
    out = score_results(tmp_path / "res.json", str(gt))
    for key in ("mask_ap", "mask_ap50", "box_ap", "mask_ap_iou_f1", "mask_ap_f1"):
        assert out[key] == pytest.approx(1.0), key


TRI = [[1, 1, 9, 1, 9, 9]]
BAD = [
    ({"image_id": 7, "category_id": 0, "segmentation": TRI, "score": 1}, "image_id 7"),
    ({"image_id": 1, "category_id": 99, "segmentation": TRI, "score": 1}, "category_id 99"),
    ({"image_id": 1, "category_id": 0, "segmentation": "x", "score": 1}, "segmentation: expected"),
    ({"image_id": 1, "category_id": 0, "segmentation": [[1, 2, 3]], "score": 1},
     "segmentation\\[0\\]: expected `array` of length >= 6"),
    ({"image_id": 1, "category_id": 0, "segmentation": {"size": [64, 64], "counts": "x"}}, "score"),
    ({"image_id": 1, "category_id": 0, "segmentation": {"size": [9, 9], "counts": ""},
      "score": 1}, "RLE size"),
    ({"image_id": 1, "category_id": 0, "segmentation": TRI, "score": 1,
      "attribute_ids": [5]}, "attribute id 5"),
    # The fourth round's findings: values of the wrong type, size and range.
    ({"image_id": [1], "category_id": 0, "segmentation": TRI, "score": 1}, "image_id: expected"),
    ({"image_id": 1, "category_id": {"id": 0}, "segmentation": TRI, "score": 1},
     "category_id: expected `int`"),
    ({"image_id": 1, "category_id": 0, "segmentation": TRI, "score": 10**400}, "score"),
    ({"image_id": 1, "category_id": 0, "segmentation": [[1e30, 1, 9, 1, 9, 9]], "score": 1},
     "segmentation"),
    ({"image_id": 1, "category_id": 0, "segmentation": [[1, 1, 9e3, 1, 9, 9]], "score": 1},
     "far outside"),
    # Compressed counts of a 5x5 mask against the 64x64 photo: pycocotools would loop.
    ({"image_id": 1, "category_id": 0, "segmentation": {"size": [64, 64], "counts": "05k0"},
      "score": 1}, "cover"),
]  # fmt: skip


@pytest.mark.parametrize("entry, needle", BAD)
def test_a_bad_entry_is_one_line_naming_it(tmp_path, entry, needle):
    gt = write_truth(tmp_path / "gt.json", [(1, 0, box_mask(4, 4, 30, 30), [100])])
    good = {"image_id": 1, "category_id": 0, "segmentation": rle(box_mask(4, 4, 30, 30)),
            "score": 0.5}  # fmt: skip
    (tmp_path / "res.json").write_text(json.dumps([good, entry]))
    with pytest.raises(ResultsError, match=f"res.json: entry 1: .*{needle}"):
        score_results(tmp_path / "res.json", str(gt))


def test_score_command_on_a_bad_results_file(tmp_path):
    gt = write_truth(tmp_path / "gt.json", [(1, 0, box_mask(4, 4, 30, 30), [100])])
    entry = {"image_id": 3, "category_id": 0, "segmentation": TRI, "score": 0.5}
    (tmp_path / "res.json").write_text(json.dumps([entry]))
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "fashionseg",
            "score",
            str(tmp_path / "res.json"),
            "--data",
            str(gt),
        ],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 2
    assert run.stderr.strip().count("\n") == 0
    assert "entry 0: image_id 3 is not in the ground truth" in run.stderr


def _hard_truth_and_results(seed: int) -> tuple[dict, list[dict]]:
    """Small, medium and large instances, crowds, an annotation id 0, ties in score, photos
    with detections only or instances only, more than 100 detections in one photo."""
    rng = np.random.default_rng(seed)
    images, anns, results = [], [], []
    for img in range(1, 7):
        h, w = 120, 100
        images.append({"id": img, "file_name": f"{img}.jpg", "height": h, "width": w})
        for _ in range(int(rng.integers(0, 9))):
            side = int(rng.choice([4, 40, 100]))  # small, medium and large areas
            y, x = int(rng.integers(0, h - side)), int(rng.integers(0, max(1, w - side)))
            mask = box_mask(y, x, y + side, min(w, x + side), size=max(h, w))[:h, :w]
            anns.append(
                {"id": len(anns), "image_id": img, "category_id": int(rng.integers(0, 4)),
                 "segmentation": rle(mask), "area": float(mask.sum()),
                 "bbox": [float(v) for v in mask_utils.toBbox(rle(mask))],
                 "iscrowd": int(rng.random() < 0.15), "attribute_ids": []}
            )  # fmt: skip
            for _ in range(int(rng.integers(0, 4))):
                moved = np.roll(mask, int(rng.integers(-6, 7)), axis=int(rng.integers(0, 2)))
                results.append(
                    {"image_id": img, "category_id": int(rng.integers(0, 4)),
                     "segmentation": rle(moved), "score": round(float(rng.random()), 1)}
                )  # fmt: skip
        extra = 120 if img == 3 else int(rng.integers(0, 5))
        for _ in range(extra):
            y, x = int(rng.integers(0, h - 10)), int(rng.integers(0, w - 10))
            mask = box_mask(y, x, y + 10, x + 10, size=max(h, w))[:h, :w]
            results.append(
                {"image_id": img, "category_id": int(rng.integers(0, 4)),
                 "segmentation": rle(mask), "score": round(float(rng.random()), 2)}
            )  # fmt: skip
    truth = {
        "images": images, "annotations": anns,
        "categories": [{"id": k, "name": f"c{k}", "supercategory": "s"} for k in range(4)],
    }  # fmt: skip
    return truth, results


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("iou_type", ["segm", "bbox"])
def test_the_compiled_engine_equals_cocoeval(seed, iou_type):
    import contextlib
    import copy
    import io

    from pycocotools.cocoeval import COCOeval

    from fashionseg.evaluate.instances.fpeval import FashionpediaEval, coco_stats
    from fashionseg.evaluate.instances.truth import quiet_coco

    truth, results = _hard_truth_and_results(seed)
    gt = quiet_coco(truth)
    with contextlib.redirect_stdout(io.StringIO()):
        reference = COCOeval(gt, gt.loadRes(copy.deepcopy(results)), iou_type)
        reference.evaluate()
        reference.accumulate()
        reference.summarize()
    ours = FashionpediaEval(gt, gt.loadRes(copy.deepcopy(results)), iou_type, coco=True).run()
    stats, _ = coco_stats(ours)
    np.testing.assert_allclose(stats, reference.stats, atol=1e-12, rtol=0)
    # Every entry of the curves, not only the summaries.
    np.testing.assert_array_equal(ours.precision[:, 0], reference.eval["precision"])
    np.testing.assert_array_equal(ours.recall[:, 0], reference.eval["recall"])


def test_results_entries_have_pycocotools_own_rle_from_masks_and_from_kaggle_runs():
    """The one owner of COCO results entries writes the compressed counts pycocotools writes
    from a detection's mask, and from predict's Kaggle RLE counts that pycocotools decodes to
    the same mask (a full mask's may end in an empty background run)."""
    from fashionseg.data.rle import coco_counts, rle_encode
    from fashionseg.evaluate.instances.entries import mask_counts, results_entry

    rng = np.random.default_rng(5)
    for shape in [(1, 1), (5, 7), (13, 11), (40, 31)]:
        for p in (0.0, 0.3, 0.9, 1.0):
            mask = rng.random(shape) < p
            want = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))["counts"].decode()
            h, w = shape
            entry = results_entry("a", 3, 0.5, mask_counts(mask), h, w, [1, 2, 4, 6], (7,))
            assert entry["segmentation"] == {"size": [h, w], "counts": want}
            kaggle = results_entry("a", 3, 0.5, coco_counts(rle_encode(mask), h, w), h, w,
                                   [1, 2, 4, 6], (7,))  # fmt: skip
            rle = {"size": [h, w], "counts": kaggle["segmentation"]["counts"].encode()}
            assert (mask_utils.decode(rle).astype(bool) == mask).all()
    assert entry["bbox"] == [1, 2, 3, 4] and entry["attribute_ids"] == [7]
