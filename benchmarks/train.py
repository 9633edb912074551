"""Training throughput: the model-only step rate, the loader alone, and the project's own
training loop end to end (cache -> augmentation -> forward/backward/step), side by side.

The model-only figures use synthetic tensors already on the device, one SGD step each, in the
precisions of the reference table in docs/benchmarks.md. End to end runs :func:`steps.train_one_epoch` on a
memory-mapped cache, so whatever the loader or augmentation costs shows up there.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

from fashionseg.config import TrainConfig
from fashionseg.data.categories import fashionpedia
from fashionseg.machine import available_cores
from fashionseg.models import build_model
from fashionseg.models.normalize import to_float
from fashionseg.prepare.cache import CACHE_VERSION, open_cache
from fashionseg.training.augment import augment
from fashionseg.training.build import build_run
from fashionseg.training.loader import BatchPlan, epoch_batches, make_loader
from fashionseg.training.steps import train_one_epoch
from fashionseg.training.tasks.semantic import SemanticTask

NUM_CLASSES = 47  # 46 Fashionpedia categories + background


def sync(device: torch.device) -> None:
    """Wait for the device (timings must not end while GPU work is queued)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@contextmanager
def _tf32(on: bool, device: torch.device):
    """TF32 for CUDA matmuls and convolutions on or off; nothing changes on the CPU."""
    if device.type != "cuda":
        yield
        return
    old = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = on
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = old


def synthetic_cache(root: Path, n: int, size: int) -> Path:
    """A cache of random photos and label maps in the real on-disk format (fast to make)."""
    from numpy.lib.format import open_memmap

    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    images = open_memmap(root / "images.npy", "w+", np.uint8, (n, size, size, 3))
    masks = open_memmap(root / "masks.npy", "w+", np.uint8, (n, size, size))
    for i in range(0, n, 64):
        k = min(64, n - i)
        images[i : i + k] = rng.integers(0, 256, (k, size, size, 3), dtype=np.uint8)
        masks[i : i + k] = rng.integers(0, NUM_CLASSES, (k, size, size), dtype=np.uint8)
    images.flush()
    masks.flush()
    np.save(root / "status.npy", np.ones(n, dtype=np.uint8))
    meta = {
        "version": CACHE_VERSION,
        "size": [size, size],
        "keep_aspect": False,
        "classes": "all",
        "source": "synthetic",
        "layout": "synthetic",
        "num_images": n,
        "categories": fashionpedia().to_json(),
        "complete": True,
        "ids": [f"{i:06d}" for i in range(n)],
        "heights": [size] * n,
        "widths": [size] * n,
    }
    (root / "meta.json").write_text(json.dumps(meta))
    return root


def matmul_peak(device: torch.device, dtype: torch.dtype, n: int = 4096, reps: int = 10) -> float:
    """Measured FLOP/s of a large square matrix multiply (the ceiling MFU refers to)."""
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    a @ b
    sync(device)
    t0 = time.perf_counter()
    for _ in range(reps):
        a @ b
    sync(device)
    return 2 * n**3 * reps / (time.perf_counter() - t0)


def train_flops_per_image(model: torch.nn.Module, size: int, device: torch.device) -> float:
    """Forward FLOPs of one image times 3 (forward + backward), counted by PyTorch."""
    from torch.utils.flop_counter import FlopCounterMode

    x = torch.randn(2, 3, size, size, device=device)
    was = model.training
    model.eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(x)
    model.train(was)
    return 3 * counter.get_total_flops() / 2


VARIANTS = ("fp32", "tf32", "bf16_cl", "compile")


def model_step_rate(
    name: str,
    size: int,
    batch: int,
    device: torch.device,
    variant: str,
    steps: int,
    width: int = 64,
) -> float:
    """Images/s of forward + backward + SGD step on synthetic tensors already on the device."""
    model = build_model(name, NUM_CLASSES, width=width).to(device)
    x = torch.randn(batch, 3, size, size, device=device)
    y = torch.randint(0, NUM_CLASSES, (batch, size, size), device=device)
    dtype = torch.bfloat16 if variant in ("bf16_cl", "compile") else None
    if variant in ("bf16_cl", "compile") and device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    step_model = torch.compile(model) if variant == "compile" else model
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step():
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            loss = loss_fn(step_model(x), y)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    with _tf32(variant != "fp32", device):
        for _ in range(3 if variant == "compile" else 2):
            step()
        sync(device)
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        sync(device)
    return batch * steps / (time.perf_counter() - t0)


