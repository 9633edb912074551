"""Inference latency (eager, compiled, ONNX Runtime) and a load test of the web app."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks.train import NUM_CLASSES, sync
from fashionseg.checkpoint import save_checkpoint
from fashionseg.config import TrainConfig
from fashionseg.data.categories import fashionpedia
from fashionseg.inference.loading import ImageModel
from fashionseg.models import build_model


def _latency_ms(fn, device: torch.device, reps: int, warmup: int = 2) -> float:
    """Median wall time of one call, in milliseconds."""
    for _ in range(warmup):
        fn()
    sync(device)
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - t0)
    return 1000 * float(np.median(times))


def _onnx_sessions(model: torch.nn.Module, x: torch.Tensor, threads: int) -> tuple:
    """ONNX Runtime sessions of the float32 export and of its int8 quantization (calibrated on
    a few random canvases: speed does not depend on the ranges)."""
    import onnxruntime as ort

    from fashionseg.use.export import to_onnx
    from fashionseg.use.quantize import quantize_onnx

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    with tempfile.TemporaryDirectory(prefix="fashionseg-bench-") as tmp:
        path, int8 = Path(tmp) / "m.onnx", Path(tmp) / "int8.onnx"
        to_onnx(model, x).save(str(path))
        quantize_onnx(path, int8, x.numpy())
        # A session holds its model in memory: the files can go once both are made.
        return tuple(
            ort.InferenceSession(str(p), opts, providers=["CPUExecutionProvider"])
            for p in (path, int8)
        )


def bench_infer_cpu(
    models=("unet", "segnet", "fcn_resnet50", "unet_resnet34", "deeplabv3plus"),
    size: int = 256,
    threads: int = 2,
    reps: int = 5,
    width: int = 64,
    compiled: tuple[str, ...] = ("unet",),
) -> dict:
    """Per-photo latency at batch 1 on ``threads`` CPU cores: eager vs compiled vs ORT."""
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    out = {"threads": threads, "size": size, "width": width, "models": {}}
    cpu = torch.device("cpu")
    try:
        for name in models:
            model = ImageModel(build_model(name, NUM_CLASSES, width=width)).eval()
            x = torch.randint(0, 256, (2, size, size, 3), dtype=torch.uint8)
            one = x[:1]
            row = {}
            with torch.inference_mode():
                row["eager_ms"] = _latency_ms(lambda m=model, x=one: m(x), cpu, reps)
                ref = model(one)
            if name in compiled:
                comp = torch.compile(model)
                with torch.inference_mode():
                    row["compiled_ms"] = _latency_ms(
                        lambda m=comp, x=one: m(x), cpu, reps, warmup=3
                    )
            session, int8 = _onnx_sessions(model, x, threads)
            feed = {"images": one.numpy()}
            row["onnxruntime_ms"] = _latency_ms(lambda s=session, f=feed: s.run(None, f), cpu, reps)
            got = session.run(None, feed)[0]
            row["onnx_pixel_agreement"] = float((got.argmax(1) == ref.numpy().argmax(1)).mean())
            row["onnxruntime_speedup"] = row["eager_ms"] / row["onnxruntime_ms"]
            # int8 labels are only meaningful for trained weights: docs/benchmarks.md gives
            # their agreement on real photos; here it is speed alone.
            row["onnxruntime_int8_ms"] = _latency_ms(
                lambda s=int8, f=feed: s.run(None, f), cpu, reps
            )
            row["onnxruntime_int8_speedup"] = row["eager_ms"] / row["onnxruntime_int8_ms"]
            out["models"][name] = row
    finally:
        torch.set_num_threads(old)
    return out


def bench_infer_gpu(
    models=("unet", "segnet", "fcn_resnet50"), size: int = 256, reps: int = 20, width: int = 64
) -> dict:
    """GPU latency per batch (1 and 32): fp32 eager and bf16 + channels_last (eager)."""
    dev = torch.device("cuda")
    out = {"device": torch.cuda.get_device_name(dev), "size": size, "models": {}}
    for name in models:
        model = build_model(name, NUM_CLASSES, width=width).to(dev).eval()
        row = {}
        for batch in (1, 32):
            x = torch.randn(batch, 3, size, size, device=dev)
            with torch.inference_mode():
                row[f"fp32_b{batch}_ms"] = _latency_ms(lambda m=model, x=x: m(x), dev, reps)
                cl = model.to(memory_format=torch.channels_last)
                xc = x.contiguous(memory_format=torch.channels_last)
                with torch.autocast("cuda", dtype=torch.bfloat16):
                    row[f"bf16_cl_b{batch}_ms"] = _latency_ms(lambda m=cl, x=xc: m(x), dev, reps)
                model = model.to(memory_format=torch.contiguous_format)
            row[f"images_per_s_b{batch}"] = (
                1000 * batch / min(v for k, v in row.items() if k.endswith(f"b{batch}_ms"))
            )
        out["models"][name] = row
    return out


def random_checkpoint(path: Path, model: str = "unet", width: int = 64, size: int = 256) -> Path:
    """An untrained checkpoint in the real format: speed does not depend on the weights."""
    table = fashionpedia()
    net = build_model(model, table.num_classes, width=width)
    config = TrainConfig(model=model, width=width, size=str(size)).__dict__
    save_checkpoint(
        {"model": net.state_dict(), "config": config, "categories": table.to_json()}, path
    )
    return path


def bench_serve(
    model: str | None = None,
    requests: int = 200,
    concurrency: int = 8,
    photo: str | None = None,
    arch: str = "unet_resnet34",
    width: int = 64,
    size: int = 256,
) -> dict:
    """200 requests, 8 at a time, against a real uvicorn server on localhost: p50/p95."""
    from concurrent.futures import ThreadPoolExecutor
    from importlib import resources

    import httpx

    from benchmarks.background import background_server
    from fashionseg.use.serve.app import create_app

    if photo is None:
        sample = resources.files("fashionseg") / "sample" / "ccp" / "train"
        photo = str(sorted(Path(str(sample)).glob("*.jpg"))[0])
    data = Path(photo).read_bytes()
    if model is None:
        with tempfile.TemporaryDirectory(prefix="fashionseg-bench-") as tmp:
            # The app loads the checkpoint when it is made; the file is not needed after.
            app = create_app(str(random_checkpoint(Path(tmp) / "bench.pt", arch, width, size)))
    else:
        app = create_app(model)
    with background_server(app, log_level="error") as base:
        url = f"{base}/api/segment"

        def one(_):
            t0 = time.perf_counter()
            r = httpx.post(url, files={"file": (Path(photo).name, data)}, timeout=300)
            return r.status_code, time.perf_counter() - t0

        one(0)  # warm-up
        before = app.state.batcher.batches
        t0 = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            results = list(pool.map(one, range(requests)))
        wall = time.perf_counter() - t0
    lat = np.array([t for _, t in results]) * 1000
    return {
        "model": app.state.predictor.name,
        "photo": Path(photo).name,
        "requests": requests,
        "concurrency": concurrency,
        "errors": sum(code != 200 for code, _ in results),
        "p50_ms": float(np.percentile(lat, 50)),
        "p95_ms": float(np.percentile(lat, 95)),
        "requests_per_s": requests / wall,
        "mean_batch": requests / max(1, app.state.batcher.batches - before),
    }
