"""The attribute head of the Attribute-Mask R-CNN (``maskrcnn.py``): one sigmoid per attribute
for each box, from the feature pyramid around the box, the photo's own pixels inside it and
the box's geometry.

Input: the pyramid ``features`` (dict of (N, C, h, w)), ``boxes`` (one (K, 4) xyxy tensor per
image, at the model's input size), the images' sizes and the normalised batch ``images``
(N, 3, H, W); output: attribute logits (sum of K, A).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# The attribute head sees a box grown by this factor (its surroundings), plus GEOMETRY numbers
# of the box itself, and starts every attribute at PRIOR_LOGIT (a probability of 5%).
CONTEXT = 1.5
GEOMETRY = 7
PRIOR_LOGIT = -2.944
# It also reads the photo's own pixels inside the box at TEXTURE x TEXTURE: the pyramid's
# finest level has a stride of 8, too coarse for a fabric's stripes, checks or dots.
TEXTURE = 32
# And the column of the photo through the box, top to bottom, at COLUMN (rows, columns): where
# the box sits on the figure (a hem against the legs and feet, a sleeve against the arm and
# hand), which neither the box nor its near surroundings show.
COLUMN = (24, 6)


class AttributeHead(nn.Module):
    """One sigmoid per attribute for each box, from what surrounds it as well as what it holds.

    A garment's attributes hang on context and proportions the box head's 7x7 features lose: a
    hem's length shows against the legs below it, a top's sleeves lie beside its box, and the
    RoI resampling erases the box's size and shape. So the head pools a box enlarged by
    ``CONTEXT`` at 14x14, keeps the layout through small convolutions and a flattened map, and
    adds the box's geometry (corners, size and aspect, relative to the image). A texture branch
    reads the (normalised) photo inside the box at full resolution, for the fabric's pattern,
    and a column branch the pyramid through the box from the photo's top to its bottom, for
    lengths measured against the body.
    """

    def __init__(self, levels: list[str], channels: int, hidden: int, num_attributes: int):
        super().__init__()
        from torchvision.ops import MultiScaleRoIAlign

        self.pool = MultiScaleRoIAlign(levels, 14, 2)
        self.column_pool = MultiScaleRoIAlign(levels, COLUMN, 2)
        # Half the pyramid's channels: this runs on every positive RoI, as the mask head does.
        half = channels // 2
        self.convs = _halving(channels, half)
        self.column_convs = _halving(channels, half)
        column = half * ((COLUMN[0] + 1) // 2) * ((COLUMN[1] + 1) // 2)
        # Photo pixels (3, TEXTURE, TEXTURE) to (32, TEXTURE / 4, TEXTURE / 4), then pooled.
        self.texture = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(16, 32, 3, stride=2, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(32, 32, 3, stride=2, padding=1),
            nn.ReLU(inplace=True),
        )
        texture = 2 * 32
        self.fc = nn.Linear(half * 49 + column + texture + GEOMETRY, hidden)
        self.predictor = nn.Linear(hidden, num_attributes)
        # Start every attribute at a rare prior: most garments lack most attributes, and a
        # start at 0.5 would spend the first steps unlearning them.
        nn.init.constant_(self.predictor.bias, PRIOR_LOGIT)

    def forward(
        self, features, boxes: list[torch.Tensor], image_shapes, images: torch.Tensor
    ) -> torch.Tensor:
        """Attribute logits (sum of len(boxes), A) for ``boxes`` (xyxy at the model's input
        size) on the pyramid ``features`` and the normalised batch ``images`` (N, 3, H', W')
        the pyramid was computed from."""
        from torchvision.ops import roi_align

        wide = [_enlarged(b, shape) for b, shape in zip(boxes, image_shapes)]
        x = self.convs(self.pool(features, wide, image_shapes)).flatten(1)
        strips = [_column(b, shape) for b, shape in zip(boxes, image_shapes)]
        column = self.column_convs(self.column_pool(features, strips, image_shapes)).flatten(1)
        # No gradient flows into the photo, so this RoIAlign costs no backward pass.
        pixels = roi_align(images.to(x.dtype), boxes, TEXTURE, 1.0, 2, aligned=True)
        # Each box's pixels standardised: a pattern is what repeats, whatever its colours.
        mean = pixels.mean((2, 3), keepdim=True)
        pixels = (pixels - mean) / (pixels.std((2, 3), keepdim=True) + 0.05)
        # Mean and max over the box: a pattern is the same wherever on the garment it is seen.
        texture = self.texture(pixels)
        texture = torch.cat([texture.mean((2, 3)), texture.amax((2, 3))], 1)
        geometry = torch.cat([_geometry(b, shape) for b, shape in zip(boxes, image_shapes)])
        parts = [x, column, texture, geometry.to(x.dtype)]
        hidden = F.relu(self.fc(torch.cat(parts, 1)))
        return self.predictor(hidden)


def _halving(channels: int, half: int) -> nn.Sequential:
    """Two 3x3 convolutions to ``half`` channels, the second at stride 2 (a map's layout kept
    at half its size)."""
    return nn.Sequential(
        nn.Conv2d(channels, half, 3, padding=1),
        nn.ReLU(inplace=True),
        nn.Conv2d(half, half, 3, stride=2, padding=1),
        nn.ReLU(inplace=True),
    )


def _enlarged(boxes: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """``boxes`` (K, 4) grown by ``CONTEXT`` about their centres, inside the image."""
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    half = (boxes[:, 2:] - boxes[:, :2]) * CONTEXT / 2
    h, w = shape
    low = (centre - half).clamp(min=0)
    high = torch.minimum(centre + half, boxes.new_tensor([w, h]))
    return torch.cat([low, high], 1)


def _column(boxes: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """``boxes`` (K, 4) widened by ``CONTEXT`` about their centres (inside the image) and
    stretched over the image's full height."""
    wide = _enlarged(boxes, shape)
    return torch.stack(
        [
            wide[:, 0],
            torch.zeros_like(wide[:, 1]),
            wide[:, 2],
            torch.full_like(wide[:, 3], shape[0]),
        ],
        1,
    )


def _geometry(boxes: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """(K, GEOMETRY): corners and size relative to the image, and the log aspect ratio."""
    h, w = shape
    scaled = boxes / boxes.new_tensor([w, h, w, h])
    size = (scaled[:, 2:] - scaled[:, :2]).clamp(min=1e-3)
    aspect = torch.log(size[:, 1:] * h / (size[:, :1] * w))
    return torch.cat([scaled, size, aspect], 1)
