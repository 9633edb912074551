"""The model registry: a plain dict from name to builder.

Every builder takes ``(num_classes, in_channels=3, width=64, pretrained=False)`` (those of
models whose spec lists encoders also ``encoder``) and returns a module mapping images (N, 3, H, W) to logits (N, num_classes, H, W) at the input size.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from torch import nn

from fashionseg.errors import ConfigError
from fashionseg.specs import SPECS, spec


def _builder(path: str) -> Callable[..., nn.Module]:
    module, function = path.split(":")
    return getattr(importlib.import_module(f"fashionseg.models.{module}"), function)


# The registries, from the specs (specs.py): name -> builder.
MODELS: dict[str, Callable[..., nn.Module]] = {
    s.name: _builder(s.builder) for s in SPECS if s.task == "semantic"
}


def build_model(
    name: str,
    num_classes: int,
    in_channels: int = 3,
    width: int = 64,
    pretrained: bool = False,
    encoder: str = "",
) -> nn.Module:
    """Build a registered model; an unknown name lists the valid ones."""
    if name not in MODELS:
        raise ConfigError(f"unknown model {name!r}; choose one of {', '.join(sorted(MODELS))}")
    spec(name).check_encoder(encoder)
    kwargs = {"encoder": encoder} if encoder else {}
    return MODELS[name](
        num_classes, in_channels=in_channels, width=width, pretrained=pretrained, **kwargs
    )


# Instance models (task instances): name -> builder from (num_classes, num_attributes,
# encoder, width, pretrained, size); their outputs are torchvision's detection dicts.
INSTANCE_MODELS: dict[str, Callable[..., nn.Module]] = {
    s.name: _builder(s.builder) for s in SPECS if s.task == "instances"
}


def build_instance_model(
    name: str,
    num_classes: int,
    num_attributes: int,
    size: tuple[int, int],
    width: int = 64,
    pretrained: bool = False,
    encoder: str = "",
    rois_per_image: int = 128,
) -> nn.Module:
    """Build a registered instance model (``names.INSTANCE_MODELS``) for images of ``size``
    (H, W), ``num_classes`` label values with background and ``num_attributes`` outputs;
    ``rois_per_image`` is what its RoI heads sample per training photo."""
    if name not in INSTANCE_MODELS:
        raise ConfigError(
            f"unknown instance model {name!r}; choose one of {', '.join(sorted(INSTANCE_MODELS))}"
        )
    return INSTANCE_MODELS[name](
        num_classes, num_attributes, encoder or spec(name).default_encoder, width, pretrained,
        tuple(size),
        rois_per_image,
    )  # fmt: skip
