"""``--coco-results``: the run's instances in COCO's results format (``fashionseg score``
reads it)."""

from __future__ import annotations

import json
from pathlib import Path

from fashionseg.files import atomic_write
from fashionseg.use.predict.sinks.base import SinkContext, SinkSpec, WrittenAtClose


class CocoResults(WrittenAtClose):
    """The entries of every photo's instances, written at the end."""

    def __init__(self, path: Path, context: SinkContext | None = None):
        self.path = path
        self.entries: list[dict] = []

    def add(self, stem: str, doc: dict) -> None:
        from fashionseg.use.predict.instances import coco_entries

        self.entries += coco_entries(doc, stem)

    def close(self) -> None:
        atomic_write(self.path, json.dumps(self.entries))
        self.written("COCO results", f"{len(self.entries)} instances")


SPEC = SinkSpec(
    name="coco_results",
    metavar="FILE.json",
    help="the instances in COCO's results format (fashionseg score reads it); implies --instances",
    open=CocoResults,
    instances=True,
)
