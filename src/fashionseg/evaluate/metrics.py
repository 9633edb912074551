"""Every metric from one confusion matrix, accumulated on the device.

Label value 0 is background; 255 is ignored. ``cm[t, p]`` counts pixels of truth t predicted p.
"""

from __future__ import annotations

import torch

from fashionseg.data.categories import IGNORE

METRIC_KEYS = ("pixel_accuracy", "binary_iou", "miou", "mean_class_accuracy", "fw_iou")


class ConfusionMatrix:
    def __init__(self, num_classes: int, device: torch.device | str = "cpu"):
        self.num_classes = num_classes
        self.cm = torch.zeros(num_classes, num_classes, dtype=torch.int64, device=device)
        self.images = 0

    def update(self, preds: torch.Tensor, masks: torch.Tensor) -> None:
        """Add predictions (N, H, W) int and truth (N, H, W) int at the same resolution."""
        n = self.num_classes
        valid = masks != IGNORE
        idx = masks[valid].long() * n + preds[valid].long().clamp(0, n - 1)
        self.cm += torch.bincount(idx, minlength=n * n).reshape(n, n)
        self.images += preds.shape[0] if preds.dim() == 3 else 1

    def all_reduce(self) -> None:
        """Sum over the ranks of a distributed run."""
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            images = torch.tensor([self.images], device=self.cm.device)
            dist.all_reduce(self.cm)
            dist.all_reduce(images)
            self.images = int(images.item())

    def compute(self, names: list[str] | None = None) -> dict:
        return metrics_from_confusion(self.cm, names, self.images)


def metrics_from_confusion(
    cm: torch.Tensor, names: list[str] | None = None, images: int = 0
) -> dict:
    """The metric dict from a confusion matrix (C, C).

    ``miou`` averages IoU over classes whose union of prediction and truth is non-empty,
    background included; ``mean_class_accuracy`` averages recall over classes present in the
    truth; ``binary_iou`` is garment (any non-background class) versus background.
    """
    cm = cm.double().cpu()
    total = cm.sum()
    tp = cm.diag()
    truth = cm.sum(1)
    pred = cm.sum(0)
    union = truth + pred - tp
    iou = torch.where(union > 0, tp / union.clamp(min=1), torch.nan)
    seen = union > 0
    garment_tp = cm[1:, 1:].sum()
    garment_union = cm[1:, :].sum() + cm[0, 1:].sum()
    recall = tp[truth > 0] / truth[truth > 0]
    freq = truth / total.clamp(min=1)
    names = names or [str(i) for i in range(cm.shape[0])]
    return {
        "pixel_accuracy": float(tp.sum() / total) if total else 0.0,
        "binary_iou": float(garment_tp / garment_union) if garment_union else 0.0,
        "miou": float(iou[seen].mean()) if seen.any() else 0.0,
        "mean_class_accuracy": float(recall.mean()) if recall.numel() else 0.0,
        "fw_iou": float((freq[seen] * iou[seen]).sum()),
        "per_class_iou": {n: (None if not seen[i] else float(iou[i])) for i, n in enumerate(names)},
        "images": int(images),
        "pixels": int(total),
    }


def format_table(metrics: dict, title: str = "") -> str:
    """A small text table: the headline metrics, then per-class IoU for classes seen."""
    lines = [title] if title else []
    lines += [f"{k:>20}: {metrics[k]:.4f}" for k in METRIC_KEYS if k in metrics]
    lines.append(f"{'images':>20}: {metrics.get('images', 0)}   pixels: {metrics.get('pixels', 0)}")
    seen = {k: v for k, v in metrics.get("per_class_iou", {}).items() if v is not None}
    if seen:
        lines.append("  per-class IoU:")
        lines += [
            f"    {name[:34]:<34} {v:.4f}"
            for name, v in sorted(seen.items(), key=lambda kv: -kv[1])
        ]
    return "\n".join(lines)
