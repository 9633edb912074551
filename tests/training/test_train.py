import csv
import json
import os
import signal
import subprocess
import sys
from dataclasses import replace

import pytest
import torch

from fashionseg.checkpoint import load_checkpoint
from fashionseg.cli import main
from fashionseg.config import TrainConfig
from fashionseg.inference.labels import upsample_argmax
from fashionseg.training.engine import TrainingError, train


def _config(cache, out, **kw):
    base = dict(
        data=str(cache.root),
        out=str(out),
        width=4,
        size="32",
        epochs=1,
        batch_size=4,
        workers=0,
        val_fraction=0.25,
        tensorboard=False,
    )
    base.update(kw)
    return TrainConfig(**base)


@pytest.mark.slow
@pytest.mark.parametrize("model", ["unet", "segnet", "fcn_resnet50"])
@pytest.mark.parametrize("loss", ["ce", "focal"])
@pytest.mark.parametrize("optimizer, lr", [("sgd", 0.01), ("adam", 0.001)])
def test_study_grid_trains_and_evaluates(
    synth_cache, synth_data, tmp_path, model, loss, optimizer, lr
):
    cfg = _config(
        synth_cache,
        tmp_path / "run",
        model=model,
        loss=loss,
        optimizer=optimizer,
        lr=lr,
        batch_size=3,
    )
    metrics = train(cfg)
    assert 0 <= metrics["miou"] <= 1
    rows = list(csv.DictReader(open(tmp_path / "run" / "history.csv")))
    assert list(rows[0]) == [
        "epoch",
        "train_loss",
        "val_loss",
        "val_pixel_accuracy",
        "val_binary_iou",
        "val_miou",
        "lr",
        "seconds",
        "images_per_second",
    ]
    state = torch.load(tmp_path / "run" / "best.pt", weights_only=True)
    assert state["config"]["model"] == model
    assert (
        main(
            [
                "evaluate",
                str(tmp_path / "run" / "best.pt"),
                "--data",
                str(synth_data),
                "--out",
                str(tmp_path / "e.json"),
            ]
        )
        == 0
    )
    ev = json.loads((tmp_path / "e.json").read_text())
    assert ev["images"] == 12 and ev["pixels"] == 12 * 48 * 64  # scored at full resolution
    assert set(json.loads((tmp_path / "run" / "metrics.json").read_text())) >= set(ev) - {
        "skipped",
        "confusion",
    }


def test_training_learns(synth_cache, tmp_path):
    cfg = _config(
        synth_cache, tmp_path / "run", epochs=15, width=8, lr=0.01, val_fraction=0.0, batch_size=4
    )
    train(cfg)
    rows = list(csv.DictReader(open(tmp_path / "run" / "history.csv")))
    assert float(rows[-1]["train_loss"]) < 0.6 * float(rows[0]["train_loss"])


def test_resume_is_exact(synth_cache, tmp_path):
    kw = dict(
        epochs=3, scale_min=0.8, scale_max=1.3, color_jitter=0.2, schedule="cosine", warmup_epochs=1
    )
    train(_config(synth_cache, tmp_path / "straight", **kw))
    cfg = _config(synth_cache, tmp_path / "split", **kw)
    train(replace(cfg, epochs=1))
    train(cfg, resume=True)
    a = load_checkpoint(tmp_path / "straight" / "last.pt")
    b = load_checkpoint(tmp_path / "split" / "last.pt")
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k

    def strip(history):
        return [
            {k: v for k, v in r.items() if k not in ("seconds", "images_per_second")}
            for r in history
        ]

    assert strip(a["history"]) == strip(b["history"])


