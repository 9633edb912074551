"""The instance task: Mask R-CNN (with its attribute head) on an instance cache, its losses
as torchvision's model returns them, validation by mask AP (``evaluate/instances``).

A resume continues bit for bit on the CPU: batches and flips come from the epoch's generator,
torchvision's RoI sampling from the global RNG, which the engine restores from last.pt.
"""

from __future__ import annotations

import torch

from fashionseg.config import TrainConfig
from fashionseg.evaluate.instances.validation import validate_instances
from fashionseg.models import build_instance_model
from fashionseg.training.build import Run, load_init_weights
from fashionseg.training.history import (
    INSTANCE_SELECTION_COLUMN,
    INSTANCE_VALIDATION_COLUMNS,
    RunData,
)
from fashionseg.training.instances.batches import attribute_vocabulary, batch
from fashionseg.training.loader import epoch_batches
from fashionseg.training.parts import EMA, Dist, amp_dtype, build_optimizer
from fashionseg.training.runfolder import open_run_data


class InstanceTask:
    """An instance run's data, losses and validation (``training/tasks/__init__.py``)."""

    name = "instances"
    selection = INSTANCE_SELECTION_COLUMN.removeprefix("val_")  # best.pt: the highest mask AP
    columns = INSTANCE_VALIDATION_COLUMNS
    scalars = ("mask_ap", "mask_ap50", "box_ap", "attribute_f1")  # TensorBoard's val/ curves

    def __init__(self, config: TrainConfig):
        self.config = config
        self.attribute_ids: list[int] = []

    def open_data(self, config: TrainConfig, out, dist_info: Dist):
        config, cache, train_idx, val_idx = open_run_data(config, out, dist_info, config.instances)
        self.config = config
        return config, RunData(cache, train_idx, val_idx)

    def build(self, data: RunData, device, state, dist_info: Dist) -> Run:
        config = self.config
        self.attribute_ids = (
            state["attribute_ids"] if state else attribute_vocabulary(data.cache, data.train_idx)
        )
        model = build_instance_model(
            config.model, data.num_classes, len(self.attribute_ids), data.cache.size,
            config.width, config.pretrained and state is None and not config.init,
            config.encoder, config.rois_per_image,
        )  # fmt: skip
        if config.init and state is None:
            load_init_weights(model, config.init)
        model.to(device)
        dtype = amp_dtype(config, device)
        optimizer = build_optimizer(config, [p for p in model.parameters() if p.requires_grad])
        scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)
        ema = EMA(model, config.ema) if config.ema > 0 else None
        train_model = model
        if dist_info.world > 1:
            from torch.nn.parallel import DistributedDataParallel

            ids = [device.index] if device.type == "cuda" else None
            train_model = DistributedDataParallel(model, device_ids=ids, find_unused_parameters=True)  # fmt: skip
        return Run(config, device, model, train_model, None, optimizer, scaler, dtype, ema)

    def start(self, run: Run, data: RunData, dist_info: Dist) -> None:
        pass

    def rows(self, data: RunData) -> int:
        return len(data.train_idx)

    def epoch(self, run: Run, data: RunData, epoch: int, gen, rank: int, world: int):
        rows = epoch_batches(data.train_idx, self.config.batch_size, gen, rank, world)
        return _Batches(rows, data, self.attribute_ids, run.device, gen, self.config.hflip)

    def losses(self, run: Run, batch, gen, step: int, total_steps: int):
        """Mask R-CNN's own losses (classifier, box, mask, objectness, RPN box, attributes)."""
        images, targets = batch
        device, dtype = run.device, run.dtype
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            losses = run.train_model(images, targets)
        return losses, len(images)

    def validate(self, run: Run, model, data: RunData, dist_info: Dist) -> dict:
        """Mask and box AP and the attribute F1 on rank 0 (the others wait)."""
        if dist_info.world > 1:
            torch.distributed.barrier()
        if not dist_info.main or not len(data.val_idx):
            return {}
        metrics = validate_instances(
            model, data.cache, data.val_idx, self.attribute_ids, run.device,
            self.config.batch_size, run.dtype,
        )  # fmt: skip
        metrics.pop("instances")
        return metrics

    def history_values(self, metrics: dict) -> dict:
        """The validation columns of history.csv (empty where not validated)."""
        return {col: metrics.get(col.removeprefix("val_")) for col in self.columns}

    def score(self, metrics: dict) -> float:
        return metrics.get("mask_ap") or 0.0

    def extras(self) -> dict:
        return {"attribute_ids": self.attribute_ids}

    def announce(self, data: RunData, device, world: int, resumed: int) -> str:
        config = self.config
        return (
            f"training {config.model} ({config.encoder or 'efficientnet_lite0'}) on "
            f"{len(data.train_idx)} images ({len(data.val_idx)} val) at {config.size}, "
            f"{len(self.attribute_ids)} attributes, {config.epochs} epochs, device {device}"
        )

    def line(self, row: dict, metrics: dict) -> str:
        f1 = metrics.get("attribute_f1")
        return (
            f"val mask AP {self.score(metrics):.4f}  AP50 {metrics.get('mask_ap50') or 0:.4f}  "
            f"attribute F1 {'-' if f1 is None else f'{f1:.4f}'}"
        )


class _Batches:
    """An epoch's batches of images and targets, made as the loop asks for them (the flips
    drawn from the epoch's generator in batch order, as before a resume)."""

    def __init__(self, rows, data: RunData, attribute_ids, device, gen, flip: bool):
        self.rows, self.data, self.attribute_ids = rows, data, attribute_ids
        self.device, self.gen, self.flip = device, gen, flip

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self):
        for rows in self.rows:
            yield batch(self.data.cache, rows, self.attribute_ids, self.device, self.gen, self.flip)
