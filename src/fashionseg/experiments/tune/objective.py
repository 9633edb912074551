"""One Optuna trial = one ordinary run folder, ``DIR/trials/NNNN``, trained by the engine on
the prepared cache and the study's fixed split, reporting val mIoU after each validation."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import optuna

from fashionseg.experiments.tune.space import Space
from fashionseg.experiments.tune.storage import counts_toward_total, lost_trials, retry_of
from fashionseg.training.engine import train
from fashionseg.training.errors import TrainingError


class Surplus(RuntimeError):
    """Two workers started the last trial at once; the later one stands down."""


class Objective:
    """Callable for ``study.optimize``: validation mIoU of the trial's best epoch.

    Args:
        space: the search space.
        folder: the tune folder (``trials/`` goes in it).
        caches: cache folder per ``"size|keep_aspect|classes"``.
        train_list: the fixed training split (one ImageId per line).
        val_list: the fixed validation split.
        total: --trials of the study.
        procs: processes per trial; above 1 a trial is a torchrun DDP run (ddp_trial.py).
        storage: the study's storage URL (for the DDP run's rank 0).
    """

    def __init__(
        self,
        space: Space,
        folder: Path,
        caches: dict[str, str],
        train_list: str,
        val_list: str,
        total: int,
        procs: int = 1,
        storage: str = "",
    ) -> None:
        self.space, self.folder, self.caches = space, Path(folder), caches
        self.train_list, self.val_list, self.total = train_list, val_list, total
        self.procs, self.storage = procs, storage
        # The last trial's number, wall time and time in Optuna's calls (worker.py logs them).
        self.number: int | None = None
        self.wall_s = self.optuna_s = 0.0

    def __call__(self, trial: optuna.Trial) -> float:
        self.number, self.optuna_s = trial.number, 0.0  # time in Optuna's calls, for overhead
        start = time.perf_counter()
        everyone = trial.study.get_trials(deepcopy=False)
        lost = lost_trials(everyone)
        ahead = [t for t in everyone if t.number < trial.number and counts_toward_total(t, lost)]
        if len(ahead) >= self.total:
            trial.set_user_attr("surplus", True)
            raise Surplus(f"the study already has its {self.total} trials")
        params = self.space.suggest(trial)
        out = self.folder / "trials" / f"{trial.number:04d}"
        trial.set_user_attr("run", str(out))
        self.optuna_s += time.perf_counter() - start
        try:
            config = self.space.config(
                params, data="", out=str(out), train_list=self.train_list, val_list=self.val_list
            )
            key = cache_key(config.size, config.keep_aspect, config.classes)
            config = replace(config, data=self.caches[key])
            frozen = next(t for t in everyone if t.number == trial.number)
            resume = self._continue_lost(trial, frozen, out)

            def on_eval(epoch: int, metrics: dict) -> bool:
                t0 = time.perf_counter()
                stop = report_and_ask(trial, epoch, metrics)
                self.optuna_s += time.perf_counter() - t0
                return stop

            if self.procs > 1:
                self._train_ddp(trial, config, resume)
            else:
                train(config, resume=resume, on_eval=on_eval)
            metrics = json.loads((out / "metrics.json").read_text())
        except Exception as e:
            trial.set_user_attr("error", f"{type(e).__name__}: {e}"[:400])
            raise
        finally:
            self.wall_s = time.perf_counter() - start
            trial.set_user_attr("minutes", round(self.wall_s / 60, 3))
        trial.set_user_attr("epochs", int(metrics.get("epoch", 0)))
        if "stopped_at" in metrics:
            trial.set_user_attr("pruned_at", int(metrics["stopped_at"]))
            raise optuna.TrialPruned(f"pruned at epoch {metrics['stopped_at']}")
        return float(metrics.get("best_miou", metrics.get("best_mask_ap", 0.0)))

    def _train_ddp(self, trial: optuna.Trial, config, resume: bool) -> None:
        """The trial as ``self.procs`` torchrun processes; this worker keeps its heartbeat."""
        settings = {
            "config": config.to_dict(),
            "resume": resume,
            "storage": self.storage,
            "study": trial.study.study_name,
            # Optuna has no public way to reopen a running trial in another process by number.
            "trial_id": trial._trial_id,
            "pruner": self.space.study,
        }
        cmd = [
            sys.executable, "-m", "torch.distributed.run", "--standalone",
            "--nproc_per_node", str(self.procs),
            "-m", "fashionseg.experiments.tune.ddp_trial", json.dumps(settings),
        ]  # fmt: skip
        sys.stdout.flush()
        done = subprocess.run(cmd)
        if done.returncode != 0:
            raise TrainingError(
                f"the DDP run of trial {trial.number} exited with {done.returncode}"
            )

    def _continue_lost(
        self, trial: optuna.Trial, frozen: optuna.trial.FrozenTrial, out: Path
    ) -> bool:
        """A retry of a trial whose worker died continues that trial's run folder (a copy)
        from its last checkpoint; its earlier validations came with the retry."""
        lost = retry_of(frozen)
        if lost is None:
            return False
        old = self.folder / "trials" / f"{lost:04d}"
        if not (old / "last.pt").is_file() or out.exists():
            return False
        shutil.copytree(old, out)
        return True


def report_and_ask(trial: optuna.Trial, epoch: int, metrics: dict) -> bool:
    """Report a validation's mIoU (an instance run's mask AP) to the trial; True when the
    pruner says stop."""
    trial.report(float(metrics.get("miou", metrics.get("mask_ap") or 0.0)), epoch)
    return trial.should_prune()


def cache_key(size: str, keep_aspect: bool, classes: str) -> str:
    return f"{size}|{bool(keep_aspect)}|{classes}"
