"""One trial process: ``python -m fashionseg.experiments.tune.worker SETTINGS_JSON``, started by
``fashionseg tune`` (K of them for --workers K). It runs trials until the study has its
--trials, waiting while other workers' trials may still die and need a retry.
"""

from __future__ import annotations

import json
import socket
import sys
import time
import warnings
import zlib
from pathlib import Path

import optuna

from fashionseg.experiments.tune.objective import Objective
from fashionseg.experiments.tune.space import load_space
from fashionseg.experiments.tune.storage import make_storage, tally


def work(settings: dict) -> int:
    """Run trials until the study has its total or the deadline passes.

    Args:
        settings: written by ``search.run_tune``: folder, storage, study, total, deadline
            (Unix seconds or None), heartbeat, threads, caches, train_list, val_list.

    Returns:
        How many trials this worker ran.
    """
    import torch

    torch.set_num_threads(settings["threads"])
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    folder = Path(settings["folder"])
    space = load_space(folder / "space.yaml")
    storage = make_storage(settings["storage"], settings["heartbeat"])
    # Each worker draws its own random numbers (the same seed would repeat its neighbours'
    # startup trials); per host too, for workers on other machines.
    seed = (
        space.study["seed"] + 1000 * settings["worker"] + zlib.crc32(socket.gethostname().encode())
    )
    study = optuna.load_study(
        study_name=settings["study"], storage=storage, sampler=make_sampler(space.study, seed)
    )
    study.pruner = make_pruner(space.study)
    objective = Objective(
        space,
        folder,
        settings["caches"],
        settings["train_list"],
        settings["val_list"],
        settings["total"],
        procs=settings.get("procs", 1),
        storage=settings["storage"],
    )
    ran = 0
    while settings["deadline"] is None or time.time() < settings["deadline"]:
        # Marks the trials of dead workers failed (their retries are queued as waiting).
        optuna.storages.fail_stale_trials(study)
        count = tally(study)
        if count["waiting"] or count["used"] < settings["total"]:
            t0 = time.perf_counter()
            objective.wall_s = objective.optuna_s = 0.0
            study.optimize(objective, n_trials=1, catch=(Exception,), gc_after_trial=True)
            _log_overhead(folder, settings["worker"], objective, time.perf_counter() - t0)
            ran += 1
        elif count["running"]:
            time.sleep(min(5, settings["heartbeat"]))
        else:
            break
    return ran


def _log_overhead(folder: Path, worker: int, objective: Objective, optimize_s: float) -> None:
    """What the search costs beside training, per trial: Optuna's calls inside the trial
    (sampling, storage, report and prune) plus ask/tell around it (logs/overhead.csv)."""
    path = folder / "logs" / "overhead.csv"
    new = not path.exists()
    with open(path, "a") as f:
        if new:
            f.write("worker,trial,trial_s,optuna_in_trial_s,ask_tell_s\n")
        ask_tell = max(0.0, optimize_s - objective.wall_s)
        f.write(
            f"{worker},{objective.number},{objective.wall_s:.3f},"
            f"{objective.optuna_s:.4f},{ask_tell:.4f}\n"
        )


def make_sampler(study: dict, seed: int) -> optuna.samplers.BaseSampler:
    if study["sampler"] == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    # Several workers sample at once; the constant liar keeps them from picking the same point.
    return optuna.samplers.TPESampler(
        seed=seed, n_startup_trials=study["startup_trials"], constant_liar=True
    )


def make_pruner(study: dict) -> optuna.pruners.BasePruner:
    if study["pruner"] == "none":
        return optuna.pruners.NopPruner()
    if study["pruner"] == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=max(1, study["warmup_epochs"]))
    return optuna.pruners.MedianPruner(
        n_startup_trials=study["startup_trials"], n_warmup_steps=study["warmup_epochs"]
    )


if __name__ == "__main__":
    work(json.loads(sys.argv[1]))
