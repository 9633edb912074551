"""Pieces shared by several architectures."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def conv_bn_relu(cin: int, cout: int) -> nn.Sequential:
    """3x3 padded convolution, batch norm, ReLU: the block of U-Net and SegNet."""
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
    )


class PadToMultiple(nn.Module):
    """Pads the input to a multiple of ``multiple`` and crops the logits back.

    Encoders that halve the resolution k times need sides divisible by 2**k; padding here
    lets every model take any photo size and still return logits at the input size.
    """

    def __init__(self, model: nn.Module, multiple: int):
        super().__init__()
        self.model = model
        self.multiple = multiple

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        ph, pw = (-h) % self.multiple, (-w) % self.multiple
        # While exporting, sizes are symbolic: pad unconditionally (by zero where already a
        # multiple) so the graph stays valid for every size instead of the traced one.
        if torch.compiler.is_exporting() or ph or pw:
            mode = "reflect" if min(h, w) > self.multiple else "constant"
            x = F.pad(x, (0, pw, 0, ph), mode=mode)
        out = self.model(x)
        if isinstance(out, dict):
            out = out["out"]
        return out[..., :h, :w]
