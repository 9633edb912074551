"""``fashionseg tune``: open (or continue) the study, prepare the caches and the fixed split
once, start the worker processes, show their progress, then write the results."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import optuna
from tqdm import tqdm

from fashionseg.config import TrainConfig
from fashionseg.errors import FashionsegError
from fashionseg.experiments.tune.objective import cache_key
from fashionseg.experiments.tune.results import write_results
from fashionseg.experiments.tune.space import Space, SpaceError, load_space
from fashionseg.experiments.tune.storage import default_url, make_storage, tally
from fashionseg.files import atomic_write
from fashionseg.machine import available_cores
from fashionseg.prepare.cache import Cache
from fashionseg.prepare.resolve import resolve_data
from fashionseg.tasks import task_facts
from fashionseg.training.loader import split_indices


class TuneError(FashionsegError, RuntimeError):
    """A search that cannot start or whose workers failed; the message says where to look."""


def run_tune(
    data: str,
    out: str,
    space_path: str,
    trials: int = 20,
    timeout: float = 0.0,
    workers: int = 1,
    storage: str = "",
    study_name: str = "",
    heartbeat: int = 30,
    procs_per_trial: int = 1,
) -> dict:
    """Search as ``space_path`` says, ``trials`` trials in all (a rerun continues the study).

    Args:
        data: a data folder or prepared cache, as ``train --data``.
        out: the tune folder: trials/, logs/, tune.db (SQLite), trials.csv, best.yaml,
            report.html.
        space_path: the search space YAML.
        trials: finished trials the study should have (pruned and errored ones count; ones
            lost with a dead worker do not, their retry does).
        timeout: minutes after which no new trial starts here (0: none).
        workers: trial processes on this machine (one per GPU on a GPU machine).
        storage: an RDB URL (postgresql://...) shared by several machines; default an SQLite
            file in ``out``.
        study_name: the study in the storage (default: the folder's name).
        heartbeat: seconds between a running trial's beats; a trial silent for three beats
            is failed and retried.
        procs_per_trial: above 1, each trial is a torchrun DDP run of that many processes
            (GPUs on a GPU machine: worker k gets GPUs k*N .. k*N+N-1).

    Returns:
        The summary: counts, the best value and trial, and the files written.
    """
    if trials < 1 or workers < 1 or procs_per_trial < 1:
        raise TuneError("--trials, --workers and --procs-per-trial must be at least 1")
    space = load_space(space_path)
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # the progress line says it all
    caches = _prepare(data, space)  # a bad --data fails here, before DIR is made
    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise TuneError(f"{folder}: exists and is not a folder; --out names the tune folder")
    folder.mkdir(parents=True, exist_ok=True)
    _keep_space(space, folder)
    url = storage or default_url(folder)
    name = study_name or folder.resolve().name
    study = optuna.create_study(
        study_name=name, storage=make_storage(url), direction="maximize", load_if_exists=True
    )
    train_list, val_list = _fixed_split(study, space, next(iter(caches.values())), folder)
    if not study.trials:
        for params in space.enqueue:
            study.enqueue_trial(params, skip_if_exists=True)
    settings = {
        "folder": str(folder.resolve()),
        "storage": url,
        "study": name,
        "total": trials,
        "deadline": time.time() + timeout * 60 if timeout > 0 else None,
        "heartbeat": heartbeat,
        "threads": max(1, available_cores() // (workers * procs_per_trial)),
        "procs": procs_per_trial,
        "caches": {key: str(Path(cache.root).resolve()) for key, cache in caches.items()},
        "train_list": train_list,
        "val_list": val_list,
    }
    codes = _run_workers(settings, workers, study, folder)
    summary = write_results(study, folder, space, data)
    count = summary["counts"]
    for k, rc in enumerate(codes):
        if rc == 0:
            continue
        log = folder / "logs" / f"worker-{k}.log"
        if count["finished"] < trials and not settings["deadline"]:
            raise TuneError(f"worker {k} stopped with exit code {rc}; see {log}")
        # Another worker retried its trial and the study completed: say so, do not fail.
        print(f"worker {k} died (exit code {rc}, {log}); its trial was retried", file=sys.stderr)
    return summary


def _keep_space(space: Space, folder: Path) -> None:
    """The folder keeps the space it was started with; another one would mix two searches."""
    kept = folder / "space.yaml"
    text = space.to_yaml()
    if kept.exists() and kept.read_text() != text:
        raise SpaceError(
            f"{folder}: this tune folder was started with another search space ({kept}); "
            "use a new --out, or the same space"
        )
    kept.write_text(text)


def _prepare(data: str, space: Space) -> dict[str, Cache]:
    """Every cache a trial may need, prepared here once (workers only read them); instance
    caches for a space of ``task: instances``."""
    rule = None
    if task_facts(space.fixed.get("task")).instances:
        rule = space.fixed.get("instances", "rows")
    return {
        cache_key(size, keep, classes): resolve_data(data, size, keep, classes, instance_rule=rule)
        for size, keep, classes in space.cache_settings()
    }


def _fixed_split(study: optuna.Study, space: Space, cache: Cache, folder: Path) -> tuple[str, str]:
    """The split every trial uses, kept in the study so that other machines use it too;
    written here as train.txt and val.txt."""
    split = study.user_attrs.get("split")
    if split is None:
        seed = space.fixed.get("seed", TrainConfig.seed)
        fraction = space.fixed.get("val_fraction", TrainConfig.val_fraction)
        train_idx, val_idx = split_indices(cache, seed, fraction, "", space.val_list)
        ids = dict(zip(cache.indices, cache.ids))
        split = {"train": [ids[i] for i in train_idx], "val": [ids[i] for i in val_idx]}
        if not split["val"]:
            raise TuneError("the search needs a validation split: set val_fraction above 0")
        study.set_user_attr("split", split)
    paths = []
    for part in ("train", "val"):
        path = folder / f"{part}.txt"
        atomic_write(path, "\n".join(split[part]) + "\n")
        paths.append(str(path.resolve()))
    return paths[0], paths[1]


def _gpus() -> list[str]:
    import torch

    if not torch.cuda.is_available():
        return []
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible:
        return [v for v in visible.split(",") if v.strip()]
    return [str(i) for i in range(torch.cuda.device_count())]


def _run_workers(settings: dict, workers: int, study: optuna.Study, folder: Path) -> list[int]:
    """Start the worker processes and show a progress line until they end."""
    logs = folder / "logs"
    logs.mkdir(exist_ok=True)
    gpus = _gpus()
    procs = []
    for k in range(workers):
        env = dict(os.environ, OMP_NUM_THREADS=str(settings["threads"]))
        if gpus:
            n = settings["procs"]
            env["CUDA_VISIBLE_DEVICES"] = ",".join(gpus[(k * n + i) % len(gpus)] for i in range(n))
        log = open(logs / f"worker-{k}.log", "a")
        cmd = [
            sys.executable,
            "-m",
            "fashionseg.experiments.tune.worker",
            json.dumps(dict(settings, worker=k)),
        ]
        procs.append((subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env), log))
    bar = tqdm(total=settings["total"], desc="trials", unit="trial", dynamic_ncols=True)
    try:
        while True:
            alive = [p for p, _ in procs if p.poll() is None]
            _show(bar, study)
            if not alive:
                break
            time.sleep(2)
    except KeyboardInterrupt:
        for p, _ in procs:
            p.terminate()
        raise
    finally:
        bar.close()
        for p, log in procs:
            p.wait()
            log.close()
    return [p.returncode for p, _ in procs]


def _show(bar: tqdm, study: optuna.Study) -> None:
    count = tally(study)
    bar.n = min(bar.total, count["finished"])
    try:
        best = f"{study.best_value:.4f}"
    except ValueError:
        best = "-"
    bar.set_postfix_str(
        f"running {count['running']}, pruned {count['pruned']}, failed {count['failed']}, "
        f"best mIoU {best}"
    )
    bar.refresh()
