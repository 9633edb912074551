"""The instance model's training throughput alone: Mask R-CNN (with the attribute head) stepped
on batches already on the device (images, boxes, masks, attributes drawn once), so the
project's end-to-end rate (``train --task instances``, its ``images_per_second``) can be read
against it.

    python -m benchmarks.instance_throughput [--size 640x960] [--batch 8] [--steps 20]
        [--device cuda] [--amp bf16] [--width 64]

Prints one JSON line: images/s of the model's training steps (forward, losses, backward,
AdamW), after warm-up.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from fashionseg.models import build_instance_model
from fashionseg.sizes import parse_size


def synthetic_batch(batch: int, h: int, w: int, classes: int, attributes: int, device, seed=0):
    """``batch`` photos with 7 boxes each (Fashionpedia's mean) and their masks."""
    gen = torch.Generator().manual_seed(seed)
    images, targets = [], []
    for _ in range(batch):
        images.append(torch.rand(3, h, w, generator=gen))
        x0 = torch.rand(7, generator=gen) * w * 0.6
        y0 = torch.rand(7, generator=gen) * h * 0.6
        boxes = torch.stack([x0, y0, x0 + w * 0.3, y0 + h * 0.3], 1).floor()
        masks = torch.zeros(7, h, w, dtype=torch.uint8)
        for k, (a, b, c, d) in enumerate(boxes.int().tolist()):
            masks[k, b:d, a:c] = 1
        targets.append(
            {"boxes": boxes, "labels": torch.randint(1, classes, (7,), generator=gen),
             "masks": masks, "attributes": (torch.rand(7, attributes, generator=gen) < 0.05).float()}
        )  # fmt: skip
    return [i.to(device) for i in images], [
        {k: v.to(device) for k, v in t.items()} for t in targets
    ]


def measure(size: str, batch: int, steps: int, device: str, amp: str, width: int) -> dict:
    h, w = parse_size(size)
    dev = torch.device(device)
    model = build_instance_model("maskrcnn", 47, 294, (h, w), width=width).to(dev).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    images, targets = synthetic_batch(batch, h, w, 47, 294, dev)
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(amp)

    def step():
        with torch.autocast(dev.type, dtype=dtype, enabled=dtype is not None):
            loss = sum(model(images, targets).values())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for _ in range(min(3, steps)):  # warm-up: kernels chosen, memory pools filled
        step()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    return {"size": size, "batch": batch, "amp": amp, "device": device,
            "model_images_per_second": round(batch * steps / seconds, 2)}  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", default="640x960")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--amp", default="bf16", choices=["bf16", "fp16", "none"])
    p.add_argument("--width", type=int, default=64)
    args = p.parse_args(argv)
    print(json.dumps(measure(args.size, args.batch, args.steps, args.device, args.amp, args.width)))


if __name__ == "__main__":
    main()
