"""Which run is best: one rule for the study's selection, its report and anything else that
picks a run. Validation only; test scores are shown, never used to choose."""

from __future__ import annotations

import numpy as np

from fashionseg.training.history import SELECTION_COLUMN

# The mean of the selection column (validation mIoU) over a combination's seeds; results.csv
# names its column after history.csv's.
SELECT_METRIC = SELECTION_COLUMN
COMBINATION = ("model", "loss", "optimizer", "lr", "schedule")


def combination_score(runs: list[dict]) -> float:
    """Mean validation mIoU of a combination's runs (its seeds)."""
    return float(np.mean([float(r[SELECT_METRIC]) for r in runs]))


def rank_combinations(rows: list[dict], stage: int) -> list[tuple[float, list[dict]]]:
    """``(score, runs)`` of each combination that finished at ``stage``, best first."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        if r["status"] == "ok" and int(r["stage"]) == stage:
            groups.setdefault(tuple(r[k] for k in COMBINATION), []).append(r)
    return sorted(((combination_score(g), g) for g in groups.values()), key=lambda t: -t[0])


def best_run(rows: list[dict]) -> dict | None:
    """The best combination of the last stage that finished, and its best seed."""
    stages = [int(r["stage"]) for r in rows if r["status"] == "ok"]
    if not stages:
        return None
    _, runs = rank_combinations(rows, max(stages))[0]
    return max(runs, key=lambda r: float(r[SELECT_METRIC]))
