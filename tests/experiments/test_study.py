import csv

import pytest
import torch
import yaml

from fashionseg.cli import main


class Broken(torch.nn.Module):
    """A model that fails in its first forward pass: a run that breaks mid-study."""

    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))

    def forward(self, x):
        raise RuntimeError("broken on purpose")


@pytest.fixture
def broken_model(monkeypatch):
    from fashionseg import config, models, specs

    # A model is its builder and its spec (specs.py), as a new architecture would be.
    monkeypatch.setitem(models.MODELS, "broken", lambda num_classes, **kw: Broken())
    monkeypatch.setitem(specs.BY_NAME, "broken", specs.ModelSpec("broken", "semantic", "-"))
    monkeypatch.setitem(config.CHOICES, "model", config.CHOICES["model"] + ("broken",))


def test_a_bad_study_config_fails_before_any_run(tmp_path, capsys):
    for bad, words in (
        ({"models": ["unet", "no_such_model"]}, "model 'no_such_model' is not one of"),
        ({"train": {"lr": 0.5}}, "train.lr is set by the study itself"),
        ({"train": {"amp": "bf61"}}, "amp 'bf61'"),
    ):
        (tmp_path / "s.yaml").write_text(yaml.safe_dump(bad))
        args = ["study", "--data", str(tmp_path), "--out", str(tmp_path / "st"), "--config"]
        assert main([*args, str(tmp_path / "s.yaml")]) == 2
        assert words in capsys.readouterr().err
        assert not (tmp_path / "st").exists()


@pytest.mark.slow
def test_study_grid_selection_resume_and_report(synth_data, tmp_path, capsys, broken_model):
    cfg = {
        "models": ["unet", "segnet", "broken"],
        "losses": ["ce"],
        "optimizers": [{"name": "sgd", "lr": 0.01}, {"name": "adam", "lr": 0.001}],
        "sizes": ["32", "48"],
        "top_k": 2,
        "epochs": 1,
        "width": 4,
        "batch_size": 3,
        "test_fraction": 0.25,
        "val_fraction": 0.2,
        "train": {"workers": 0, "tensorboard": False},
    }
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(cfg))
    args = [
        "study",
        "--data",
        str(synth_data),
        "--out",
        str(tmp_path / "st"),
        "--config",
        str(tmp_path / "s.yaml"),
    ]
    assert main(args) == 0
    rows = list(csv.DictReader(open(tmp_path / "st" / "results.csv")))
    stage1 = [r for r in rows if r["stage"] == "1"]
    stage2 = [r for r in rows if r["stage"] == "2"]
    assert len(stage1) == 6 and len(stage2) == 2  # only the top two re-trained at 48
    failed = [r for r in stage1 if r["status"] == "failed"]
    assert len(failed) == 2 and all("broken on purpose" in r["error"] for r in failed)
    for column in (
        "val_miou",
        "test_pixel_accuracy",
        "test_binary_iou",
        "test_miou",
        "minutes",
        "images_per_second",
    ):
        assert all(r[column] != "" for r in rows if r["status"] == "ok")
    ok1 = sorted((r for r in stage1 if r["status"] == "ok"), key=lambda r: -float(r["val_miou"]))
    assert {(r["model"], r["optimizer"]) for r in stage2} == {
        (r["model"], r["optimizer"]) for r in ok1[:2]
    }
    test_ids = set((tmp_path / "st" / "split" / "test.txt").read_text().split())
    train_ids = set((tmp_path / "st" / "split" / "train.txt").read_text().split())
    assert test_ids and not test_ids & train_ids
    html = (tmp_path / "st" / "report.html").read_text()
    for needle in (
        "Table I",
        "Table II",
        "Table III",
        "Table IV",
        "data:image/png;base64",
        "Predicted masks",
        "Per-class IoU",
        "confused",
    ):
        assert needle in html
    capsys.readouterr()
    mtimes = {p: p.stat().st_mtime for p in (tmp_path / "st" / "runs").glob("*/last.pt")}
    assert main(args) == 0
    err = capsys.readouterr().err
    assert err.count("finished earlier, re-used") == 6
    assert all(p.stat().st_mtime == t for p, t in mtimes.items())


def test_report_renders_in_headless_chromium(synth_data, tmp_path):
    import shutil
    import subprocess

    import numpy as np
    import pytest
    from PIL import Image

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium not installed (.ci/run installs it)")
    cfg = {
        "models": ["unet"],
        "losses": ["ce"],
        "optimizers": [{"name": "adam", "lr": 0.001}],
        "sizes": ["32"],
        "epochs": 1,
        "width": 4,
        "batch_size": 3,
        "train": {"workers": 0, "tensorboard": False},
    }
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(cfg))
    main(
        [
            "study",
            "--data",
            str(synth_data),
            "--out",
            str(tmp_path / "st"),
            "--config",
            str(tmp_path / "s.yaml"),
        ]
    )
    shot = tmp_path / "shot.png"
    subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--window-size=1200,2400",
            f"--screenshot={shot}",
            (tmp_path / "st" / "report.html").as_uri(),
        ],
        capture_output=True,
        timeout=120,
        cwd=tmp_path,
    )
    pixels = np.asarray(Image.open(shot).convert("RGB"))
    assert pixels.shape[:2] == (2400, 1200)
    # Figures are embedded: a large part of the page is neither white nor text-grey.
    colourful = (pixels.max(-1).astype(int) - pixels.min(-1)) > 60
    assert colourful.mean() > 0.01


def test_the_best_run_is_chosen_on_validation_only():
    from fashionseg.experiments.report.study_report import _summary
    from fashionseg.experiments.selection import best_run

    def row(run, model, seed, val, test, stage=2):
        return dict(
            run=run, model=model, loss="ce", optimizer="adam", lr=0.001, schedule="constant",
            size="64", stage=stage, seed=seed, status="ok", val_miou=val, test_miou=test,
            test_pixel_accuracy=0.9, test_binary_iou=0.5,
        )  # fmt: skip

    rows = [
        row("a0", "unet", 0, 0.40, 0.10),
        row("a1", "unet", 1, 0.38, 0.12),
        row("b0", "segnet", 0, 0.30, 0.90),  # far better on test: must not be chosen
        row("b1", "segnet", 1, 0.45, 0.90),  # the best single seed, of the weaker combination
        row("c0", "unet", 0, 0.99, 0.99, stage=1),  # an earlier stage does not count
    ]
    assert best_run(rows)["run"] == "a0"
    assert "**unet with ce loss" in _summary(rows, None)
