"""What this machine offers a command: the cores it may use and the device ``auto`` means, in
one place (containers limit a process's CPUs below ``os.cpu_count()``).

torch is imported only inside the functions that need it, so the light commands stay light.
"""

from __future__ import annotations

import os


def available_cores() -> int:
    """The CPUs this process may run on (its affinity mask), at least 1."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def resolve_device(name: str = "auto") -> str:
    """``auto`` -> ``cuda`` where a GPU is visible, else ``cpu``; other names pass through."""
    if name != "auto":
        return name
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def to_device(t, device):
    """A small CPU tensor to ``device`` without making the host wait for the GPU.

    A plain ``.to`` waits for all queued GPU work. ``non_blocking`` alone is not enough from
    ordinary (pageable) memory, where the driver may still synchronise with the stream to stage
    the copy; from pinned memory the copy is truly asynchronous.
    """
    if device.type == "cuda":
        t = t.pin_memory()
    return t.to(device, non_blocking=True)
