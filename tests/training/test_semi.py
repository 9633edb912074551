"""Semi-supervised training: the unlabelled cache, the tag rule, the teacher, the command."""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from fashionseg.config import TrainConfig
from fashionseg.data.categories import IGNORE
from fashionseg.errors import DataFormatError
from fashionseg.models import build_model
from fashionseg.prepare.unlabelled import build_unlabelled, read_tags
from fashionseg.training.parts import EMA
from fashionseg.training.semi import MeanTeacher, class_quantiles, pseudo_loss

CLASSES = 6


def _unlabelled(synth_data: Path, folder: Path, tags: str | None) -> Path:
    (folder / "images").mkdir(parents=True)
    for photo in sorted((synth_data / "train").glob("*.jpg"))[:4]:
        shutil.copy(photo, folder / "images" / photo.name)
    if tags is not None:
        rows = [f"{p.stem},{tags}" for p in sorted((folder / "images").glob("*.jpg"))]
        (folder / "tags.csv").write_text("ImageId,ClassIds\n" + "\n".join(rows) + "\n")
    return folder


def _teacher(root: Path, threshold: float = 0.0, bias: float = 10.0, balance: float = 0.0):
    model = build_model("unet", CLASSES, width=4)
    with torch.no_grad():  # a teacher that favours class 5 (ClassId 4) everywhere
        model.model.head.bias.copy_(torch.tensor([0.0, 0, 0, 0, 0, bias]))
    ema = EMA(model, 0.9)
    config = TrainConfig(
        batch_size=2, workers=0, pseudo_threshold=threshold, pseudo_balance=balance
    )
    teacher = MeanTeacher(root, model, ema.state, config, torch.device("cpu"))
    teacher.start_epoch(0, 2)
    return teacher, ema, model


def test_tags_forbid_untagged_garments(synth_data, tmp_path):
    tagged = _unlabelled(synth_data, tmp_path / "u", tags="2")  # only ClassId 2 (label 3)
    root = build_unlabelled(tagged, tmp_path / "cache", (32, 32), False, CLASSES)
    assert np.load(root / "allowed.npy").sum(1).tolist() == [2, 2, 2, 2]  # background + 3
    teacher, _, _ = _teacher(root)
    images, labels = teacher.pseudo_batch(torch.device("cpu"), torch.Generator(), None)
    assert images.shape == (2, 3, 32, 32)
    assert set(labels.unique().tolist()) <= {0, 3, IGNORE} and (labels == 3).any()

    free = build_unlabelled(tagged, tmp_path / "cache-free", (32, 32), False, CLASSES, False)
    teacher, _, _ = _teacher(free)
    _, labels = teacher.pseudo_batch(torch.device("cpu"), torch.Generator(), None)
    assert (labels == 5).any()


def test_threshold_ignores_unsure_pixels(synth_data, tmp_path):
    root = build_unlabelled(
        _unlabelled(synth_data, tmp_path / "u", None), tmp_path / "c", (32, 32), False, CLASSES
    )
    teacher, _, _ = _teacher(root, threshold=1.01)
    _, labels = teacher.pseudo_batch(torch.device("cpu"), torch.Generator(), None)
    assert (labels == IGNORE).all()
    assert pseudo_loss(torch.randn(2, CLASSES, 32, 32), labels) == 0


def test_teacher_is_the_ema(synth_data, tmp_path):
    root = build_unlabelled(
        _unlabelled(synth_data, tmp_path / "u", None), tmp_path / "c", (32, 32), False, CLASSES
    )
    teacher, ema, model = _teacher(root)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    ema.update(model)
    for name, value in teacher.teacher.state_dict().items():
        assert torch.equal(value, ema.state[name]), name


def test_bad_tags_row_is_named(tmp_path):
    path = tmp_path / "tags.csv"
    path.write_text("ImageId,ClassIds\na,1 2\nb,1 x\n")
    with pytest.raises(DataFormatError, match=r"tags.csv, row 3: ClassId 'x'"):
        read_tags(path, CLASSES)


@pytest.mark.slow
def test_train_with_unlabelled_from_the_command_line(synth_data, tmp_path):
    unl = _unlabelled(synth_data, tmp_path / "u", tags="1 3")
    cmd = [
        str(Path(sys.executable).with_name("fashionseg")),
        "train", "--data", str(synth_data), "--model", "unet", "--width", "4", "--size", "32",
        "--epochs", "2", "--batch-size", "2", "--workers", "0", "--no-tensorboard",
        "--unlabelled", str(unl), "--out", str(tmp_path / "run"),
    ]  # fmt: skip
    env = {"FASHIONSEG_CACHE": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr[-500:]
    assert "unlabelled photos" in done.stderr and (tmp_path / "run" / "best.pt").exists()
    (unl / "tags.csv").write_text("ImageId,ClassIds\nx,oops\n")
    cmd[cmd.index("--out") + 1] = str(tmp_path / "run2")
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].endswith("row 2: ClassId 'oops' is not an integer")


def test_class_quantiles_equal_torch_quantile_per_class():
    gen = torch.Generator().manual_seed(0)
    conf = torch.rand(3, 9, 11, generator=gen)
    labels = torch.randint(0, 5, (3, 9, 11), generator=gen)
    labels[labels == 2] = 1  # class 2 absent
    for q in (0.0, 0.3, 0.5, 1.0):
        values, present = class_quantiles(conf, labels, 6, q)
        assert present.tolist() == [True, True, False, True, True, False]
        for k in (0, 1, 3, 4):
            want = torch.quantile(conf[labels == k], q, interpolation="lower")
            assert values[k].item() == pytest.approx(want.item(), abs=1e-6), (q, k)


def test_class_balance_gives_an_unsure_class_pseudo_labels(synth_data, tmp_path):
    root = build_unlabelled(
        _unlabelled(synth_data, tmp_path / "u", None), tmp_path / "c", (32, 32), False, CLASSES
    )
    teacher, _, _ = _teacher(root, threshold=0.9, bias=1.5)  # class 5 at about 0.6
    _, labels = teacher.pseudo_batch(torch.device("cpu"), torch.Generator(), None)
    assert (labels == IGNORE).all()  # one threshold: nothing is sure enough

    teacher, _, _ = _teacher(root, threshold=0.9, bias=1.5, balance=0.5)
    _, labels = teacher.pseudo_batch(torch.device("cpu"), torch.Generator(), None)
    kept = (labels == 5).sum() / labels.numel()
    assert 0.2 < kept < 0.8, kept  # about half of class 5's pixels (the crop moves a few)
    # The running estimate: a sure class keeps the global threshold, an unsure one its quantile,
    # blended with the next batch's.
    conf = torch.tensor([[[0.99, 0.98, 0.5, 0.1, 0.4, 0.2, 0.3]]])
    labels = torch.tensor([[[1, 1, 2, 2, 2, 2, 2]]])
    teacher.config = replace(teacher.config, pseudo_balance=0.75)  # keep 4 of class 2's 5
    teacher.class_conf = None
    first = teacher._class_thresholds(conf, labels, CLASSES)
    assert first[1].item() == pytest.approx(0.9) and first[2].item() == pytest.approx(0.2)
    assert first[0].item() == pytest.approx(0.9)  # unseen: the global threshold
    second = teacher._class_thresholds(torch.full((1, 1, 7), 0.7), labels, CLASSES)
    assert second[2].item() == pytest.approx(0.9 * 0.2 + 0.1 * 0.7)
