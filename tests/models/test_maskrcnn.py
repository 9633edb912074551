"""The Mask R-CNN's attribute head: what it sees of a box (its surroundings and its shape)."""

from __future__ import annotations

from collections import OrderedDict

import torch

from fashionseg.models import build_instance_model
from fashionseg.models.maskrcnn import CONTEXT, _enlarged


def _head(num_attributes: int = 3):
    torch.manual_seed(0)
    model = build_instance_model("maskrcnn", 5, num_attributes, (64, 64), width=8)
    return model.roi_heads.attribute_head


def _flat_pyramid(n: int, size: int = 64) -> OrderedDict:
    """Featureless pyramid maps (stride 8, 16, 32) of 16 channels: only geometry is left."""
    return OrderedDict(
        (name, torch.zeros(n, 16, size // s, size // s)) for name, s in zip("012", (8, 16, 32))
    )


def test_the_context_box_grows_about_the_centre_and_stays_in_the_photo():
    boxes = torch.tensor([[20.0, 20.0, 40.0, 30.0], [0.0, 50.0, 10.0, 64.0]])
    wide = _enlarged(boxes, (64, 64))
    assert torch.allclose(wide[0], torch.tensor([15.0, 17.5, 45.0, 32.5]))
    assert (wide[0, 2:] - wide[0, :2]).tolist() == [20.0 * CONTEXT, 10.0 * CONTEXT]
    assert wide[1].tolist() == [0.0, 46.5, 12.5, 64.0]  # clamped at the left and bottom edges


def test_the_head_tells_lengths_from_the_box_shape_where_the_features_show_nothing():
    # Three "hem lengths" that differ only in the box's height: a head on RoI-resampled features
    # alone sees the same map for all three; the box geometry lets it learn them.
    head = _head(3)
    heights = torch.tensor([16.0, 32.0, 56.0])
    labels = torch.arange(60) % 3
    x0 = torch.rand(60) * 20
    boxes = torch.stack([x0, torch.full((60,), 4.0), x0 + 12, 4.0 + heights[labels]], 1)
    target = torch.nn.functional.one_hot(labels, 3).float()
    features, shapes = _flat_pyramid(1), [(64, 64)]
    optimizer = torch.optim.Adam(head.parameters(), lr=1e-2)
    for _ in range(150):
        loss = torch.nn.functional.binary_cross_entropy_with_logits(
            head(features, [boxes], shapes), target
        )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        predicted = head(features, [boxes], shapes).argmax(1)
    assert (predicted == labels).float().mean() > 0.95


def test_a_model_without_attributes_has_no_attribute_head_and_lists_none():
    torch.manual_seed(0)
    model = build_instance_model("maskrcnn", 5, 0, (64, 64), width=8).eval()
    assert model.roi_heads.attribute_head is None
    assert not any("attribute" in name for name, _ in model.named_parameters())
    with torch.no_grad():
        out = model([torch.rand(3, 64, 64)])[0]
    assert out["attributes"].shape == (len(out["boxes"]), 0)


def test_the_head_starts_every_attribute_rare():
    head = _head(4)
    with torch.no_grad():
        probs = torch.sigmoid(
            head(_flat_pyramid(1), [torch.tensor([[8.0, 8.0, 40.0, 56.0]])], [(64, 64)])
        )
    assert probs.shape == (1, 4) and torch.all(probs < 0.2)
