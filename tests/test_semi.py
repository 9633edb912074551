"""Semi-supervised training: the unlabelled cache, the tag rule, the teacher, the command."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from fashionseg.config import TrainConfig
from fashionseg.data.categories import IGNORE
from fashionseg.data.formats import DataFormatError
from fashionseg.data.unlabelled import build_unlabelled, read_tags
from fashionseg.models import build_model
from fashionseg.training.semi import MeanTeacher, pseudo_loss
from fashionseg.training.steps import EMA

CLASSES = 6


def _unlabelled(synth_data: Path, folder: Path, tags: str | None) -> Path:
    (folder / "images").mkdir(parents=True)
    for photo in sorted((synth_data / "train").glob("*.jpg"))[:4]:
        shutil.copy(photo, folder / "images" / photo.name)
    if tags is not None:
        rows = [f"{p.stem},{tags}" for p in sorted((folder / "images").glob("*.jpg"))]
        (folder / "tags.csv").write_text("ImageId,ClassIds\n" + "\n".join(rows) + "\n")
    return folder


def _teacher(root: Path, threshold: float = 0.0):
    model = build_model("unet", CLASSES, width=4)
    with torch.no_grad():  # a teacher sure of class 5 (ClassId 4) everywhere
        model.model.head.bias.copy_(torch.tensor([0.0, 0, 0, 0, 0, 10]))
    ema = EMA(model, 0.9)
    config = TrainConfig(batch_size=2, workers=0, pseudo_threshold=threshold)
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
