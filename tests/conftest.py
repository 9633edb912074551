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
