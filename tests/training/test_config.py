"""The one config object: registries and choices agree, bad values fail before any work."""

from __future__ import annotations

import subprocess
import sys

import pytest

from fashionseg.config import CHOICES, ConfigError, TrainConfig, load_config


def test_choices_are_the_registries():
    from fashionseg.models import INSTANCE_MODELS, MODELS
    from fashionseg.training.losses import LOSSES
    from fashionseg.training.parts import OPTIMIZERS, SCHEDULES

    assert set(CHOICES["model"]) == set(MODELS) | set(INSTANCE_MODELS)
    assert set(CHOICES["loss"]) == set(LOSSES)
    assert set(CHOICES["optimizer"]) == set(OPTIMIZERS)
    assert set(CHOICES["schedule"]) == set(SCHEDULES)


@pytest.mark.parametrize(
    "key, value, words",
    [
        ("loss", "focall", "ce, focal, dice, ce+dice"),
        ("optimizer", "adamm", "sgd, adam, adamw"),
        ("schedule", "cosin", "constant, poly, cosine"),
        ("amp", "bf61", "auto, off, bf16, fp16"),
        ("model", "unett", "deeplabv3plus"),
        ("size", "12x", "N or WxH"),
        ("ema", 1.5, "[0, 1)"),
        ("epochs", 0, "above 0"),
        ("lr", "fast", "not a number"),
    ],
)
def test_bad_values_are_refused_with_the_valid_ones(tmp_path, key, value, words):
    path = tmp_path / "c.yaml"
    path.write_text(f"{key}: {value}\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert key in str(err.value) and words in str(err.value)


@pytest.mark.slow
def test_validation_needs_no_torch_and_the_command_names_the_choices(tmp_path):
    code = (
        "import sys; from fashionseg.config import load_config; "
        "load_config(None, loss='ce').validate(); print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "False"
    (tmp_path / "bad.yaml").write_text("loss: focall\n")
    done = subprocess.run(
        [sys.executable, "-m", "fashionseg", "train", "--config", str(tmp_path / "bad.yaml"),
         "--data", str(tmp_path)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 2
    assert "loss 'focall' is not one of ce, focal, dice, ce+dice" in done.stderr
    done = subprocess.run(
        [sys.executable, "-m", "fashionseg", "train", "--help"], capture_output=True, text=True
    )
    assert "{ce,focal,dice,ce+dice}" in done.stdout


def test_defaults_are_valid():
    assert TrainConfig().validate() == TrainConfig()
