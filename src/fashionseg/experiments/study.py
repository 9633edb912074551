"""``fashionseg study``: the original study as one command.

Stage 1 trains every combination of the grid at the first size; the top-k combinations by
validation mIoU (mean over seeds) are re-trained at the second size; every run is scored on
a held-out test split that selection never saw. Each run lives in its own folder, so running
the command again skips finished runs and resumes interrupted ones; a failed run is recorded
with its error and the others go on.
"""

from __future__ import annotations

import csv
import itertools
import json
import sys
import time
import traceback
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import yaml

from fashionseg.config import TrainConfig, read_yaml
from fashionseg.data.formats import open_dataset
from fashionseg.data.splits import split_ids
from fashionseg.errors import ConfigError, FashionsegError
from fashionseg.experiments.selection import COMBINATION, rank_combinations
from fashionseg.files import atomic_write
from fashionseg.training.history import SELECTION_COLUMN

RESULT_COLUMNS = [
    "stage",
    "run",
    "model",
    "loss",
    "optimizer",
    "lr",
    "schedule",
    "size",
    "seed",
    "status",
    "val_miou",
    "test_pixel_accuracy",
    "test_binary_iou",
    "test_miou",
    "test_mean_class_accuracy",
    "minutes",
    "images_per_second",
    "error",
]


# TrainConfig settings that the study decides for each run (its grid and its own keys).
STUDY_DECIDES = {
    "data", "out", "model", "loss", "optimizer", "lr", "schedule", "seed", "size", "epochs",
    "width", "batch_size", "train_list", "val_list",
}  # fmt: skip


class StudyError(FashionsegError):
    """A study that cannot start, or whose every run failed."""


@dataclass
class StudyConfig:
    models: list[str] = field(default_factory=lambda: ["unet", "segnet", "fcn_resnet50"])
    losses: list[str] = field(default_factory=lambda: ["ce", "focal"])
    optimizers: list[dict] = field(
        default_factory=lambda: [{"name": "sgd", "lr": 0.01}, {"name": "adam", "lr": 0.001}]
    )
    schedules: list[str] = field(default_factory=lambda: ["constant"])
    seeds: list[int] = field(default_factory=lambda: [0])
    sizes: list[str] = field(default_factory=lambda: ["256", "512"])
    top_k: int = 2
    epochs: int = 10
    epochs_final: int = 0  # epochs at the second size (0 = same as epochs)
    width: int = 64
    batch_size: int = 8
    test_fraction: float = 0.15
    val_fraction: float = 0.15
    split_seed: int = 0
    train: dict = field(default_factory=dict)  # any other TrainConfig settings

    @classmethod
    def load(cls, path: str | None, **overrides) -> StudyConfig:
        data = read_yaml(path) if path else {}
        data.update({k: v for k, v in overrides.items() if v is not None})
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ConfigError(f"unknown study keys: {', '.join(sorted(unknown))}")
        if "sizes" in data:
            data["sizes"] = [str(s) for s in data["sizes"]]
        cfg = cls(**data)
        cfg.validate()
        return cfg

    def base(self) -> TrainConfig:
        """The TrainConfig every run starts from: ``train:`` plus the study's own settings.

        Raises:
            ConfigError: ``train:`` names a setting the study decides (the grid, the sizes,
                the epochs...), or a value a TrainConfig refuses.
        """
        decided = sorted(set(self.train) & STUDY_DECIDES)
        if decided:
            raise ConfigError(
                f"study config: train.{decided[0]} is set by the study itself "
                "(the grid, sizes, epochs, width or batch_size keys); set it there"
            )
        return TrainConfig.from_dict(dict(self.train, width=self.width, batch_size=self.batch_size))

    def validate(self) -> None:
        """Every run's config, checked before the first one starts."""
        base = self.base()
        for model, loss, opt, schedule in itertools.product(
            self.models, self.losses, self.optimizers, self.schedules
        ):
            if not isinstance(opt, dict) or set(opt) != {"name", "lr"}:
                raise ConfigError(f"study config: optimizer {opt!r} needs name and lr")
            for size in self.sizes:
                replace(
                    base, model=model, loss=loss, optimizer=opt["name"], lr=float(opt["lr"]),
                    schedule=schedule, size=size, epochs=self.epochs,
                ).validate()  # fmt: skip


def write_split(data: str, out: Path, cfg: StudyConfig) -> dict[str, Path]:
    """Train/val/test ImageId lists, fixed once per study (kept if already written)."""
    paths = {k: out / "split" / f"{k}.txt" for k in ("train", "val", "test")}
    if all(p.exists() for p in paths.values()):
        return paths
    ids = [r.image_id for r in open_dataset(data) if not r.error and r.path.is_file()]
    if len(ids) < 3:
        raise StudyError(
            f"{data}: {len(ids)} usable photos; a study needs at least 3 (train, val and test)"
        )
    parts = split_ids(ids, cfg.split_seed, cfg.val_fraction, cfg.test_fraction)
    (out / "split").mkdir(parents=True, exist_ok=True)
    for k, part in parts.items():
        atomic_write(paths[k], "\n".join(sorted(part)) + "\n")
    return paths


def _run_name(
    stage: int, size: str, model: str, loss: str, opt: dict, schedule: str, seed: int
) -> str:
    return f"s{stage}-{size}-{model}-{loss.replace('+', '_')}-{opt['name']}{opt['lr']:g}-{schedule}-seed{seed}"