def loader_rate(cache: Path, batch: int, device: torch.device, workers: int, steps: int) -> float:
    """Images/s of the loader, device copy and augmentation alone (no model)."""
    c = open_cache(cache)
    gen = torch.Generator().manual_seed(0)
    aug_gen = torch.Generator().manual_seed(0)  # augment draws on the CPU
    batches = epoch_batches(c.indices, batch, gen)[: steps + 2]
    seen, t0 = 0, None
    for i, (images, masks) in enumerate(make_loader(c, batches, workers, device.type == "cuda")):
        images = to_float(images.to(device, non_blocking=True))
        masks = masks.to(device, non_blocking=True).long()
        images, masks = augment(images, masks, aug_gen, True, (0.75, 1.25), 0.2)
        if i == 1:  # the first batches pay for worker start-up
            sync(device)
            t0 = time.perf_counter()
        elif i > 1:
            seen += images.shape[0]
    sync(device)
    return seen / (time.perf_counter() - t0)


def loader_restart_cost(cache: Path, batch: int, workers: int, epochs: int = 3) -> dict:
    """Seconds from the start of an epoch to its first batch: a fresh loader per epoch (worker
    start-up every time) against one loader kept for the run (:class:`BatchPlan`)."""
    c = open_cache(cache)
    gen = torch.Generator().manual_seed(0)
    out = {}
    for name, keep in (("fresh_loader_per_epoch", False), ("one_loader_per_run", True)):
        plan = BatchPlan()
        kept = make_loader(c, plan, workers, False) if keep else None
        waits = []
        for _ in range(epochs + 1):
            plan.batches = epoch_batches(c.indices, batch, gen)[:4]
            loader = kept if keep else make_loader(c, plan, workers, False)
            t0 = time.perf_counter()
            it = iter(loader)
            next(it)
            waits.append(time.perf_counter() - t0)
            for _ in it:
                pass
            del it, loader  # a fresh loader's workers stop here, before the next one starts
        out[f"{name}_first_batch_s"] = float(np.median(waits[1:]))  # epoch 1 starts both
        del kept
    return out


def end_to_end_rate(
    name: str,
    cache: Path,
    batch: int,
    device: torch.device,
    workers: int,
    steps: int,
    compile: bool,
    width: int = 64,
) -> tuple[float, float]:
    """Images/s of the project's training loop on a cache, its defaults for the device.

    Returns ``(end to end, same loop on batches already on the device)``. The second runs the
    same compiled model, augmentation, loss and step, but skips the loader and the host-to-device
    copy, so the gap between the two is what reading batches costs the loop, and the gap from
    the second to the model-only rate is what augmentation and the loop itself cost.
    """
    c = open_cache(cache)
    config = TrainConfig(
        model=name,
        width=width,
        batch_size=batch,
        optimizer="sgd",
        lr=0.01,
        workers=workers,
        compile=compile,
        scale_min=0.75,
        scale_max=1.25,
        color_jitter=0.2,
        tensorboard=False,
    )
    run = build_run(config, NUM_CLASSES, device)  # as engine.train builds it
    gen = torch.Generator().manual_seed(0)
    aug_gen = torch.Generator().manual_seed(0)  # augment draws on the CPU

    plan = BatchPlan()  # one loader for every epoch, as in engine.train
    loader = make_loader(c, plan, workers, device.type == "cuda")

    def epoch(n_steps: int, resident: bool = False) -> float:
        plan.batches = epoch_batches(c.indices, batch, gen)[:n_steps]
        source = loader
        if resident:
            source = [(i.to(device), m.to(device)) for i, m in make_loader(c, plan, 0, False)]
        sync(device)
        t0 = time.perf_counter()
        # A constant learning rate: the schedule is not what is measured.
        _, seen, _ = train_one_epoch(
            run, SemanticTask(run.config), source, aug_gen, step=0, total_steps=10**6,
            steps_per_epoch=10**6,
        )  # fmt: skip
        sync(device)
        return seen / (time.perf_counter() - t0)

    with _tf32(True, device):
        epoch(3 if compile else 2)  # warm-up: cudnn autotune, compilation, worker start-up
        return epoch(steps), epoch(steps, resident=True)


