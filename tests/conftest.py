"""Shared fixtures: tiny synthetic data made on the fly, and the real sample when present."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
CCP = SHARED / "ccp-fashionpedia"
FP_SAMPLE = SHARED / "fashionpedia-sample"


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} not present (only on developer and CI machines)")
    return path


@pytest.fixture(scope="session")
def synth_data(tmp_path_factory) -> Path:
    from fashionseg.data.synth import synth

    return synth(tmp_path_factory.mktemp("synth"), images=12, size="48x64", seed=3, workers=1)


@pytest.fixture(scope="session")
def synth_cache(synth_data, tmp_path_factory):
    from fashionseg.data.prepare import prepare

    return prepare(synth_data, tmp_path_factory.mktemp("cache"), size=32, workers=1)


@pytest.fixture(scope="session")
def tiny_model(synth_data, tmp_path_factory) -> Path:
    """A small U-Net trained for a few epochs on the synthetic photos (64x64 input)."""
    from fashionseg.config import TrainConfig
    from fashionseg.data.prepare import prepare
    from fashionseg.training.engine import train

    cache = prepare(synth_data, tmp_path_factory.mktemp("cache64"), size=64, workers=1)
    out = tmp_path_factory.mktemp("tiny") / "run"
    train(
        TrainConfig(
            data=str(cache.root),
            out=str(out),
            model="unet",
            width=4,
            size="64",
            epochs=4,
            batch_size=4,
            optimizer="adam",
            lr=0.01,
            workers=0,
            val_fraction=0.25,
            tensorboard=False,
        )
    )
    return out / "best.pt"