def run_one(data: str, run_dir: Path, tc: TrainConfig, test_list: Path, row: dict) -> dict:
    """Train (or resume, or skip) one run and score it on the test split."""
    from fashionseg.evaluate.evaluate import evaluate_checkpoint
    from fashionseg.training.engine import train

    done = run_dir / "metrics.json"
    t0 = time.perf_counter()
    try:
        finished = done.exists() and json.loads(done.read_text()).get("epoch") == tc.epochs
        if finished:
            print(f"[study] {run_dir.name}: finished earlier, re-used", file=sys.stderr)
        else:
            print(f"[study] {run_dir.name}: training", file=sys.stderr)
            (run_dir / "error.txt").unlink(missing_ok=True)
            train(tc, resume=(run_dir / "last.pt").exists())
        test_path = run_dir / "test_metrics.json"
        if not test_path.exists() or not finished:
            test = evaluate_checkpoint(
                str(run_dir / "best.pt"),
                data,
                ids_file=str(test_list),
                batch_size=tc.batch_size,
                device=tc.device,
            )
            atomic_write(test_path, json.dumps(test, indent=1))
        test = json.loads(test_path.read_text())
        history = list(csv.DictReader(open(run_dir / "history.csv")))
        row.update(
            status="ok",
            val_miou=max(float(h[SELECTION_COLUMN]) for h in history),
            test_pixel_accuracy=test["pixel_accuracy"],
            test_binary_iou=test["binary_iou"],
            test_miou=test["miou"],
            test_mean_class_accuracy=test["mean_class_accuracy"],
            minutes=sum(float(h["seconds"]) for h in history) / 60,
            images_per_second=float(np.mean([float(h["images_per_second"]) for h in history])),
            error="",
        )
    except Exception as e:  # one failed run must not stop the study
        (run_dir / "error.txt").write_text(traceback.format_exc())
        row.update(
            status="failed",
            error=f"{type(e).__name__}: {e}"[:300],
            minutes=(time.perf_counter() - t0) / 60,
        )
        print(f"[study] {run_dir.name}: failed: {row['error']}", file=sys.stderr)
    return row


def _train_config(
    cfg: StudyConfig,
    data: str,
    run_dir: Path,
    split: dict,
    size: str,
    model,
    loss,
    opt,
    schedule,
    seed,
    epochs,
) -> TrainConfig:
    """One run of the grid: the study's base config with the grid's overrides."""
    return replace(
        cfg.base(),
        data=data,
        out=str(run_dir),
        model=model,
        loss=loss,
        optimizer=opt["name"],
        lr=float(opt["lr"]),
        schedule=schedule,
        seed=int(seed),
        size=str(size),
        epochs=int(epochs),
        train_list=str(split["train"]),
        val_list=str(split["val"]),
    ).validate()


def write_results(path: Path, rows: list[dict]) -> None:
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, RESULT_COLUMNS, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)


def run_study(data: str, out: str | Path, cfg: StudyConfig) -> Path:
    """Run (or continue) the study; returns the path of the HTML report."""
    out = Path(out)
    (out / "runs").mkdir(parents=True, exist_ok=True)
    (out / "study.yaml").write_text(yaml.safe_dump(cfg.__dict__, sort_keys=False))
    split = write_split(data, out, cfg)
    rows: list[dict] = []
    grid = list(itertools.product(cfg.models, cfg.losses, cfg.optimizers, cfg.schedules))
    total = len(grid) * len(cfg.seeds) + (cfg.top_k * len(cfg.seeds) if len(cfg.sizes) > 1 else 0)
    print(
        f"[study] {len(grid)} combinations x {len(cfg.seeds)} seed(s) at {cfg.sizes[0]}, then the top {cfg.top_k} at {cfg.sizes[1:]}: {total} runs",
        file=sys.stderr,
    )

    def stage(stage_no: int, size: str, combos, epochs: int) -> None:
        for model, loss, opt, schedule in combos:
            for seed in cfg.seeds:
                name = _run_name(stage_no, size, model, loss, opt, schedule, seed)
                run_dir = out / "runs" / name
                run_dir.mkdir(exist_ok=True)
                row = dict(
                    stage=stage_no,
                    run=name,
                    model=model,
                    loss=loss,
                    optimizer=opt["name"],
                    lr=opt["lr"],
                    schedule=schedule,
                    size=size,
                    seed=seed,
                )
                print(f"[study] run {len(rows) + 1}/{total}", file=sys.stderr)
                tc = _train_config(
                    cfg, data, run_dir, split, size, model, loss, opt, schedule, seed, epochs
                )
                rows.append(run_one(data, run_dir, tc, split["test"], row))
                write_results(out / "results.csv", rows)

    stage(1, cfg.sizes[0], grid, cfg.epochs)
    if len(cfg.sizes) > 1:
        for combo in select_top(rows, grid, cfg):
            stage(2, cfg.sizes[1], [combo], cfg.epochs_final or cfg.epochs)
    from fashionseg.experiments.report.study_report import write_report

    report = write_report(out, rows, cfg, data, split)
    if not any(r["status"] == "ok" for r in rows):
        first = next((r["error"] for r in rows if r["error"]), "")
        raise StudyError(
            f"{out}: all {len(rows)} runs failed (the first: {first}); see {out / 'results.csv'}"
        )
    return report


def select_top(rows: list[dict], grid, cfg: StudyConfig) -> list:
    """The top-k combinations of stage 1 (see :data:`SELECT_METRIC`)."""
    keys = {
        (model, loss, opt["name"], opt["lr"], schedule): (model, loss, opt, schedule)
        for model, loss, opt, schedule in grid
    }
    ranked = rank_combinations(rows, 1)
    chosen = [keys.get(tuple(runs[0][k] for k in COMBINATION)) for _, runs in ranked]
    return [c for c in chosen if c is not None][: cfg.top_k]