def test_loader_processes_serve_every_epoch_the_same_batches(synth_cache, tmp_path):
    # One loader with persistent workers serves all epochs; its batches must be the epoch's own,
    # so two worker processes train exactly what the in-process loader trains.
    kw = dict(epochs=3, scale_min=0.8, scale_max=1.3, schedule="cosine")
    train(_config(synth_cache, tmp_path / "w0", **kw))
    train(_config(synth_cache, tmp_path / "w2", workers=2, **kw))
    a = load_checkpoint(tmp_path / "w0" / "last.pt")["model"]
    b = load_checkpoint(tmp_path / "w2" / "last.pt")["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


KILL_IN_EPOCH_3 = """
import os, signal, sys
import fashionseg.training.engine as engine
real, calls = engine.train_one_epoch, []
def dying(*args, **kwargs):
    calls.append(1)
    if len(calls) == 3:
        os.kill(os.getpid(), signal.SIGKILL)
    return real(*args, **kwargs)
engine.train_one_epoch = dying
from fashionseg.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.slow
def test_resume_after_sigkill(synth_data, tmp_path):
    env = dict(os.environ, FASHIONSEG_CACHE=str(tmp_path / "cache"))
    run = tmp_path / "run"
    args = [
        "--data",
        str(synth_data),
        "--width",
        "8",
        "--size",
        "48",
        "--epochs",
        "4",
        "--batch-size",
        "2",
        "--workers",
        "0",
        "--seed",
        "1",
        "--no-tensorboard",
    ]
    cmd = [sys.executable, "-m", "fashionseg", "train", *args, "--out", str(run)]
    # The kill lands at a known point: the process SIGKILLs itself as epoch 3 starts, after
    # epoch 2's checkpoint (no timing, so it cannot race a fast machine).
    killed = subprocess.run(
        [sys.executable, "-c", KILL_IN_EPOCH_3, "train", *args, "--out", str(run)],
        env=env,
        capture_output=True,
    )
    assert killed.returncode == -signal.SIGKILL
    done = load_checkpoint(run / "last.pt")["epoch"]
    assert done == 2
    assert (
        subprocess.run(
            [sys.executable, "-m", "fashionseg", "train", "--resume", str(run)],
            env=env,
            capture_output=True,
        ).returncode
        == 0
    )
    ref = tmp_path / "ref"
    assert subprocess.run([*cmd[:-1], str(ref)], env=env, capture_output=True).returncode == 0
    a, b = load_checkpoint(run / "last.pt"), load_checkpoint(ref / "last.pt")
    assert a["epoch"] == 4 and all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    assert len(list(csv.DictReader(open(run / "history.csv")))) == 4


def test_nan_stops_and_keeps_last_good(synth_cache, tmp_path):
    cfg = _config(synth_cache, tmp_path / "run", optimizer="sgd", lr=0.01)
    train(cfg)
    before = load_checkpoint(tmp_path / "run" / "last.pt")
    with pytest.raises(TrainingError, match="loss became"):
        train(replace(cfg, lr=1e30, epochs=3), resume=True)
    after = load_checkpoint(tmp_path / "run" / "last.pt")
    assert after["epoch"] == 1 and all(
        torch.equal(before["model"][k], after["model"][k]) for k in before["model"]
    )


def test_upsample_bands_equal_interpolate():
    logits = torch.randn(5, 13, 9)
    direct = upsample_argmax(logits, 101, 67)
    banded = upsample_argmax(logits, 101, 67, max_elements=5 * 67 * 7)
    assert torch.equal(direct, banded)


@pytest.mark.slow
def test_torchrun_two_processes_gloo(synth_data, tmp_path):
    env = dict(os.environ, FASHIONSEG_CACHE=str(tmp_path / "cache"), OMP_NUM_THREADS="1")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "fashionseg",
            "prepare",
            str(synth_data),
            "--out",
            str(tmp_path / "c"),
            "--size",
            "32",
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_port",
        "29533",
        "-m",
        "fashionseg",
        "train",
        "--data",
        str(tmp_path / "c"),
        "--width",
        "4",
        "--epochs",
        "2",
        "--batch-size",
        "2",
        "--workers",
        "0",
        "--out",
        str(tmp_path / "run"),
        "--val-fraction",
        "0.25",
    ]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    rows = list(csv.DictReader(open(tmp_path / "run" / "history.csv")))
    assert len(rows) == 2  # rank 0 alone wrote
    assert r.stderr.count("epoch 2/2:") == 1
    m = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert m["images"] == 3 and m["pixels"] == 3 * 32 * 32  # both ranks' validation shards summed


def test_eval_every_and_time_budget(synth_cache, tmp_path):
    cfg = _config(synth_cache, tmp_path / "a", epochs=3, eval_every=2)
    train(cfg)
    rows = list(csv.DictReader(open(tmp_path / "a" / "history.csv")))
    assert [int(r["epoch"]) for r in rows] == [2, 3]  # every second epoch, and the last
    # A budget far below one epoch: the schedule is cut to the two epochs already run.
    cfg = _config(synth_cache, tmp_path / "b", epochs=6, max_minutes=1e-4, schedule="cosine")
    metrics = train(cfg)
    assert json.loads((tmp_path / "b" / "metrics.json").read_text())["epoch"] == 2
    assert 0 <= metrics["miou"] <= 1
    state = load_checkpoint(tmp_path / "b" / "last.pt")
    assert state["epoch"] == 2 and state["epochs_planned"] == 2


def test_the_prepared_cache_is_what_the_checkpoint_says(synth_data, tmp_path):
    """After `prepare --size 48x80 --keep-aspect`, training on the cache without --size must
    tell predict and export 48x80 letterboxed, not the default 256 squashed."""
    from fashionseg.inference.predictor import Predictor
    from fashionseg.prepare.cache import prepare

    cache = prepare(synth_data, tmp_path / "c", size="48x80", workers=1, keep_aspect=True)
    cfg = _config(cache, tmp_path / "run")
    train(replace(cfg, size=TrainConfig().size, keep_aspect=TrainConfig().keep_aspect))
    predictor = Predictor(tmp_path / "run" / "best.pt", device="cpu")
    assert predictor.size == (80, 48) and predictor.keep_aspect
    assert "size: 48x80" in (tmp_path / "run" / "config.yaml").read_text()
    cfg = _config(cache, tmp_path / "run2")
    with pytest.raises(TrainingError, match="prepared with size 48x80"):
        train(replace(cfg, size="64"))


def test_init_starts_from_a_checkpoints_weights(synth_cache, tmp_path):
    """--init: a new run whose weights (and EMA) start from a checkpoint; one that does not fit
    is one line from the console script, and a resumed run keeps its own weights."""
    train(_config(synth_cache, tmp_path / "a", epochs=2, lr=0.01))
    start = load_checkpoint(tmp_path / "a" / "last.pt")["model"]
    # lr 1e-12: the weights must stay those of the checkpoint, not a fresh network's.
    train(_config(synth_cache, tmp_path / "b", init=str(tmp_path / "a" / "last.pt"), lr=1e-12))
    after = load_checkpoint(tmp_path / "b" / "last.pt")["model"]
    weights = [k for k in start if "running_" not in k and "num_batches" not in k]  # not BN stats
    for key in weights:
        assert torch.allclose(after[key], start[key], atol=1e-6), key
    scratch = _config(synth_cache, tmp_path / "c", lr=1e-12)
    train(scratch)
    fresh = load_checkpoint(tmp_path / "c" / "last.pt")["model"]
    assert any(not torch.allclose(fresh[k], start[k], atol=1e-3) for k in weights)

    flags = ["--data", str(synth_cache.root), "--size", "32", "--epochs", "1", "--workers", "0"]
    for init, why in [(tmp_path / "a" / "last.pt", "do not fit"), (tmp_path / "x.pt", "no such")]:
        bad = subprocess.run(
            [sys.executable, "-m", "fashionseg", "train", *flags, "--width", "8",
             "--init", str(init), "--out", str(tmp_path / "d"), "--no-tensorboard"],
            capture_output=True, text=True,
        )  # fmt: skip
        assert bad.returncode == 2, bad.stderr
        assert len(bad.stderr.strip().splitlines()) == 1 and why in bad.stderr, bad.stderr
        assert str(init) in bad.stderr
