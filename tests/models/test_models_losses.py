import numpy as np
import pytest
import torch
import torch.nn.functional as F

from fashionseg.models import build_model
from fashionseg.names import MODELS
from fashionseg.training.losses import build_loss, median_frequency_weights


@pytest.mark.parametrize("name", MODELS)
def test_logits_at_input_size(name):
    model = build_model(name, 5, width=4).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 45, 38)).shape == (1, 5, 45, 38)


def test_unknown_model_lists_valid_names():
    with pytest.raises(ValueError, match="unet, unet_resnet34"):
        build_model("unett", 3)


def test_segnet_is_vgg16_with_unpooling():
    from fashionseg.models.segnet import SegNet

    m = SegNet(4, width=4)
    assert sum(isinstance(x, torch.nn.Conv2d) for x in m.enc.modules()) == 13
    assert not any(isinstance(x, torch.nn.ConvTranspose2d) for x in m.modules())


def _data():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 4, 5, 6, generator=g)
    masks = torch.randint(0, 4, (2, 5, 6), generator=g)
    masks[0, 0, :3] = 255
    return logits, masks


def test_ce_matches_formula_and_ignores():
    logits, masks = _data()
    w = torch.tensor([0.5, 1.0, 2.0, 3.0])
    valid = masks != 255
    logp = F.log_softmax(logits, 1).permute(0, 2, 3, 1)[valid]
    t = masks[valid]
    expected = -(w[t] * logp[torch.arange(len(t)), t]).sum() / w[t].sum()
    assert torch.allclose(build_loss("ce", w)(logits, masks), expected)


def test_focal_matches_formula():
    logits, masks = _data()
    valid = masks != 255
    p = F.softmax(logits, 1).permute(0, 2, 3, 1)[valid]
    t = masks[valid]
    pt = p[torch.arange(len(t)), t]
    expected = (-((1 - pt) ** 2) * pt.log()).mean()
    assert torch.allclose(build_loss("focal", gamma=2.0)(logits, masks), expected, atol=1e-6)
    # gamma 0 is cross-entropy
    assert torch.allclose(
        build_loss("focal", gamma=0.0)(logits, masks),
        build_loss("ce")(logits, masks),
        atol=1e-6,
    )


def test_dice_matches_formula():
    logits, masks = _data()
    valid = masks != 255
    p = F.softmax(logits, 1).permute(0, 2, 3, 1)[valid]
    onehot = F.one_hot(masks[valid], 4).float()
    present = onehot.sum(0) > 0
    score = (2 * (p * onehot).sum(0) + 1) / (p.sum(0) + onehot.sum(0) + 1)
    expected = 1 - score[present].mean()
    assert torch.allclose(build_loss("dice")(logits, masks), expected, atol=1e-6)
    both = build_loss("ce+dice")(logits, masks)
    assert torch.allclose(both, expected + build_loss("ce")(logits, masks), atol=1e-6)


def test_perfect_logits_give_low_losses():
    masks = torch.randint(0, 3, (1, 8, 8))
    logits = F.one_hot(masks, 3).permute(0, 3, 1, 2).float() * 50
    for name in ("ce", "focal", "dice"):
        assert build_loss(name)(logits, masks) < 1e-3


def test_median_frequency_weights():
    masks = np.zeros((2, 4, 4), np.uint8)
    masks[0, :2] = 1  # class 1: 8 of 16 pixels of image 0
    masks[1, 0, 0] = 2  # class 2: 1 of 16 pixels of image 1
    w = median_frequency_weights(masks, 4)
    freq = np.array([23 / 32, 8 / 16, 1 / 16])
    assert np.allclose(w[:3], np.median(freq) / freq) and w[3] == 0