def bench_train(
    device: str = "cpu",
    models: tuple[str, ...] = ("unet", "segnet", "fcn_resnet50"),
    sizes: tuple[int, ...] | None = None,
    batch: int | None = None,
    steps: int | None = None,
    variants: tuple[str, ...] | None = None,
    width: int = 64,
    workers: int | None = None,
    quick: bool = False,
    progress: Callable[[dict], None] | None = None,
) -> dict:
    """All training figures for one device; CPU defaults are small enough for a laptop.

    ``progress`` gets the partial result after every model, so a run cut short keeps its rows.
    """
    import tempfile

    dev = torch.device(device)
    gpu = dev.type == "cuda"
    if quick:  # the dry run of the GPU script: every code path, tiny shapes
        sizes, batch, steps, width = sizes or (64,), batch or 2, steps or 3, 8
    sizes = sizes or ((256, 512) if gpu else (128,))
    batch = batch or (32 if gpu else 4)
    steps = steps or (30 if gpu else 6)
    variants = variants or (VARIANTS if gpu else ("fp32",))
    # On 2 CPU cores a loader process would only compete with the model for them.
    workers = workers if workers is not None else min(8, available_cores()) if gpu else 0
    peak_dtype = torch.bfloat16 if gpu else torch.float32
    result: dict = {
        "device": torch.cuda.get_device_name(dev) if gpu else "cpu",
        "batch": batch,
        "width": width,
        "loader_workers": workers,
        "matmul_peak_tflops": matmul_peak(dev, peak_dtype, 1024 if quick else 4096) / 1e12,
        "matmul_peak_dtype": str(peak_dtype).replace("torch.", ""),
        "models": {},
    }
    first_steps = steps
    for size in sizes:
        # Fewer steps at larger sizes keep each measurement near the same duration.
        steps = max(4, round(first_steps * (sizes[0] / size) ** 2))
        with tempfile.TemporaryDirectory(prefix="fashionseg-bench-") as tmp:
            cache = synthetic_cache(Path(tmp), max(batch * (steps + 4), 16), size)
            result[f"loader_images_per_s_{size}"] = loader_rate(cache, batch, dev, workers, steps)
            if size == sizes[0]:
                result["loader_epoch_start"] = loader_restart_cost(cache, batch, max(workers, 2))
            for name in models:
                # Compiling costs a minute per shape: only at the first size, as in the reference
                # table, and not segnet (its max-unpooling has no compiled row there either).
                can_compile = name != "segnet" and size == sizes[0]
                kinds = [v for v in variants if v != "compile" or can_compile]
                row = _model_row(name, size, cache, dev, batch, steps, kinds, workers, width)
                row["mfu_end_to_end"] = (
                    row["end_to_end"] * row["gflops_per_image"] / result["matmul_peak_tflops"] / 1e3
                )
                result["models"][f"{name}@{size}"] = row
                if progress:
                    progress(result)
    return result


def _model_row(
    name: str,
    size: int,
    cache: Path,
    dev: torch.device,
    batch: int,
    steps: int,
    variants: list[str],
    workers: int,
    width: int,
) -> dict:
    """One model's figures at one size: model-only rates in ``variants``, end to end (compiled
    when ``variants`` has ``compile``), FLOPs per image and, on a GPU, peak memory."""
    row: dict = {}
    for variant in variants:
        row[f"model_{variant}"] = model_step_rate(name, size, batch, dev, variant, steps, width)
    compiled = dev.type == "cuda" and "compile" in variants
    row["end_to_end"], row["loop_on_device_batches"] = end_to_end_rate(
        name, cache, batch, dev, workers, steps, compiled, width
    )
    best_model = max(v for k, v in row.items() if k.startswith("model_"))
    row["end_to_end_vs_best_model_step"] = row["end_to_end"] / best_model
    flops = train_flops_per_image(build_model(name, NUM_CLASSES, width=width).to(dev), size, dev)
    row["gflops_per_image"] = flops / 1e9
    if dev.type == "cuda":
        row["peak_memory_gb_by_batch"] = peak_memory(name, size, dev, width)
    return row


def peak_memory(name: str, size: int, device: torch.device, width: int) -> dict:
    """Peak GPU memory (GB) of one bf16 training step per batch size."""
    out = {}
    for batch in (8, 16, 32, 64):
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
        try:
            model_step_rate(name, size, batch, device, "bf16_cl", 1, width)
            out[batch] = torch.cuda.max_memory_allocated(device) / 1e9
        except torch.OutOfMemoryError:
            out[batch] = "out of memory"
    return out
