"""Facts that used to have two owners which disagreed: each now has one, and the paths that
once went their own way are checked to agree."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import EpsImagePlugin, Image


def test_segnet_pretraining_is_reachable_from_a_config_and_loads_vgg16_bn(monkeypatch):
    """The config accepts ``--pretrained`` for SegNet, and the build copies VGG16-BN's
    convolutions (the download is replaced by a seeded VGG, as no hub is reachable)."""
    import torchvision.models as tvm

    from fashionseg.config import load_config
    from fashionseg.errors import ConfigError
    from fashionseg.models import build_model

    cfg = load_config(None, model="segnet", pretrained=True).validate()
    assert cfg.pretrained and cfg.model == "segnet"
    with pytest.raises(ConfigError, match="width 64"):
        load_config(None, model="segnet", pretrained=True, width=32).validate()

    torch.manual_seed(7)
    reference = tvm.vgg16_bn(weights=None)
    asked = []

    def fake_vgg16_bn(weights=None):
        asked.append(weights)
        return reference

    monkeypatch.setattr(tvm, "vgg16_bn", fake_vgg16_bn)
    model = build_model(cfg.model, num_classes=5, width=cfg.width, pretrained=True)
    assert asked == [tvm.VGG16_BN_Weights.IMAGENET1K_V1]
    source = [m for m in reference.features if isinstance(m, torch.nn.Conv2d)]
    target = [m for m in model.model.enc.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(target) == len(source) == 13
    for s, t in zip(source, target):
        assert torch.equal(s.weight, t.weight)


def test_calibration_photos_go_through_the_photo_door(tmp_path, tiny_model, monkeypatch):
    """An EPS file named like a photo never reaches Ghostscript: the int8 calibration reads
    photos through ``Predictor.canvas``, the door that limits Pillow to photo formats."""
    from fashionseg.data.images import DataError
    from fashionseg.inference.predictor import Predictor

    def no_ghostscript(*args, **kwargs):
        raise AssertionError("Ghostscript was asked to render a calibration photo")

    monkeypatch.setattr(EpsImagePlugin, "Ghostscript", no_ghostscript)
    eps = tmp_path / "calib.jpg"
    eps.write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 8 8\nshowpage\n")
    with pytest.raises(DataError, match="calib.jpg"):
        Predictor(tiny_model).canvas(eps)


def test_every_photo_suffix_predict_reads_is_read_as_unlabelled_too(tmp_path):
    from fashionseg.files import PHOTO_SUFFIXES
    from fashionseg.prepare.unlabelled import list_photos

    pixels = np.full((8, 8, 3), 120, np.uint8)
    for i, suffix in enumerate(PHOTO_SUFFIXES):
        Image.fromarray(pixels).save(tmp_path / f"p{i}{suffix.upper() if i % 2 else suffix}")
    (tmp_path / "notes.txt").write_text("not a photo")
    found = list_photos(tmp_path)
    assert len(found) == len(PHOTO_SUFFIXES)
    assert any(p.suffix.lower() == ".bmp" for p in found)


def test_commands_count_the_cores_the_process_may_use(monkeypatch):
    """Two cores allowed on a machine with many: every command that sizes a pool asks
    :func:`available_cores`, never ``os.cpu_count``."""
    import os

    from fashionseg.machine import available_cores

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {3, 5}, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    assert available_cores() == 2

    from pathlib import Path

    source = Path(__file__).parents[2] / "src" / "fashionseg"
    users = [
        p.relative_to(source)
        for p in source.rglob("*.py")
        if "cpu_count(" in p.read_text() and p.name != "machine.py"
    ]
    assert users == [], f"os.cpu_count outside machine.py: {users}"


def test_train_and_study_draw_the_same_split(synth_data, synth_cache, tmp_path):
    """``train`` on a cache and ``study`` on a folder both draw through ``split_ids``: with the
    same seed and shares they hold out the same photos."""
    from fashionseg.data.splits import split_ids
    from fashionseg.experiments.study import StudyConfig, write_split
    from fashionseg.training.loader import split_indices

    ids = list(synth_cache.ids)
    train_rows, val_rows = split_indices(synth_cache, seed=3, val_fraction=0.25)
    expected = split_ids(ids, 3, 0.25)
    assert [ids[r] for r in val_rows] == expected["val"]
    assert [ids[r] for r in train_rows] == expected["train"]

    cfg = StudyConfig(split_seed=3, val_fraction=0.25, test_fraction=0.2)
    paths = write_split(str(synth_data), tmp_path, cfg)
    drawn = split_ids(sorted(ids), 3, 0.25, 0.2)
    for part in ("train", "val", "test"):
        assert paths[part].read_text().split() == sorted(drawn[part])
    assert set().union(*(set(drawn[p]) for p in drawn)) == set(ids)


_seen: dict[str, object] = {}


def test_global_rng_state_a_record():
    _seen["numpy"] = np.random.get_state()[1].copy()
    _seen["torch"] = torch.random.get_rng_state().clone()


def test_global_rng_state_b_reseed():
    np.random.seed(12345)
    torch.manual_seed(12345)


def test_global_rng_state_c_is_restored_after_a_test_reseeds():
    """The autouse fixture in conftest put back the states test b changed."""
    assert np.array_equal(np.random.get_state()[1], _seen["numpy"])
    assert torch.equal(torch.random.get_rng_state(), _seen["torch"])
