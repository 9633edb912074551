"""Modern architectures through segmentation_models_pytorch (imported only when used)."""

from __future__ import annotations

from torch import nn

from .common import PadToMultiple


def _smp(arch: str, encoder: str, multiple: int):
    def build(
        num_classes: int, in_channels: int = 3, width: int = 64, pretrained: bool = False
    ) -> nn.Module:
        import segmentation_models_pytorch as smp

        model = getattr(smp, arch)(
            encoder_name=encoder,
            encoder_weights="imagenet" if pretrained else None,
            in_channels=in_channels,
            classes=num_classes,
            activation=None,
        )
        return PadToMultiple(model, multiple)

    build.__doc__ = f"smp.{arch} with a {encoder} encoder; ``width`` is ignored."
    return build


deeplabv3plus = _smp("DeepLabV3Plus", "resnet34", 16)
unet_resnet34 = _smp("Unet", "resnet34", 32)
