"""The input scale every model sees: uint8 photos -> ImageNet-normalised float.

An encoder whose weights expect another scale converts inside the model (``LiteInput``), so
training, prediction, export and serving all feed this one.
"""

from __future__ import annotations

import functools

import torch

from fashionseg.machine import to_device

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, H, W, 3) -> normalised float (N, 3, H, W) (ImageNet statistics)."""
    x = images.permute(0, 3, 1, 2).float().div_(255)
    if torch.compiler.is_compiling() or torch.compiler.is_exporting():
        # Inside a trace the statistics must be constants of the graph: a cached tensor made
        # here would be a fake tensor, and one made earlier would be captured by identity.
        stats = torch.tensor([MEAN, STD], device=x.device).view(2, 1, 3, 1, 1)
        return (x - stats[0]) / stats[1]
    mean, std = _mean_std(x.device)
    return (x - mean) / std


@functools.cache
def _mean_std(device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    # Made once per device, outside any trace: a fresh copy every step would be a
    # host-to-device transfer each time.
    stats = to_device(torch.tensor([MEAN, STD]), device).view(2, 1, 3, 1, 1)
    return stats[0], stats[1]
