"""FCN-ResNet50 from torchvision (Long et al., 2015, with a ResNet-50 backbone)."""

from __future__ import annotations

from torch import nn

from fashionseg.errors import ConfigError
from fashionseg.models.common import PadToMultiple


def build(
    num_classes: int, in_channels: int = 3, width: int = 64, pretrained: bool = False
) -> nn.Module:
    """``width`` is ignored: ResNet-50's widths are fixed. ``pretrained`` loads the ImageNet
    backbone through torchvision's weight API (downloads once into the torch hub cache)."""
    from torchvision.models import ResNet50_Weights
    from torchvision.models.segmentation import fcn_resnet50

    if in_channels != 3:
        raise ConfigError("fcn_resnet50 takes RGB input")
    weights = ResNet50_Weights.IMAGENET1K_V1 if pretrained else None
    model = fcn_resnet50(
        weights=None, weights_backbone=weights, num_classes=num_classes, aux_loss=False
    )
    return PadToMultiple(model, 8)
