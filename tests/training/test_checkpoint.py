"""Checkpoints: plain dicts, written atomically, loaded without running code; the training
schema round-trips into a run."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
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
        categories={"categories": []}, epoch=3, step=30, best=0.25, selection="val_miou",
        history=[{"epoch": 3}], epochs_planned=7,
    )  # fmt: skip
    save_checkpoint(state, tmp_path / "last.pt")
    assert not list(tmp_path.glob(".*"))  # no temporary file left
    loaded = load_checkpoint(tmp_path / "last.pt")
    assert loaded["selection"] == "val_miou"  # a checkpoint names what picked best.pt
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


CHECKPOINTS = Path(__file__).parent / "checkpoints"


@pytest.mark.parametrize("task", ["semantic", "instances"])
def test_checkpoints_written_before_the_one_engine_still_load(task, tmp_path):
    """The schema before issue 36 kept either task's best value under ``best_miou`` and
    named no selection metric. Its metadata, as a tiny run of that code wrote it (the weights,
    megabytes, are made fresh for its config), still restores a run and still predicts."""
    from fashionseg.inference.predictor import Predictor
    from fashionseg.models import build_instance_model

    meta = json.loads((CHECKPOINTS / f"pre36_{task}.json").read_text())
    assert "best_miou" in meta and "selection" not in meta
    c = meta["config"]
    classes = len(meta["categories"]["categories"]) + 1
    if task == "semantic":
        run = build_run(TrainConfig(model=c["model"], width=c["width"], ema=c["ema"],
                                    optimizer=c["optimizer"]), classes, torch.device("cpu"))  # fmt: skip
        model, optimizer, scaler, ema = run.model, run.optimizer, run.scaler, run.ema
    else:
        model = build_instance_model(c["model"], classes, len(meta["attribute_ids"]), (64, 48),
                                     c["width"], False, c["encoder"], c["rois_per_image"])  # fmt: skip
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        scaler, ema = torch.amp.GradScaler("cpu", enabled=False), None
    state = dict(meta, model=model.state_dict(), raw_model=None, optimizer=optimizer.state_dict(),
                 scaler=None, ema=None, rng_cpu=torch.get_rng_state())  # fmt: skip
    save_checkpoint(state, tmp_path / "old.pt")
    progress = restore_training(load_checkpoint(tmp_path / "old.pt"), model, optimizer, scaler, ema)
    assert progress["best"] == meta["best_miou"] and progress["epoch"] == meta["epoch"]
    predictor = Predictor(tmp_path / "old.pt", device="cpu")
    assert predictor.task == task
    canvas = np.zeros((*predictor.size, 3), np.uint8)
    labels = predictor.labels(predictor.logits(canvas[None])[0], 20, 30)
    assert labels.shape == (20, 30)
