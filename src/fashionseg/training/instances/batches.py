"""Batches of an instance cache as Mask R-CNN takes them: images (3, H, W) float in 0..1 and
one target dict per image (``boxes`` xyxy, ``labels`` ClassId + 1, ``masks`` (K, H, W) uint8,
``attributes`` (K, A) multi-hot over the run's attribute list)."""

from __future__ import annotations

import numpy as np
import torch

from fashionseg.data.rle import rle_decode
from fashionseg.prepare.cache import Cache


def attribute_vocabulary(cache: Cache, rows: np.ndarray) -> list[int]:
    """The attribute ids the training rows' instances carry, sorted: the head's outputs."""
    found = {
        a for r in rows.tolist() for inst in cache.instances.get(r, []) for a in inst["attributes"]
    }
    return sorted(found)


def targets_of(cache: Cache, row: int, attribute_ids: list[int]) -> dict:
    """One photo's target dict at the cache's size."""
    h, w = cache.size
    instances = cache.instances.get(row, [])
    column = {a: k for k, a in enumerate(attribute_ids)}
    masks = np.zeros((len(instances), h, w), dtype=np.uint8)
    attributes = np.zeros((len(instances), len(attribute_ids)), dtype=np.float32)
    for k, inst in enumerate(instances):
        masks[k] = rle_decode(inst["rle"], h, w)
        for a in inst["attributes"]:
            if a in column:
                attributes[k, column[a]] = 1
    return {
        "boxes": torch.tensor([i["box"] for i in instances], dtype=torch.float32).reshape(-1, 4),
        "labels": torch.tensor([i["class_id"] + 1 for i in instances], dtype=torch.int64),
        "masks": torch.from_numpy(masks),
        "attributes": torch.from_numpy(attributes),
    }


def hflip(image: torch.Tensor, target: dict) -> tuple[torch.Tensor, dict]:
    """The photo and its instances mirrored left to right."""
    width = image.shape[-1]
    boxes = target["boxes"].clone()
    boxes[:, [0, 2]] = width - target["boxes"][:, [2, 0]]
    return image.flip(-1), dict(target, boxes=boxes, masks=target["masks"].flip(-1))


def batch(
    cache: Cache,
    rows: list[int],
    attribute_ids: list[int],
    device: torch.device,
    gen: torch.Generator | None = None,
    flip: bool = False,
) -> tuple[list[torch.Tensor], list[dict]]:
    """Images and targets of cache ``rows`` on ``device``; with ``flip`` each photo is mirrored
    with probability 1/2, drawn from ``gen`` (the epoch's generator: the same on a resume)."""
    images, targets = [], []
    for row in rows:
        image = torch.from_numpy(np.array(cache.images[row])).permute(2, 0, 1)
        image = image.float() / 255
        target = targets_of(cache, row, attribute_ids)
        if flip and float(torch.rand((), generator=gen)) < 0.5:
            image, target = hflip(image, target)
        images.append(image.to(device))
        targets.append({k: v.to(device) for k, v in target.items()})
    return images, targets
