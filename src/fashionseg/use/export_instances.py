"""``fashionseg export`` of an instance model: torchvision's Mask R-CNN through the TorchScript
exporter (its data-dependent shapes are outside what ``torch.export`` takes), with a parity
check against PyTorch in ONNX Runtime on a real photo.

The graph takes one photo, uint8 (1, H, W, 3) of any size, and returns ``boxes`` (K, 4),
``labels`` (K,), ``scores`` (K,), ``masks`` (K, 1, H, W) and ``attributes`` (K, A);
``predict`` and ``serve`` run the ``.onnx`` file as they run the ``.pt``.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import torch

from fashionseg.errors import FashionsegError
from fashionseg.files import temp_path
from fashionseg.inference.loading import INSTANCE_OUTPUTS
from fashionseg.inference.predictor import Predictor

# The photos the parity check runs on (from the bundled sample).
_SAMPLE = Path(__file__).resolve().parents[1] / "sample" / "ccp" / "train"
# The export traces on the first photo; parity is checked on both, because a size the tracer
# froze (a number of detections) shows only on a photo other than the traced one.
CHECK_PHOTOS = (_SAMPLE / "ccp0003.jpg", _SAMPLE / "ccp0001.jpg")


class ExportError(FashionsegError, RuntimeError):
    """A model that cannot be exported, with the reason."""


class _OnePhoto(torch.nn.Module):
    """The instance model of a Predictor as a graph of one photo -> five tensors."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor):
        out = self.model(images)[0]
        return tuple(out[k] for k in INSTANCE_OUTPUTS)


def export_instances(predictor: Predictor, out: Path, opset: int, stamp) -> dict:
    """Export ``predictor``'s instance model to ``out`` and compare it with PyTorch.

    Returns:
        ``{"path", "detections", "max_abs_diff", "pixel_agreement"}`` of the check on both
        ``CHECK_PHOTOS`` (detections: [PyTorch, ONNX] per photo; the worst difference and
        agreement).

    Raises:
        ExportError: the exporter or ONNX Runtime refused the graph (predict keeps the .pt).
    """
    import onnx

    model = _OnePhoto(predictor.model).eval()
    canvases = [torch.from_numpy(predictor.canvas(p)[None].copy()) for p in CHECK_PHOTOS]
    canvas = canvases[0]
    tmp = temp_path(out).with_suffix(".onnx")
    axes = {"images": {1: "height", 2: "width"}, **{k: {0: "found"} for k in INSTANCE_OUTPUTS}}
    print(f"exporting {predictor.name} to {out} (opset {opset}, TorchScript) ...", file=sys.stderr)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                model, (canvas,), str(tmp), input_names=["images"],
                output_names=list(INSTANCE_OUTPUTS), dynamic_axes=axes, opset_version=opset,
                dynamo=False,
            )  # fmt: skip
        proto = onnx.load(str(tmp))
        stamp(proto, predictor, attribute_ids=predictor.attribute_ids)
        onnx.save(proto, str(tmp))
        exported = Predictor(tmp)
        checks = [compare_instances(predictor, exported, c.numpy()) for c in canvases]
        check = {
            "detections": [c["detections"] for c in checks],
            "max_abs_diff": max(c["max_abs_diff"] for c in checks),
            "pixel_agreement": min(c["pixel_agreement"] for c in checks),
        }
        tmp.replace(out)
    except FashionsegError:
        raise
    except Exception as e:  # the exporter and ONNX Runtime raise many kinds
        reason = (str(e).splitlines() or [type(e).__name__])[0][:160]
        raise ExportError(
            f"{predictor.name}: this instance model cannot be exported to ONNX ({reason}); "
            "predict and serve run the .pt on PyTorch"
        ) from None
    finally:
        tmp.unlink(missing_ok=True)
    return {"path": str(out), **check}


def compare_instances(a: Predictor, b: Predictor, canvas: np.ndarray) -> dict:
    """Detections of two instance models on one canvas: their number, the largest
    difference of boxes and scores, and the agreement of their painted label maps."""
    h, w = canvas.shape[1:3]
    outs = [p.logits(canvas)[0] for p in (a, b)]
    maps = [p.labels(dict(o), h, w) for p, o in zip((a, b), outs)]
    same = len(outs[0]["scores"]) == len(outs[1]["scores"])
    diff = float("inf")
    if same:
        gaps = [(outs[0][k].float() - outs[1][k].float()).abs() for k in ("boxes", "scores")]
        diff = max((float(g.max()) for g in gaps if g.numel()), default=0.0)
    return {
        "detections": [len(o["scores"]) for o in outs],
        "max_abs_diff": diff,
        "pixel_agreement": float((maps[0] == maps[1]).mean()),
    }
