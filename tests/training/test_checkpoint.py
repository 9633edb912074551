"""Checkpoints: plain dicts, written atomically, loaded without running code; the training
schema round-trips into a run."""

from __future__ import annotations

import pickle

import pytest
import torch

from fashionseg.checkpoint import (
    CheckpointError,
    load_checkpoint,
    restore_training,
    save_checkpoint,
    training_checkpoint,
)
from fashionseg.cli import main
from fashionseg.config import TrainConfig
from fashionseg.training.build import build_run


class Evil:
    def __reduce__(self):
        return (print, ("pwned",))


def test_refuses_pickled_code(tmp_path, capsys):
    torch.save({"x": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match="arbitrary code"):
        load_checkpoint(tmp_path / "evil.pt")
    (tmp_path / "junk.pt").write_bytes(pickle.dumps([1, 2]))
    assert main(["evaluate", str(tmp_path / "junk.pt"), "--data", str(tmp_path)]) == 2
    assert "junk.pt" in capsys.readouterr().err


def test_training_schema_round_trips_into_a_fresh_run(tmp_path):
    config = TrainConfig(model="unet", width=4, ema=0.9, optimizer="adam")
    run = build_run(config, 5, torch.device("cpu"))
    with torch.no_grad():
        for p in run.model.parameters():
            p.add_(0.5)
    run.ema.update(run.model)
    state = training_checkpoint(
        run.model, run.optimizer, run.scaler, run.ema, config,
        categories={"categories": []}, epoch=3, step=30, best_miou=0.25,
        history=[{"epoch": 3}], epochs_planned=7,
    )  # fmt: skip
    save_checkpoint(state, tmp_path / "last.pt")
    assert not list(tmp_path.glob(".*"))  # no temporary file left
    loaded = load_checkpoint(tmp_path / "last.pt")
    fresh = build_run(config, 5, torch.device("cpu"))
    progress = restore_training(loaded, fresh.model, fresh.optimizer, fresh.scaler, fresh.ema)
    assert progress == {
        "epoch": 3,
        "step": 30,
        "best": 0.25,
        "planned": 7,
        "history": [{"epoch": 3}],
    }
    for name, value in run.model.state_dict().items():
        assert torch.equal(fresh.model.state_dict()[name], value), name
        assert torch.equal(fresh.ema.state[name], run.ema.state[name]), name
    # "model" holds the EMA (what evaluation uses), "raw_model" what training continues from.
    key = next(k for k, v in run.ema.state.items() if v.dtype.is_floating_point)
    assert torch.equal(loaded["model"][key], run.ema.state[key])
    assert not torch.equal(loaded["model"][key], loaded["raw_model"][key])
