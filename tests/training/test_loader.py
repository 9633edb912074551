import time

import numpy as np
import pytest
import torch

from fashionseg.config import TrainConfig
from fashionseg.models.normalize import to_float
from fashionseg.training.augment import augment
from fashionseg.training.budget import fit_budget
from fashionseg.training.loader import BatchPlan, make_loader
from fashionseg.training.losses import build_loss
from fashionseg.training.parts import Dist


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
    assert fit_budget(config, 400, 2, start, 2.0, Dist(), torch.device("cpu")) == 15
    # Never past the configured epochs, never fewer than those already run.
    assert fit_budget(config, 10, 2, start, 2.0, Dist(), torch.device("cpu")) == 10
    start = time.perf_counter() - 90
    assert fit_budget(config, 400, 2, start, 2.0, Dist(), torch.device("cpu")) == 2


@pytest.mark.needs_cuda
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
        build_loss("ce+dice")(logits, y).backward()
    finally:
        torch.cuda.set_sync_debug_mode(0)


def _batch(n: int = 6, size: int = 32):
    g = torch.Generator().manual_seed(1)
    images = to_float(torch.randint(0, 256, (n, size, size, 3), dtype=torch.uint8, generator=g))
    masks = torch.randint(0, 5, (n, size, size), generator=g)
    return images, masks


def test_augment_flips_image_and_mask_together():
    images, masks = _batch()
    x, y = augment(images, masks, torch.Generator().manual_seed(0), True)
    flipped = [bool(torch.equal(y[i], masks[i].flip(-1))) for i in range(len(masks))]
    assert any(flipped) and not all(flipped)  # about half of a batch of 6
    for i, f in enumerate(flipped):
        assert torch.equal(x[i], images[i].flip(-1) if f else images[i])
        assert f or torch.equal(y[i], masks[i])


def test_augment_zoom_in_crops_and_zoom_out_pads_with_ignore():
    images, masks = _batch()
    _, zoomed_in = augment(images, masks, torch.Generator().manual_seed(0), False, (2.0, 2.0))
    _, zoomed_out = augment(images, masks, torch.Generator().manual_seed(0), False, (0.5, 0.5))
    assert not (zoomed_in == 255).any()  # a crop stays inside the photo
    assert not torch.equal(zoomed_in, masks)
    # Labels that name the column band (and the row band): a zoom with a shift, and no shear or
    # rotation, keeps every row (column) alike, and the bands in order.
    bands = (torch.arange(32) // 8).expand(6, 32, 32)
    for labels, dim in ((bands, 1), (bands.transpose(1, 2), 2)):
        _, y = augment(images, labels, torch.Generator().manual_seed(0), False, (2.0, 2.0))
        assert (y == y.select(dim, 0).unsqueeze(dim)).all()
        assert (y.diff(dim=3 - dim) >= 0).all()
    # Half the size each way, placed wholly inside: 3/4 of every sample is border.
    border = (zoomed_out == 255).float().mean(dim=(1, 2))
    assert ((border > 0.7) & (border < 0.8)).all(), border


def test_augment_jitter_changes_colours_not_labels():
    images, masks = _batch()
    x, y = augment(images, masks, torch.Generator().manual_seed(0), False, (1.0, 1.0), 0.3)
    assert torch.equal(y, masks)
    assert not torch.allclose(x, images)
    assert x.shape == images.shape
