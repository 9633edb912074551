"""The search space: a YAML file of fixed ``TrainConfig`` fields, searched fields, study
settings, and trials to try first.

    fixed:   {model: deeplabv3plus, size: 96x144, max_minutes: 4, ...}
    search:
      lr: {low: 1.0e-4, high: 3.0e-3, log: true}   # float (log-uniform)
      batch_size: [8, 16]                           # a list is a choice
      width: {low: 8, high: 32, step: 8}            # ints give an int range
    study: {pruner: median, startup_trials: 4, warmup_epochs: 1, sampler: tpe, seed: 0}
    enqueue: [{lr: 1.0e-3, batch_size: 16}]          # tried first, on a new study only
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path

import yaml

from fashionseg.config import TrainConfig, read_yaml
from fashionseg.errors import ConfigError, FashionsegError

# Set by tune itself for every trial: the data, the run folder and the fixed split (the space
# may name the validation list; training is then every other image).
_OWNED = ("data", "out", "train_list", "val_list")
PRUNERS = ("median", "hyperband", "none")
SAMPLERS = ("tpe", "random")
_STUDY_DEFAULTS = {
    "pruner": "median",
    "startup_trials": 4,
    "warmup_epochs": 1,
    "sampler": "tpe",
    "seed": 0,
}


class SpaceError(FashionsegError, ValueError):
    """A search space that cannot work; the message names the file and the key."""


@dataclass
class Space:
    """A loaded, checked search space."""

    path: str
    fixed: dict
    search: dict  # name -> list of choices, or {low, high, log?, step?}
    study: dict = field(default_factory=lambda: dict(_STUDY_DEFAULTS))
    enqueue: list[dict] = field(default_factory=list)
    val_list: str = ""  # from fixed, resolved next to the space file

    def suggest(self, trial) -> dict:
        """The trial's values of the searched fields (Optuna's suggest_* calls)."""
        params = {}
        for name, spec in self.search.items():
            if isinstance(spec, list):
                params[name] = trial.suggest_categorical(name, spec)
            elif isinstance(spec["low"], int) and isinstance(spec["high"], int):
                params[name] = trial.suggest_int(
                    name, spec["low"], spec["high"], step=spec.get("step", 1), log=spec["log"]
                )
            else:
                step = spec.get("step")
                params[name] = trial.suggest_float(
                    name, float(spec["low"]), float(spec["high"]), step=step, log=spec["log"]
                )
        return params

    def config(self, params: dict, **owned) -> TrainConfig:
        """The full, validated config of a trial: defaults, fixed, the trial's values, owned."""
        data = {**self.fixed, **params, **owned}
        return TrainConfig.from_dict(data).validate()

    def cache_settings(self) -> list[tuple[str, bool, str]]:
        """Every (size, keep_aspect, classes) a trial may use: one prepared cache each."""

        def values(key: str) -> list:
            if key in self.search:
                return list(self.search[key])
            return [self.fixed.get(key, getattr(TrainConfig, key))]

        return [
            (str(s), bool(k), str(c))
            for s in values("size")
            for k in values("keep_aspect")
            for c in values("classes")
        ]

    def to_yaml(self) -> str:
        return yaml.safe_dump(
            {
                "fixed": dict(self.fixed, **({"val_list": self.val_list} if self.val_list else {})),
                "search": self.search,
                "study": self.study,
                "enqueue": self.enqueue,
            },
            sort_keys=True,
        )


