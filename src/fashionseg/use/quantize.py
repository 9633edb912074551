"""``fashionseg export --int8``: an ONNX model with 8-bit weights and activations.

Static quantization (ONNX Runtime's QDQ format, per-channel int8 weights, uint8 activations)
calibrated on the user's own photos. On CPUs it runs the convolutions in integer arithmetic:
1.6-2.0x faster than the float32 export on 2 AVX2 cores (docs/benchmarks.md). Labels can change
where two classes are close, so the export measures and reports how many pixels agree with the
float32 model on photos it did not calibrate on.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

from fashionseg.errors import UsageError
from fashionseg.files import temp_path
from fashionseg.inference.predictor import Predictor
from fashionseg.names import ONNX_OPSET
from fashionseg.use.export import compare, export_onnx, stamp

MAX_PHOTOS = 256  # calibration photos used at most


def quantize_int8(
    checkpoint: str | Path, out: str | Path, photos: list[Path], opset: int = ONNX_OPSET
) -> dict:
    """Export ``checkpoint`` to an int8 ONNX file calibrated on ``photos``.

    Three photos in four calibrate; every fourth is held out to measure agreement with the
    float32 export (with fewer than 4 photos all calibrate, and agreement is on them; with more
    than ``MAX_PHOTOS``, that many are picked evenly).

    Args:
        checkpoint: a fashionseg ``.pt`` checkpoint.
        out: the ``.onnx`` file to write (replaced only once quantization succeeded).
        photos: calibration photos, like those the model will see (32 or more is best).
        opset: ONNX opset version of the float32 export it starts from.

    Returns:
        ``{"path", "calibration_photos", "held_out_photos", "pixel_agreement",
        "max_abs_diff"}``, the last two against the float32 export on the held-out photos.
    """

    if not photos:
        raise UsageError("--int8 needs calibration photos: pass --calibration PHOTOS_OR_FOLDERS")
    if len(photos) > MAX_PHOTOS:  # min/max ranges settle long before; spread the pick
        photos = [photos[i] for i in np.linspace(0, len(photos) - 1, MAX_PHOTOS).astype(int)]
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = temp_path(out).with_suffix(".onnx")  # beside ``out``: the final move is a rename
    with tempfile.TemporaryDirectory(prefix="fashionseg-int8-") as tmp:
        float_file = Path(tmp) / "float32.onnx"
        export_onnx(checkpoint, float_file, opset)
        reference = Predictor(float_file)
        canvases = np.stack([reference.canvas(p) for p in photos])
        held = np.arange(len(canvases)) % 4 == 3
        # With fewer than 4 photos none is held out: agreement is then on the calibration set.
        calibrate = canvases[~held] if held.any() else canvases
        check_on = canvases[held] if held.any() else canvases
        print(
            f"quantizing to int8, calibrated on {len(calibrate)} photos ...",
            file=sys.stderr,
            flush=True,
        )
        try:
            quantize_onnx(float_file, partial, calibrate, reference)
            check = compare(reference, Predictor(partial), check_on)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    partial.replace(out)
    return {
        "path": str(out),
        "calibration_photos": int(len(calibrate)),
        "held_out_photos": int(held.sum()),
        **check,
    }


def quantize_onnx(
    float_file: Path, out: Path, canvases: np.ndarray, reference: Predictor | None = None
) -> None:
    """Statically quantize an exported float32 model (QDQ, per-channel int8 weights, uint8
    activations), calibrated with min/max ranges over ``canvases`` (N, H, W, 3) uint8.
    With ``reference`` (the float32 model's Predictor) the file gets its fashionseg metadata,
    marked ``precision: int8``."""
    import onnx
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    with tempfile.TemporaryDirectory(prefix="fashionseg-int8-") as tmp:
        prepared = Path(tmp) / "prepared.onnx"  # shapes inferred, constants folded
        quant_pre_process(str(float_file), str(prepared), skip_symbolic_shape=True)
        quantize_static(
            str(prepared),
            str(out),
            _reader(canvases),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            per_channel=True,
        )
    if reference is not None:
        proto = onnx.load(str(out))
        stamp(proto, reference, precision="int8")
        onnx.save(proto, str(out))


def _reader(canvases: np.ndarray):
    """ONNX Runtime's calibration reader over canvases (N, H, W, 3) uint8, one at a time."""
    from onnxruntime.quantization import CalibrationDataReader

    class Reader(CalibrationDataReader):
        def __init__(self):
            self._it = iter(canvases)

        def get_next(self) -> dict | None:
            canvas = next(self._it, None)
            return None if canvas is None else {"images": canvas[None]}

    return Reader()
