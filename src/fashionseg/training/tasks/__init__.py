"""What training needs to know of a task, one object per task; the engine (``engine.py``)
holds the loop, resume, DDP, AMP, EMA, the budget, the pruner's stop, history and checkpoints
once, for both.

A task object is made per run (:func:`task_for`) and supplies:

- ``open_data`` / ``build``: the run's cache and split, and its parts (``build.Run``);
- ``epoch``: one epoch's batches (from the epoch's generator), and ``rows``, how many
  photos an epoch draws (for the schedule's steps per epoch);
- ``losses``: a batch -> a dict of named losses (the engine sums them, as torchvision's
  detection references do) and the number of photos in it;
- ``validate``: the validation metrics; ``selection`` the metric that picks ``best.pt``;
  ``columns`` the history's validation columns (``history.py`` lists them);
- ``extras``: what its checkpoints hold besides the engine's schema; ``line``: the printed
  epoch summary.
"""

from __future__ import annotations

from fashionseg.config import TrainConfig


def task_for(config: TrainConfig):
    """The task object of a run (``config.task`` names it)."""
    if config.task == "instances":
        from fashionseg.training.tasks.instances import InstanceTask

        return InstanceTask(config)
    from fashionseg.training.tasks.semantic import SemanticTask

    return SemanticTask(config)
