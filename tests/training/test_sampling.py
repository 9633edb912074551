"""The long tail's levers: repeat-factor sampling and copy-paste, deterministic per seed and
the same on every rank."""

from __future__ import annotations

from collections import Counter

import numpy as np
import torch

from fashionseg.training.augment import copy_paste
from fashionseg.training.loader import epoch_batches
from fashionseg.training.parts import epoch_generator
from fashionseg.training.sampling import (
    class_presence,
    class_repeat_factors,
    repeat_factors,
    repeated_indices,
)


def hand_made() -> np.ndarray:
    """Ten photos: class 1 in all of them, class 2 in photo 3 only, class 3 in photos 0-4."""
    presence = np.zeros((10, 4), dtype=bool)
    presence[:, 0] = presence[:, 1] = True
    presence[3, 2] = True
    presence[:5, 3] = True
    return presence


def test_repeat_factors_follow_the_formula():
    factors = repeat_factors(hand_made(), threshold=0.4)
    # r_2 = sqrt(0.4 / 0.1) = 2; r_3 = max(1, sqrt(0.4 / 0.5)) = 1; r_1 = 1
    assert np.allclose(factors, [1, 1, 1, 2, 1, 1, 1, 1, 1, 1])
    per_class = class_repeat_factors(hand_made(), 0.9)
    assert np.allclose(per_class, [1, 1, 3, np.sqrt(1.8)])


def test_the_rare_photo_repeats_as_the_formula_says_every_epoch():
    indices = np.arange(100, 110)  # cache rows
    factors = repeat_factors(hand_made(), threshold=0.4)
    for epoch in range(5):
        rows = repeated_indices(indices, factors, epoch_generator(0, epoch))
        assert len(rows) == 11
        assert (rows == 103).sum() == 2 and all((rows == r).sum() == 1 for r in indices if r != 103)
    fractional = repeat_factors(hand_made(), threshold=0.2)  # r = sqrt(2) for photo 3
    counts = [
        (repeated_indices(indices, fractional, epoch_generator(1, e)) == 103).sum()
        for e in range(400)
    ]
    assert set(counts) <= {1, 2} and 1.25 < np.mean(counts) < 1.5  # about 1.41, less the trims


def test_epochs_are_deterministic_per_seed_and_epoch_and_shared_by_the_ranks():
    indices = np.arange(40)
    presence = np.zeros((40, 3), dtype=bool)
    presence[:, 1] = True
    presence[::10, 2] = True
    factors = repeat_factors(presence, 0.5)
    a = repeated_indices(indices, factors, epoch_generator(7, 3))
    b = repeated_indices(indices, factors, epoch_generator(7, 3))
    c = repeated_indices(indices, factors, epoch_generator(7, 4))
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    shards = []
    for rank in range(2):  # what each DDP rank does with its own copy of the generator
        gen = epoch_generator(7, 3)
        rows = repeated_indices(indices, factors, gen)
        shards.append([r for batch in epoch_batches(rows, 4, gen, rank, 2) for r in batch])
    both = Counter(shards[0]) + Counter(shards[1])
    assert sum(both.values()) == len(a) // 2 * 2 and not both - Counter(a.tolist())


def test_class_presence_reads_the_cache_masks():
    masks = np.zeros((3, 4, 4), dtype=np.uint8)
    masks[1, 0, 0] = 2
    masks[2, :, :] = 255  # ignore is no class
    assert class_presence(masks, np.array([0, 1, 2]), 3).tolist() == [
        [True, False, False], [True, False, True], [False, False, False],
    ]  # fmt: skip


def _batch():
    images = torch.stack([torch.full((3, 8, 8), float(k)) for k in range(4)])
    masks = torch.zeros(4, 8, 8, dtype=torch.long)
    masks[:, 2:6, 2:4] = torch.tensor([1, 2, 1, 2])[:, None, None]  # own garment, left side
    masks[1, 0:2, 6:8] = 3  # a rare class in photo 1, top right
    return images, masks


def test_copy_paste_keeps_each_pasted_pixels_label_and_the_photos_own_elsewhere():
    images, masks = _batch()
    out_i, out_m = copy_paste(images, masks, torch.Generator().manual_seed(0), p=1.0)
    for i in range(4):
        changed = (out_m[i] != masks[i]) | (out_i[i] != images[i]).any(0)
        assert changed.any()  # every photo received something
        src_values = set(out_i[i][:, changed].unique().tolist())
        assert len(src_values) == 1 and src_values != {float(i)}  # one other photo's pixels
        j = int(src_values.pop())
        pasted = out_m[i][changed]
        assert len(pasted.unique()) == 1 and int(pasted[0]) in masks[j].unique().tolist()
        assert torch.equal(out_m[i][~changed], masks[i][~changed])
    again = copy_paste(images, masks, torch.Generator().manual_seed(0), p=1.0)
    assert torch.equal(again[0], out_i) and torch.equal(again[1], out_m)
    same = copy_paste(images, masks, torch.Generator().manual_seed(0), p=0.0)
    assert same[0] is images and same[1] is masks


def test_copy_paste_favours_the_rare_garments():
    """Photo 1 holds class 2 and the rare class 3: a photo that draws photo 1 as its source
    pastes class 3 about half the time unweighted, nearly always with class 3 preferred."""
    images, masks = _batch()

    def rare_pastes(weights) -> int:
        hits = 0
        for seed in range(60):
            _, out_m = copy_paste(images, masks, torch.Generator().manual_seed(seed), 1.0, weights)
            hits += sum(int((out_m[i] == 3).any()) for i in (0, 2, 3))
        return hits

    plain, favoured = rare_pastes(None), rare_pastes(torch.tensor([1.0, 1.0, 1.0, 1e6]))
    assert favoured > 1.5 * plain > 0


def test_a_run_with_both_levers_trains_and_resumes_to_the_same_weights(synth_cache, tmp_path):
    from fashionseg.config import TrainConfig
    from fashionseg.training.engine import train

    def config(out, epochs):
        return TrainConfig(
            data=str(synth_cache.root), out=str(out), model="unet", width=4, size="32",
            epochs=epochs, batch_size=4, workers=0, tensorboard=False, val_fraction=0.25,
            repeat_threshold=0.5, copy_paste=0.5,
        )  # fmt: skip

    train(config(tmp_path / "a", 2))
    train(config(tmp_path / "b", 1))
    train(config(tmp_path / "b", 2), resume=True)
    a = torch.load(tmp_path / "a" / "last.pt", weights_only=True)["model"]
    b = torch.load(tmp_path / "b" / "last.pt", weights_only=True)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
