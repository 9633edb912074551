"""Shared fixtures: tiny synthetic data made on the fly, and the real sample when present."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# Hypothesis profiles for the door fuzzing (tests/fuzz/): "ci", the default, in the fast tier
# with a bounded number of examples per door (enough to meet each kind of bad value several
# times); "long" for a longer hunt after a change to a door (about 80 s here):
#     HYPOTHESIS_PROFILE=long .venv/bin/python -m pytest tests/fuzz
CI_EXAMPLES = 60
LONG_EXAMPLES = 3000

try:  # the GPU machine runs its CUDA tests without the dev extras
    from hypothesis import HealthCheck, settings
except ImportError:  # pragma: no cover
    settings = None
if settings is not None:
    quiet = [HealthCheck.too_slow, HealthCheck.data_too_large]
    # derandomize: the same examples on every run, so a red CI is reproducible; no deadline:
    # the first example of a door compiles a Numba kernel.
    settings.register_profile(
        "ci", max_examples=CI_EXAMPLES, deadline=None, derandomize=True,
        suppress_health_check=quiet,
    )  # fmt: skip
    settings.register_profile(
        "long", max_examples=LONG_EXAMPLES, deadline=None, suppress_health_check=quiet
    )
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
CCP = SHARED / "ccp-fashionpedia"
FP_SAMPLE = SHARED / "fashionpedia-sample"


def pytest_collection_modifyitems(config, items):
    """Skip the ``needs_cuda`` tests where no CUDA device is visible (torch imported only
    when such a test was collected)."""
    marked = [item for item in items if "needs_cuda" in item.keywords]
    if not marked:
        return
    import torch

    if not torch.cuda.is_available():
        skip = pytest.mark.skip(reason="needs a CUDA device")
        for item in marked:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _restore_global_rng():
    """Put back the global random states (Python, NumPy, torch) after each test, so a test
    that seeds or draws from them cannot change what the next one sees."""
    import random

    import numpy as np

    python_state, numpy_state = random.getstate(), np.random.get_state()
    torch = sys.modules.get("torch")  # only if something imported it: the light tests stay light
    torch_state = torch.random.get_rng_state() if torch else None
    yield
    random.setstate(python_state)
    np.random.set_state(numpy_state)
    if torch_state is not None:
        torch.random.set_rng_state(torch_state)


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} not present (only on developer and CI machines)")
    return path


@pytest.fixture(scope="session")
def synth_data(tmp_path_factory) -> Path:
    from fashionseg.synth.writer import synth

    return synth(tmp_path_factory.mktemp("synth"), images=12, size="48x64", seed=3, workers=1)


@pytest.fixture(scope="session")
def synth_cache(synth_data, tmp_path_factory):
    from fashionseg.prepare.cache import prepare

    return prepare(synth_data, tmp_path_factory.mktemp("cache"), size=32, workers=1)


@pytest.fixture(scope="session")
def tiny_model(synth_data, tmp_path_factory) -> Path:
    """A small U-Net trained for 16 short epochs on the synthetic photos (64x64 input)."""
    from fashionseg.config import TrainConfig
    from fashionseg.prepare.cache import prepare
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
            # Enough steps to tell garments from the background: an untrained model's logits
            # are near ties, which int8 rounding flips (the int8 test failed on 4 epochs).
            epochs=16,
            batch_size=4,
            optimizer="adam",
            lr=0.01,
            workers=0,
            val_fraction=0.25,
            tensorboard=False,
        )
    )
    return out / "best.pt"
