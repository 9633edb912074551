"""One trial as a DistributedDataParallel run (``tune --procs-per-trial N``): the worker starts
``python -m torch.distributed.run --standalone --nproc_per_node N -m fashionseg.experiments.tune.ddp_trial
SETTINGS_JSON``. Every rank trains; rank 0 reports each validation to the trial in the study,
and the engine tells every rank when the pruner stops it. The worker keeps the trial's
heartbeat and reads the result from the run folder.
"""

from __future__ import annotations

import json
import os
import sys

import optuna

from fashionseg.config import TrainConfig
from fashionseg.experiments.tune.objective import report_and_ask
from fashionseg.experiments.tune.storage import make_storage
from fashionseg.experiments.tune.worker import make_pruner
from fashionseg.training.engine import train


def main(settings: dict) -> None:
    """Train ``settings["config"]`` on this rank, reporting from rank 0.

    Args:
        settings: config (a TrainConfig dict), resume, storage, study, trial_id, pruner
            (the space's study settings).
    """
    config = TrainConfig.from_dict(settings["config"]).validate()

    # Every rank passes an on_eval (the engine broadcasts rank 0's answer to all ranks that
    # have one); only rank 0's is called.
    def on_eval(epoch: int, metrics: dict) -> bool:
        return False

    if int(os.environ.get("RANK", "0")) == 0:
        study = optuna.load_study(
            study_name=settings["study"],
            storage=make_storage(settings["storage"]),
            pruner=make_pruner(settings["pruner"]),
        )
        trial = optuna.trial.Trial(study, settings["trial_id"])

        def on_eval(epoch: int, metrics: dict) -> bool:  # noqa: F811 - rank 0's answer
            return report_and_ask(trial, epoch, metrics)

    train(config, resume=settings["resume"], on_eval=on_eval)


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
