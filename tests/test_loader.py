import time

import numpy as np
import pytest
import torch

from fashionseg.config import TrainConfig
from fashionseg.data.transforms import augment, to_float
from fashionseg.engine import _fit_budget
from fashionseg.loader import BatchPlan, make_loader
from fashionseg.losses import build_loss
from fashionseg.steps import Dist


def test_one_loader_serves_every_epoch_with_the_same_workers(synth_cache):
    plan = BatchPlan()
    loader = make_loader(synth_cache, plan, workers=2, pin=False)
    images = np.load(synth_cache.root / "images.npy", mmap_mode="r")
    masks = np.load(synth_cache.root / "masks.npy", mmap_mode="r")
    pids = []
    for batches in ([[0, 1], [2, 3], [4]], [[5, 2], [1, 0]]):
        plan.batches = batches
        got = list(loader)
        assert len(loader) == len(batches) == len(got)
        for rows, (x, y) in zip(batches, got):
            assert torch.equal(x, torch.from_numpy(images[rows]))
            assert torch.equal(y, torch.from_numpy(masks[rows]))
        pids.append(sorted(w.pid for w in loader._iterator._workers))
    assert pids[0] == pids[1]  # no worker start-up per epoch


def test_budget_fit_uses_the_steady_pace_not_the_warm_up():
    config = TrainConfig(max_minutes=1.0)
    # 30 s spent on warm-up plus two epochs, the second of which took 2 s: 30 s are left,
    # 13 more epochs of 2.2 s (a tenth kept for validation).
    start = time.perf_counter() - 30
    assert _fit_budget(config, 400, 2, start, 2.0, Dist(), torch.device("cpu")) == 15
    # Never past the configured epochs, never fewer than those already run.
    assert _fit_budget(config, 10, 2, start, 2.0, Dist(), torch.device("cpu")) == 10
    start = time.perf_counter() - 90
    assert _fit_budget(config, 400, 2, start, 2.0, Dist(), torch.device("cpu")) == 2


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_training_step_never_makes_the_host_wait_for_the_gpu():
    images = torch.randint(0, 256, (4, 64, 64, 3), dtype=torch.uint8).pin_memory()
    masks = torch.randint(0, 5, (4, 64, 64), dtype=torch.uint8).pin_memory()
    logits = torch.randn(4, 5, 64, 64, device="cuda", requires_grad=True)
    gen = torch.Generator().manual_seed(0)
    torch.cuda.set_sync_debug_mode("error")
    try:
        x = to_float(images.to("cuda", non_blocking=True))
        y = masks.to("cuda", non_blocking=True).long()
        x, y = augment(x, y, gen, True, (0.5, 1.5), 0.3)
        build_loss("ce+dice", 5)(logits, y).backward()
    finally:
        torch.cuda.set_sync_debug_mode(0)
