"""The names of every registry, in one torch-free place: the config validates against them and
``--help`` lists them without importing torch. The models' names come from their specs
(``specs.py``), which the model registries are built from.
"""

from __future__ import annotations

from fashionseg.specs import LITE_ENCODERS, names_of

__all__ = ["LITE_ENCODERS", "MODELS", "INSTANCE_MODELS"]

# Segmentation and instance models: declared in specs.py, listed here for the registries.
MODELS = names_of("semantic")
INSTANCE_MODELS = names_of("instances")
# Tasks, and how sources without instances get them (data/components.py).
TASKS = ("semantic", "instances")
INSTANCE_RULES = ("rows", "components")
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
