"""Request batching: concurrent requests share one forward pass.

Requests hand their model canvas to a queue; one thread takes whatever has arrived (up to
``max_batch``, waiting at most ``max_wait`` seconds for company) and runs the model once.
Under load this turns eight single-photo passes into one pass of eight, and the model never
runs on two threads at once.
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future

import numpy as np

from fashionseg.inference.predictor import Predictor


class Batcher:
    """Runs ``predictor.logits`` (with ``tta``) on batches gathered from concurrent callers."""

    def __init__(
        self,
        predictor: Predictor,
        max_batch: int = 8,
        max_wait: float = 0.005,
        tta: str | None = None,
    ):
        self.predictor = predictor
        self.tta = tta
        self.max_batch = max(1, max_batch)
        self.max_wait = max_wait
        self.queue: queue.Queue[tuple[np.ndarray, Future]] = queue.Queue()
        self.batches = 0
        self.thread = threading.Thread(target=self._loop, name="fashionseg-batcher", daemon=True)
        self.thread.start()

    def submit(self, canvas: np.ndarray) -> Future:
        """Queue one canvas (H, W, 3) uint8; the future gives its logits (C, H, W) on CPU."""
        fut: Future = Future()
        self.queue.put((canvas, fut))
        return fut

    def _loop(self) -> None:
        while True:
            items = [self.queue.get()]
            try:
                while len(items) < self.max_batch:
                    items.append(self.queue.get(timeout=self.max_wait))
            except queue.Empty:
                pass
            try:
                logits = self.predictor.logits(np.stack([c for c, _ in items]), tta=self.tta).cpu()
                self.batches += 1
            except Exception as e:  # a failed pass fails its requests, never the thread
                for _, fut in items:
                    fut.set_exception(e)
                continue
            for (_, fut), lg in zip(items, logits):
                fut.set_result(lg)
