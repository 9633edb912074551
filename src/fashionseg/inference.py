"""A checkpoint turned into a function: photos in, label maps at each photo's own size out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .checkpoint import CheckpointError, load_checkpoint
from .data.categories import CategoryTable
from .data.compose import fit
from .data.prepare import parse_size
from .data.transforms import to_float
from .models import build_model


def upsample_argmax(
    logits: torch.Tensor, height: int, width: int, max_elements: int = 1 << 25
) -> torch.Tensor:
    """Bilinear-upsample logits (C, h, w) to (height, width) and take the argmax.

    Large photos are done in bands of rows so memory stays bounded; each band samples the
    same positions ``F.interpolate(..., align_corners=False)`` would.

    Returns:
        int64 labels (height, width).
    """
    c, h, w = logits.shape
    logits = logits.float()[None]
    if c * height * width <= max_elements:
        return F.interpolate(logits, (height, width), mode="bilinear", align_corners=False)[
            0
        ].argmax(0)
    band = max(1, max_elements // (c * width))
    xs = (torch.arange(width, device=logits.device) + 0.5) / width * 2 - 1
    # interpolate clamps source coordinates at the border; so does padding_mode="border".
    xs = xs * (w / max(w, 1))
    out = torch.empty(height, width, dtype=torch.int64, device=logits.device)
    for y0 in range(0, height, band):
        y1 = min(height, y0 + band)
        ys = (torch.arange(y0, y1, device=logits.device) + 0.5) / height * 2 - 1
        grid = torch.stack(torch.meshgrid(ys, xs, indexing="ij")[::-1], dim=-1)[None]
        sampled = F.grid_sample(
            logits, grid, mode="bilinear", padding_mode="border", align_corners=False
        )
        out[y0:y1] = sampled[0].argmax(0)
    return out


class Predictor:
    """Loads a checkpoint (model rebuilt from the file alone) and segments photos."""

    def __init__(self, checkpoint: str | Path, device: str = "auto"):
        state = load_checkpoint(checkpoint)
        try:
            config = state["config"]
            self.categories = CategoryTable.from_json(state["categories"])
            self.model = build_model(
                config["model"], self.categories.num_classes, width=config["width"]
            )
            self.model.load_state_dict(state["model"])
        except (KeyError, RuntimeError, ValueError) as e:
            raise CheckpointError(
                f"{checkpoint}: checkpoint does not match its model ({str(e).splitlines()[0][:80]})"
            ) from None
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = torch.device(device)
        self.model.to(self.device).eval()
        self.config = config
        self.size = parse_size(config["size"])
        self.keep_aspect = bool(config.get("keep_aspect", False))
        self.name = f"{config['model']} ({Path(checkpoint).name})"

    @torch.no_grad()
    def logits(self, images: np.ndarray) -> torch.Tensor:
        """Model input canvases (N, H, W, 3) uint8 -> logits (N, C, H, W) float."""
        x = to_float(torch.from_numpy(np.ascontiguousarray(images)).to(self.device))
        return self.model(x).float()

    def labels(self, logits: torch.Tensor, height: int, width: int) -> np.ndarray:
        """Logits of one canvas (C, h, w) -> label map (height, width) uint8 for the photo."""
        new_h, new_w, top, left = fit(height, width, *self.size, self.keep_aspect)
        crop = logits[:, top : top + new_h, left : left + new_w]
        return upsample_argmax(crop, height, width).to(torch.uint8).cpu().numpy()
