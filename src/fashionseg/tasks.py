"""The tasks' facts, torch-free, for the stages below training: what each task's data and
outputs are. The task objects (``training/tasks/``), the model specs (``specs.py``) and
inference decide on a task's name; every other module asks these facts.
"""

from __future__ import annotations

from dataclasses import dataclass

from fashionseg.errors import ConfigError


@dataclass(frozen=True)
class TaskFacts:
    """One task.

    Attributes:
        name: ``semantic`` or ``instances``.
        instances: its ground truth and outputs are instances (masks with classes, scores and
            attributes): its cache keeps each photo's instances, it is evaluated by mask AP, it
            exports detection outputs and searches its own hyperparameters.
    """

    name: str
    instances: bool


TASKS = {
    "semantic": TaskFacts("semantic", instances=False),
    "instances": TaskFacts("instances", instances=True),
}


def task_facts(name: str | None) -> TaskFacts:
    """The facts of a task by name (None: semantic, the default).

    Raises:
        ConfigError: an unknown task.
    """
    if (name or "semantic") not in TASKS:
        raise ConfigError(f"unknown task {name!r}; choose {' or '.join(TASKS)}")
    return TASKS[name or "semantic"]
