"""``python -m benchmarks``: speed and memory figures, each measured side by side with the
baseline a user would otherwise write (or a ceiling measured in the same run). Prints a table
and writes JSON; nothing here is a test.
"""

from __future__ import annotations

import json
import platform
import time
from datetime import date
from pathlib import Path

from benchmarks.data import (
    baseline_prepare_one,
    bench_memory,
    bench_prepare,
    bench_rle,
    naive_rle_decode,
)
from fashionseg.machine import available_cores

__all__ = ["baseline_prepare_one", "naive_rle_decode", "run_bench"]

SECTIONS = ("rle", "prepare", "memory", "train", "infer", "serve", "predict", "ray")


def _machine() -> str:
    cores = available_cores()
    return f"{platform.machine()}, {cores} cores, {platform.processor() or platform.platform()}"


def run_bench(
    what: str = "all",
    out: str | None = None,
    device: str = "cpu",
    quick: bool = False,
    data: str | None = None,
    model: str | None = None,
) -> dict:
    """Run one section (or all) and print it; ``quick`` shrinks every size (a dry run);
    ``data``: a Kaggle-layout folder whose CSV the RLE section decodes (default: synthetic)."""
    sections = SECTIONS if what == "all" else (what,)
    results: dict = {
        "machine": _machine(),
        "date": str(date.today()),
        "command": f"python -m benchmarks {what} --device {device}" + (" --quick" if quick else ""),
    }
    for section in sections:
        t0 = time.perf_counter()

        def partial(values: dict, section: str = section) -> None:
            if out:
                _write(out, {**results, section: {**values, "partial": True}})

        results[section] = _run(section, device, quick, partial, data, model)
        results[section]["seconds"] = time.perf_counter() - t0
        _print(section, results[section])
        if out:  # written after every section, so a long run that dies keeps what it measured
            _write(out, results)
    return results


def _write(out: str, results: dict) -> None:
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps(results, indent=1))


def _run(
    section: str, device: str, quick: bool, partial=None, data: str | None = None, model=None
) -> dict:
    if section == "rle":
        return bench_rle(None if quick else data, quick=quick)
    if section == "prepare":
        return bench_prepare(images=4, photo="600x900") if quick else bench_prepare()
    if section == "memory":
        return bench_memory((10, 40), "320x480") if quick else bench_memory()
    if section == "train":
        from benchmarks.train import bench_train

        return bench_train(device, quick=quick, progress=partial)
    if section == "infer":
        from benchmarks.infer import bench_infer_cpu, bench_infer_gpu

        if device == "cuda":  # the CPU figures belong to the CPU machine: `--device cpu`
            return {
                "gpu": bench_infer_gpu(**({"size": 64, "reps": 2, "width": 8} if quick else {}))
            }
        return {"cpu": bench_infer_cpu(**_quick_infer(quick))}
    if section == "serve":
        from benchmarks.infer import bench_serve

        return bench_serve(requests=16, arch="unet", width=8, size=64) if quick else bench_serve()
    if section == "predict":
        from benchmarks.predict import bench_predict

        if quick:
            return bench_predict(model, photos=24, small=8, device=device, data=data)
        return bench_predict(model, device=device, workers=available_cores(), data=data)
    if section == "ray":
        from benchmarks.ray_predict import bench_ray

        return bench_ray(model, photos=24) if quick else bench_ray(model)
    raise ValueError(f"unknown benchmark {section!r}; choose from {', '.join(SECTIONS)} or all")


def _quick_infer(quick: bool) -> dict:
    if not quick:
        return {}
    return {"models": ("unet", "fcn_resnet50"), "size": 64, "reps": 2, "width": 8}


def _print(section: str, values: dict, indent: int = 2) -> None:
    print(f"\n{' ' * (indent - 2)}{section}")
    for k, v in values.items():
        if isinstance(v, dict):
            _print(str(k), v, indent + 2)
        elif isinstance(v, float):
            print(
                f"{' ' * indent}{k:>36}: {v:,.3f}" if v < 10 else f"{' ' * indent}{k:>36}: {v:,.1f}"
            )
        else:
            print(f"{' ' * indent}{k:>36}: {v}")
