"""SegNet (Badrinarayanan et al., 2017): VGG16-BN encoder, max-unpooling decoder."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from fashionseg.errors import ConfigError
from fashionseg.models.common import PadToMultiple, conv_bn_relu

# VGG16: 13 convolutions in 5 blocks.
BLOCKS = (2, 2, 3, 3, 3)


class SegNet(nn.Module):
    """The decoder up-samples with the encoder's pooling indices; nothing is learned there."""

    def __init__(self, num_classes: int, in_channels: int = 3, width: int = 64):
        super().__init__()
        chans = [width, width * 2, width * 4, width * 8, width * 8]
        self.enc = nn.ModuleList()
        cin = in_channels
        for n, c in zip(BLOCKS, chans):
            self.enc.append(
                nn.Sequential(*[conv_bn_relu(cin if i == 0 else c, c) for i in range(n)])
            )
            cin = c
        self.dec = nn.ModuleList()
        outs = chans[-2::-1] + [chans[0]]  # each decoder block ends at the next level's width
        for n, c, cout in zip(BLOCKS[::-1], chans[::-1], outs):
            layers = [conv_bn_relu(c, c) for _ in range(n - 1)] + [conv_bn_relu(c, cout)]
            self.dec.append(nn.Sequential(*layers))
        self.classifier = nn.Conv2d(chans[0], num_classes, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        stack = []
        for block in self.enc:
            x = block(x)
            size = x.shape[-2:]
            x, idx = F.max_pool2d(x, 2, 2, return_indices=True)
            stack.append((idx, size))
        for block in self.dec:
            idx, size = stack.pop()
            x = block(F.max_unpool2d(x, idx, 2, 2, output_size=size))
        return self.classifier(x)

    def load_vgg16_bn(self) -> None:
        """Copy torchvision's ImageNet VGG16-BN convolutions into the encoder."""
        from torchvision.models import VGG16_BN_Weights, vgg16_bn

        features = vgg16_bn(weights=VGG16_BN_Weights.IMAGENET1K_V1).features
        src = [m for m in features if isinstance(m, (nn.Conv2d, nn.BatchNorm2d))]
        dst = [m for m in self.enc.modules() if isinstance(m, (nn.Conv2d, nn.BatchNorm2d))]
        for s, d in zip(src, dst):
            d.load_state_dict(s.state_dict(), strict=False)


def build(
    num_classes: int, in_channels: int = 3, width: int = 64, pretrained: bool = False
) -> nn.Module:
    model = SegNet(num_classes, in_channels, width)
    if pretrained:
        if width != 64 or in_channels != 3:
            raise ConfigError("pretrained segnet needs --width 64 and RGB input")
        model.load_vgg16_bn()
    return PadToMultiple(model, 32)
