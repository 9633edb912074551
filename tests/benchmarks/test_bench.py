"""The benchmark code paths on tiny shapes (figures are reported, never asserted as timings)."""

import json

import numpy as np
import pytest
from benchmarks.data import naive_rle_decode
from benchmarks.sections import run_bench

from fashionseg.data.rle import rle_decode, rle_encode


def test_baseline_rle_loop_decodes_like_the_library():
    rng = np.random.default_rng(0)
    for h, w in [(5, 7), (40, 30), (1, 1)]:
        mask = rng.random((h, w)) > 0.6
        encoded = rle_encode(mask)
        assert np.array_equal(naive_rle_decode(encoded, h, w), mask)
        assert np.array_equal(rle_decode(encoded, h, w), mask)


def test_train_benchmark_dry_run_measures_every_stage():
    from benchmarks.train import bench_train

    r = bench_train(models=("unet",), quick=True)
    row = r["models"]["unet@64"]
    assert row["model_fp32"] > 0 and row["end_to_end"] > 0 and row["gflops_per_image"] > 0
    assert 0 < row["end_to_end_vs_best_model_step"] < 2
    assert row["loop_on_device_batches"] > 0
    assert r["loader_images_per_s_64"] > 0 and r["matmul_peak_tflops"] > 0


@pytest.mark.slow
def test_infer_benchmark_checks_onnx_agreement():
    from benchmarks.infer import bench_infer_cpu

    r = bench_infer_cpu(models=("unet",), size=64, width=8, reps=1, compiled=())
    row = r["models"]["unet"]
    assert row["onnx_pixel_agreement"] == 1.0
    assert row["eager_ms"] > 0 and row["onnxruntime_ms"] > 0


@pytest.mark.slow
def test_memory_benchmark_writes_json(tmp_path):
    out = tmp_path / "b.json"
    run_bench("memory", str(out), quick=True)
    data = json.loads(out.read_text())
    assert data["memory"]["peak_rss_mb_10_photos"] > 0
    assert data["memory"]["peak_rss_mb_40_photos"] > 0
    assert data["command"] == "python -m benchmarks memory --device cpu --quick"


def test_fashionpedia_like_kaggle_csv_holds_the_coco_files_masks(tmp_path):
    """The generator's two layouts describe the same masks: the Kaggle reader's rows equal the
    COCO reader's instances, converted from their runs."""
    from benchmarks.fashionpedia_like import coco_file, write_kaggle

    from fashionseg.data.formats import open_dataset

    coco = coco_file(12, seed=3, rle_share=0.3)
    (tmp_path / "coco").mkdir()
    (tmp_path / "coco" / "instances.json").write_text(json.dumps(coco))
    write_kaggle(tmp_path / "kaggle", coco)
    from_coco = {
        r.image_id: r.instances for r in open_dataset(tmp_path / "coco" / "instances.json")
    }
    from_csv = {r.image_id: r.instances for r in open_dataset(tmp_path / "kaggle")}
    assert from_coco.keys() == from_csv.keys() and len(from_coco) == 12
    assert from_coco == from_csv
    assert sum(map(len, from_csv.values())) == len(coco["annotations"])


@pytest.mark.slow
def test_scale_harness_runs_every_stage_at_a_tiny_size(tmp_path):
    import subprocess
    import sys

    out = tmp_path / "scale.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.scale", "--sizes", "20", "40", "--no-photos", "60",
         "--out", str(tmp_path / "data"), "--json", str(out), "--plot", str(tmp_path / "g.png")],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(out.read_text())
    for stage in ("read-coco", "read-kaggle", "stats", "masks", "prepare", "analyze"):
        runs = summary[stage]["runs"]
        photos = [r["photos"] for r in runs]
        assert photos == (
            [20, 40, 60] if stage in ("read-coco", "read-kaggle", "analyze") else [20, 40]
        )
        assert all(r["seconds"] > 0 and r["peak_mb"] > 0 for r in runs)
        assert "exponent" in summary[stage]
    assert (tmp_path / "g.png").stat().st_size > 1000
    assert len(list((tmp_path / "data" / "40" / "coco" / "train").glob("*.jpg"))) == 40
