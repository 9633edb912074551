"""A model file as a callable: a ``.pt`` checkpoint rebuilt from its own config, or an exported
``.onnx`` file run by ONNX Runtime; both take uint8 photos (N, H, W, 3) and return logits.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from fashionseg.checkpoint import CheckpointError
from fashionseg.data.categories import CategoryTable
from fashionseg.models import build_instance_model, build_model
from fashionseg.models.normalize import to_float
from fashionseg.sizes import parse_size


class ImageModel(torch.nn.Module):
    """A segmentation model that takes photos as they come: uint8 (N, H, W, 3) -> logits.

    The ImageNet normalisation is part of the module, so an exported ONNX file needs no
    preprocessing knowledge from whoever runs it.
    """

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 (N, H, W, 3) -> float logits (N, C, H, W)."""
        return self.model(to_float(images))


class InstanceImageModel(torch.nn.Module):
    """An instance model that takes photos as they come: uint8 (N, H, W, 3) -> one detection
    dict per photo (``models/maskrcnn.py``); ``attribute_ids`` names its attribute outputs."""

    def __init__(self, model: torch.nn.Module, attribute_ids: list[int]):
        super().__init__()
        self.model = model
        self.attribute_ids = list(attribute_ids)

    def forward(self, images: torch.Tensor) -> list[dict]:
        batch = images.permute(0, 3, 1, 2).float() / 255
        return self.model(list(batch))


def _instance_model(state: dict, config: dict, categories: CategoryTable) -> InstanceImageModel:
    attribute_ids = state.get("attribute_ids", [])
    model = build_instance_model(
        config["model"],
        categories.num_classes,
        len(attribute_ids),
        parse_size(config["size"]),
        width=config["width"],
        encoder=config.get("encoder", ""),
    )
    model.load_state_dict(state["model"])
    return InstanceImageModel(model, attribute_ids)


def _torch_backend(state: dict, path: Path):
    try:
        config = state["config"]
        categories = CategoryTable.from_json(state["categories"])
        if config.get("task") == "instances":
            return config, categories, _instance_model(state, config, categories)
        model = build_model(
            config["model"],
            categories.num_classes,
            width=config["width"],
            encoder=config.get("encoder", ""),
        )
        model.load_state_dict(state["model"])
    except (KeyError, RuntimeError, ValueError, TypeError) as e:
        raise CheckpointError(
            f"{path}: checkpoint does not match its model ({str(e).splitlines()[0][:80]})"
        ) from None
    return config, categories, ImageModel(model)


class _OnnxRunner:
    """ONNX Runtime session with the call signature of :class:`ImageModel`."""

    def __init__(self, path: Path, threads: int | None):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
        # Idle ONNX Runtime threads spin by default, taking the cores that decode and write
        # beside the model (predict, serve); sleeping instead costs the model little.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self.session = ort.InferenceSession(
                str(path), opts, providers=[p for p in ort.get_available_providers() if p in _ORT]
            )
        except Exception as e:  # onnxruntime's own error types (Fail, InvalidGraph, ...)
            reason = (str(e).splitlines() or [type(e).__name__])[0][:120]
            raise CheckpointError(
                f"{path}: ONNX Runtime cannot run this model ({reason})"
            ) from None
        self.input = self.session.get_inputs()[0].name

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        out = self.session.run(None, {self.input: images.cpu().numpy()})[0]
        return torch.from_numpy(out)


class _OnnxInstanceRunner(_OnnxRunner):
    """An exported instance model (``use/export_instances.py``): one photo per run, one
    detection dict per photo back, as :class:`InstanceImageModel` gives them."""

    def __init__(self, path: Path, threads: int | None, attribute_ids: list[int]):
        super().__init__(path, threads)
        self.attribute_ids = list(attribute_ids)

    def __call__(self, images: torch.Tensor) -> list[dict]:
        outputs = []
        for image in images.cpu().numpy():
            found = self.session.run(None, {self.input: image[None]})
            outputs.append({k: torch.from_numpy(v) for k, v in zip(INSTANCE_OUTPUTS, found)})
        return outputs


# What an exported instance model returns, in order (one photo).
INSTANCE_OUTPUTS = ("boxes", "labels", "scores", "masks", "attributes")
# Providers tried in this order; CUDA is used only where onnxruntime-gpu provides it.
_ORT = ("CUDAExecutionProvider", "CPUExecutionProvider")
ONNX_META = "fashionseg"


def onnx_info(path: str | Path) -> dict:
    """What ``fashionseg export`` wrote into an ONNX file's metadata: ``config`` (the task
    included), ``categories`` and, for an instance model, ``attribute_ids``.

    Raises:
        CheckpointError: onnx missing, not an ONNX file, or not one fashionseg exported.
    """
    try:
        import onnx
    except ImportError:
        raise CheckpointError(
            f"{path}: reading ONNX models needs the deploy extra (pip install 'fashionseg[deploy]')"
        ) from None
    try:
        proto = onnx.load(str(path), load_external_data=False)
        meta = {p.key: p.value for p in proto.metadata_props}
        info = json.loads(meta[ONNX_META])
        if not isinstance(info["config"], dict):
            raise TypeError("config is not an object")
        CategoryTable.from_json(info["categories"])  # fails here, not in the caller
    except (KeyError, ValueError, TypeError, AttributeError):
        raise CheckpointError(f"{path}: not an ONNX model exported by fashionseg export") from None
    except Exception as e:  # onnx raises its own DecodeError for files that are not ONNX
        raise CheckpointError(f"{path}: not a readable ONNX file ({type(e).__name__})") from None
    return info


def _onnx_backend(path: Path, threads: int | None):
    info = onnx_info(path)
    config, categories = info["config"], CategoryTable.from_json(info["categories"])
    if config.get("task") == "instances":
        return config, categories, _OnnxInstanceRunner(path, threads, info.get("attribute_ids", []))
    return config, categories, _OnnxRunner(path, threads)
