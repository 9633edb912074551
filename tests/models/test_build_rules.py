"""build_model runs the specs' encoder rule itself (it builds without a config)."""

import pytest

from fashionseg.errors import ConfigError
from fashionseg.models import build_model


def test_build_model_refuses_an_encoder_its_spec_does_not_take():
    with pytest.raises(ConfigError, match="model segnet has a fixed encoder"):
        build_model("segnet", 5, width=4, encoder="efficientnet_lite0")
    with pytest.raises(ConfigError, match="'resnet50' is not a unet backbone"):
        build_model("unet", 5, width=4, encoder="resnet50")