def load_space(path: str | Path) -> Space:
    """Read and check a search space file.

    Raises:
        SpaceError: naming the file and the first bad key, before any training.
    """
    path = Path(path)
    if not path.is_file():
        raise SpaceError(f"{path}: no such search space file")
    try:
        raw = read_yaml(path)
    except ConfigError as e:
        raise SpaceError(str(e)) from None
    unknown = sorted(set(raw) - {"fixed", "search", "study", "enqueue"})
    if unknown:
        raise SpaceError(
            f"{path}: unknown section {unknown[0]!r}; use fixed, search, study, enqueue"
        )
    fixed = dict(raw.get("fixed") or {})
    search = dict(raw.get("search") or {})
    study = {**_STUDY_DEFAULTS, **(raw.get("study") or {})}
    enqueue = list(raw.get("enqueue") or [])
    known = {f.name for f in fields(TrainConfig)}
    for section, keys in (("fixed", fixed), ("search", search)):
        for key in keys:
            if key not in known:
                raise SpaceError(f"{path}: {section}.{key} is not a training config key")
            if key in _OWNED and not (section == "fixed" and key == "val_list"):
                raise SpaceError(f"{path}: {section}.{key} is set by tune, not the space")
    if not search:
        raise SpaceError(f"{path}: search is empty; name at least one field to search")
    both = sorted(set(fixed) & set(search))
    if both:
        raise SpaceError(f"{path}: {both[0]} is both fixed and searched")
    for key, spec in search.items():
        search[key] = _check_spec(path, key, spec)
    _check_study(path, study)
    # Split files named in the space are found next to it, as in a train config.
    val_list = fixed.pop("val_list", "")
    if val_list and not Path(val_list).exists() and (path.parent / val_list).exists():
        val_list = str((path.parent / val_list).resolve())
    if val_list and not Path(val_list).is_file():
        raise SpaceError(f"{path}: fixed.val_list {val_list!r} is not a file")
    space = Space(str(path), fixed, search, study, enqueue, val_list)
    _check_values(space)
    return space


def _check_spec(path: Path, key: str, spec) -> list | dict:
    if isinstance(spec, list):
        if not spec:
            raise SpaceError(f"{path}: search.{key} is an empty list of choices")
        return spec
    if not isinstance(spec, dict) or not {"low", "high"} <= set(spec):
        raise SpaceError(f"{path}: search.{key} needs a list of choices or {{low, high}}")
    extra = sorted(set(spec) - {"low", "high", "log", "step"})
    if extra:
        raise SpaceError(f"{path}: search.{key} has unknown setting {extra[0]!r}")
    low, high = spec["low"], spec["high"]
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (low, high)):
        raise SpaceError(f"{path}: search.{key} low and high must be numbers")
    if key in ("size",):
        raise SpaceError(f"{path}: search.size must be a list of sizes, not a range")
    if low > high:
        raise SpaceError(f"{path}: search.{key} low {low} is above high {high}")
    spec = {"log": bool(spec.get("log", False)), **spec}
    if spec["log"] and low <= 0:
        raise SpaceError(f"{path}: search.{key} is log-uniform, so low must be above 0")
    if spec["log"] and "step" in spec:
        raise SpaceError(f"{path}: search.{key} cannot have both log and step")
    return spec


def _check_study(path: Path, study: dict) -> None:
    unknown = sorted(set(study) - set(_STUDY_DEFAULTS))
    if unknown:
        raise SpaceError(f"{path}: study.{unknown[0]} is unknown; use {', '.join(_STUDY_DEFAULTS)}")
    if study["pruner"] not in PRUNERS:
        raise SpaceError(f"{path}: study.pruner {study['pruner']!r} is not one of {PRUNERS}")
    if study["sampler"] not in SAMPLERS:
        raise SpaceError(f"{path}: study.sampler {study['sampler']!r} is not one of {SAMPLERS}")


def _check_values(space: Space) -> None:
    """Every choice and both ends of every range must make a valid config with the fixed
    fields, so a bad value fails here and not an hour into the search."""
    from fashionseg.errors import ConfigError

    probes: list[dict] = [{}]
    for key, spec in space.search.items():
        values = spec if isinstance(spec, list) else [spec["low"], spec["high"]]
        probes += [{key: v} for v in values]
    probes += space.enqueue
    for probe in probes:
        unknown = sorted(set(probe) - set(space.search))
        if unknown:
            raise SpaceError(f"{space.path}: enqueue names {unknown[0]}, which is not searched")
        try:
            space.config(dict(_first_values(space), **probe), data="", out="")
        except (ConfigError, TypeError) as e:
            where = ", ".join(f"{k}={v}" for k, v in probe.items()) or "the fixed fields"
            raise SpaceError(f"{space.path}: {where}: {e}") from None


def _first_values(space: Space) -> dict:
    return {
        k: (spec[0] if isinstance(spec, list) else spec["low"]) for k, spec in space.search.items()
    }
