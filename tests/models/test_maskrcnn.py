"""The Mask R-CNN's attribute head: what it sees of a box (its surroundings, its shape and its
fabric's pixels), and the model's forward pass."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest
import torch

from fashionseg.config import TrainConfig
from fashionseg.errors import ConfigError
from fashionseg.models import build_instance_model
from fashionseg.models.attributes import CONTEXT, _enlarged
from fashionseg.synth.painter import MIN_CONTRAST, _texture


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
    features, shapes, images = _flat_pyramid(1), [(64, 64)], torch.zeros(1, 3, 64, 64)
    optimizer = torch.optim.Adam(head.parameters(), lr=1e-2)
    for _ in range(150):
        loss = torch.nn.functional.binary_cross_entropy_with_logits(
            head(features, [boxes], shapes, images), target
        )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        predicted = head(features, [boxes], shapes, images).argmax(1)
    assert (predicted == labels).float().mean() > 0.95


def _fabrics(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` 64x64 photos, each a stripe, check or dot fabric synth would paint on a garment
    40 pixels across (colours far enough apart to be named), and their kinds 0-2."""
    photos, kinds, draw = [], [], seed * 10_000
    while len(photos) < n:
        draw += 1
        image, fabric = _texture(np.random.default_rng(draw), 64, 64, side=40)
        if fabric.kind in (1, 2, 3) and fabric.contrast >= MIN_CONTRAST:
            photos.append(torch.from_numpy(np.array(image)).permute(2, 0, 1).float() / 255)
            kinds.append(fabric.kind - 1)
    return torch.stack(photos), torch.tensor(kinds)


def test_the_head_tells_stripes_checks_and_dots_from_the_pixels_where_the_pyramid_cannot():
    # Same box, featureless pyramid: only the texture branch sees the fabric.
    head = _head(3)
    box = torch.tensor([[12.0, 12.0, 52.0, 52.0]])
    shapes = [(64, 64)]

    def logits(photos):
        return head(_flat_pyramid(len(photos)), [box] * len(photos), shapes * len(photos), photos)

    photos, kinds = _fabrics(150, seed=1)
    target = torch.nn.functional.one_hot(kinds, 3).float()
    optimizer = torch.optim.Adam(head.parameters(), lr=3e-3)
    for _ in range(150):
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits(photos), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    held_out, truth = _fabrics(60, seed=2)
    with torch.no_grad():
        accuracy = (logits(held_out).argmax(1) == truth).float().mean()
    assert accuracy > 0.7, accuracy  # chance: a third


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
        box = torch.tensor([[8.0, 8.0, 40.0, 56.0]])
        probs = torch.sigmoid(head(_flat_pyramid(1), [box], [(64, 64)], torch.rand(1, 3, 64, 64)))
    assert probs.shape == (1, 4) and torch.all(probs < 0.2)


def test_the_forward_pass_is_torchvisions_where_there_are_no_attributes():
    # The model overrides Mask R-CNN's forward only to hand the photos to the RoI heads.
    from torchvision.models.detection.generalized_rcnn import GeneralizedRCNN

    torch.manual_seed(0)
    model = build_instance_model("maskrcnn", 5, 0, (64, 64), width=8).eval()
    photos = [torch.rand(3, 64, 64), torch.rand(3, 64, 64)]
    with torch.no_grad():
        ours, theirs = model(photos), GeneralizedRCNN.forward(model, photos)
    for a, b in zip(ours, theirs):
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    model.train()
    targets = [{"boxes": torch.tensor([[4.0, 4.0, 40.0, 50.0]]), "labels": torch.tensor([2]),
                "masks": torch.ones(1, 64, 64, dtype=torch.uint8)}] * 2  # fmt: skip
    torch.manual_seed(1)
    ours = model(photos, targets)
    torch.manual_seed(1)
    theirs = GeneralizedRCNN.forward(model, photos, targets)
    assert ours.keys() == theirs.keys() and all(torch.equal(ours[k], theirs[k]) for k in ours)


def test_rois_per_image_reaches_the_sampler_of_the_roi_heads():
    model = build_instance_model("maskrcnn", 5, 2, (64, 64), width=8, rois_per_image=16)
    sampler = model.roi_heads.heads.fg_bg_sampler
    assert sampler.batch_size_per_image == 16 and sampler.positive_fraction == 0.25
    with pytest.raises(ConfigError, match="rois_per_image must be above 0"):
        TrainConfig(task="instances", model="maskrcnn", rois_per_image=0).validate()
