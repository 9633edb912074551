"""``fashionseg export``: a checkpoint as an ONNX file that ONNX Runtime (or anything) can run.

The exported graph takes photos the way they come, uint8 (N, H, W, 3) with dynamic batch and
size, and returns logits (N, C, H, W). The training config and the category table ride along
as metadata, so ``predict`` and ``serve`` accept the ``.onnx`` file in place of the ``.pt``.
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import numpy as np
import torch

from fashionseg.checkpoint import CheckpointError
from fashionseg.errors import UsageError
from fashionseg.files import temp_path
from fashionseg.inference.loading import ONNX_META
from fashionseg.inference.predictor import Predictor
from fashionseg.names import ONNX_OPSET

# Sizes the exported graph accepts; the lower bound keeps every encoder's padding valid.
MIN_SIDE, MAX_SIDE = 64, 4096


def export_onnx(checkpoint: str | Path, out: str | Path, opset: int = ONNX_OPSET) -> dict:
    """Export a checkpoint to ONNX and check it against PyTorch on a test canvas.

    Args:
        checkpoint: a fashionseg ``.pt`` checkpoint.
        out: the ``.onnx`` file to write (replaced only once the export succeeded).
        opset: ONNX opset version.

    Returns:
        ``{"path", "max_abs_diff", "pixel_agreement"}`` of the check.
    """
    try:
        import onnx
        import onnxruntime  # noqa: F401  (checked here so the error comes before the export)
    except ImportError:
        raise CheckpointError(
            "export needs the deploy extra: pip install 'fashionseg[deploy]'"
        ) from None
    out = Path(out)
    if out.suffix.lower() != ".onnx":
        raise UsageError(f"{out}: the output file must end in .onnx")
    predictor = Predictor(checkpoint, device="cpu")
    if predictor.lists_instances:
        from fashionseg.use.export_instances import export_instances

        out.parent.mkdir(parents=True, exist_ok=True)
        return export_instances(predictor, out, opset, stamp)
    model = predictor.model.eval()
    # The example must lie inside the dynamic range (a model trained at 32 px still exports).
    h, w = (max(MIN_SIDE, side) for side in predictor.size)
    # Two canvases: with a batch of one, export would specialise the batch dimension to 1.
    example = torch.from_numpy(np.stack([_test_canvas(h, w, seed) for seed in (0, 1)]))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(out).with_suffix(".onnx")  # ONNX Runtime wants the suffix
    print(f"exporting {predictor.name} to {out} (opset {opset}) ...", file=sys.stderr)
    try:
        program = to_onnx(model, example, opset)
        proto = program.model_proto
        stamp(proto, predictor)
        onnx.save(proto, str(tmp))
        check = compare(predictor, Predictor(tmp), example.numpy())
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)  # a failed export leaves nothing behind
    return {"path": str(out), **check}


# Config keys that hold paths of the training machine: a shipped model keeps their last part.
PATH_KEYS = ("data", "out", "unlabelled", "init", "train_list", "val_list")


def without_paths(config: dict) -> dict:
    """The config with every path reduced to its file or folder name: an exported model holds
    no path of the machine that trained it (its card gives the command)."""
    return {k: Path(v).name if k in PATH_KEYS and v else v for k, v in config.items()}


def stamp(proto, predictor: Predictor, **extra) -> None:
    """Write the model's config (paths reduced to names) and categories (and ``extra``) as
    fashionseg metadata, replacing any there; :class:`Predictor` reads them back."""
    config = without_paths(predictor.config)
    info = {"config": config, "categories": predictor.categories.to_json(), **extra}
    del proto.metadata_props[:]
    entry = proto.metadata_props.add()
    entry.key, entry.value = ONNX_META, json.dumps(info)


def to_onnx(model: torch.nn.Module, example: torch.Tensor, opset: int = ONNX_OPSET):
    """The ONNX program of an :class:`ImageModel` with dynamic batch, height and width.

    Args:
        model: takes uint8 images (N, H, W, 3), returns logits (N, C, H, W).
        example: uint8 (N, H, W, 3) with N >= 2 (a batch of one would be specialised to 1).
        opset: ONNX opset version.
    """
    dims = {
        0: torch.export.Dim("batch", min=1, max=1024),
        1: torch.export.Dim("height", min=MIN_SIDE, max=MAX_SIDE),
        2: torch.export.Dim("width", min=MIN_SIDE, max=MAX_SIDE),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.onnx.export(
            model,
            (example,),
            input_names=["images"],
            output_names=["logits"],
            dynamic_shapes={"images": dims},
            opset_version=opset,
            dynamo=True,
            verbose=False,
        )


def _test_canvas(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A deterministic photo-like canvas (H, W, 3) uint8: smooth gradients plus noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([yy * 255 / h, xx * 255 / w, (yy + xx) * 127 / (h + w)], -1)
    return (base + rng.normal(0, 20, base.shape)).clip(0, 255).astype(np.uint8)


def compare(a: Predictor, b: Predictor, canvases: np.ndarray) -> dict:
    """Largest logit difference and share of equal argmax labels of two models."""
    la, lb = a.logits(canvases).cpu(), b.logits(canvases).cpu()
    return {
        "max_abs_diff": float((la - lb).abs().max()),
        "pixel_agreement": float((la.argmax(1) == lb.argmax(1)).float().mean()),
    }
