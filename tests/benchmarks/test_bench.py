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
