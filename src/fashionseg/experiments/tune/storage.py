"""Where a study lives (an SQLite file by default, PostgreSQL for many machines) and how its
trials are counted."""

from __future__ import annotations

import random
import time
from collections import Counter
from pathlib import Path

import optuna
from optuna import storages
from optuna.storages import RDBStorage
from optuna.trial import FrozenTrial, TrialState

from fashionseg.errors import UsageError


def default_url(folder: str | Path) -> str:
    return f"sqlite:///{Path(folder).resolve() / 'tune.db'}"


def make_storage(url: str, heartbeat: int | None = None) -> RDBStorage:
    """The study's storage; with ``heartbeat`` (seconds) every running trial beats, and one
    that stays silent for three beats (its worker died) is marked failed and queued again
    with the same parameters.
    """
    kwargs: dict = {}
    if url.startswith("sqlite"):
        # Workers write at once; wait for the file lock instead of failing.
        kwargs["engine_kwargs"] = {"connect_args": {"timeout": 120}}
    else:
        kwargs["engine_kwargs"] = {"pool_pre_ping": True}
    if heartbeat:
        kwargs.update(heartbeat_interval=heartbeat, grace_period=3 * heartbeat)
        # Optuna 4.9 renamed the retry callback; older releases have only the first name.
        if hasattr(storages, "RetryHeartbeatStaleTrialCallback"):
            retry = storages.RetryHeartbeatStaleTrialCallback(
                max_retry=3, inherit_intermediate_values=True
            )
            kwargs["heartbeat_stale_trial_callback"] = retry
        else:
            retry = storages.RetryFailedTrialCallback(max_retry=3, inherit_intermediate_values=True)
            kwargs["failed_trial_callback"] = retry
    from sqlalchemy.exc import IntegrityError, ProgrammingError

    try:
        for attempt in range(5):
            try:
                return RDBStorage(url, **kwargs)
            except (IntegrityError, ProgrammingError):
                # Two machines creating the tables of a new database at once: one wins, the
                # other finds them made on its next try.
                if attempt == 4:
                    raise
                time.sleep(0.5 + random.random())
    except ImportError:
        raise UsageError(
            f"{shown(url)}: the database driver is missing; pip install 'fashionseg[tune]' "
            "(PostgreSQL: psycopg)"
        ) from None


def shown(url: str) -> str:
    """The URL as messages show it: without its password."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.split("@")[-1]


def retry_of(t: FrozenTrial) -> int | None:
    """The lost trial that ``t`` retries, or None. Optuna's retry callback records every lost
    try in ``retry_history`` ("failed_trial" keeps the first), so a retry of a retry continues
    from the latest."""
    history = t.system_attrs.get("retry_history")
    return history[-1] if history else t.system_attrs.get("failed_trial")


def lost_trials(trials: list[FrozenTrial]) -> set[int]:
    """Failed trials that were queued again: their worker died (no heartbeat)."""
    return {n for t in trials for n in t.system_attrs.get("retry_history", [])}


def counts_toward_total(t: FrozenTrial, lost: set[int]) -> bool:
    """A trial that uses one of the --trials: finished, pruned, running, queued, or failed
    for good. A trial lost with its worker does not: its retry does."""
    return not t.user_attrs.get("surplus") and t.number not in lost


def tally(study: optuna.Study) -> dict[str, int]:
    """How many trials are complete, pruned, running, waiting, failed (for good), lost (dead
    workers, retried); ``finished`` and ``used`` (which counts against --trials)."""
    c: Counter = Counter(dict.fromkeys(_KINDS, 0))
    trials = study.get_trials(deepcopy=False)
    lost = lost_trials(trials)
    for t in trials:
        if t.user_attrs.get("surplus"):
            continue
        if t.state == TrialState.COMPLETE:
            c["complete"] += 1
        elif t.state == TrialState.PRUNED:
            c["pruned"] += 1
        elif t.state == TrialState.RUNNING:
            c["running"] += 1
        elif t.state == TrialState.WAITING:
            c["waiting"] += 1
        elif t.number in lost:
            c["lost"] += 1
        else:
            c["failed"] += 1
    c["finished"] = c["complete"] + c["pruned"] + c["failed"]
    c["used"] = c["finished"] + c["running"] + c["waiting"]
    return dict(c)


_KINDS = ("complete", "pruned", "running", "waiting", "failed", "lost")
