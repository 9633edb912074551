"""``--labelstudio`` and ``--cvat``: pre-annotations for the labelling tools
(``use/labelling/``), filled photo by photo and written at the end."""

from __future__ import annotations

import json
from pathlib import Path

from fashionseg.errors import UsageError
from fashionseg.files import atomic_write
from fashionseg.use.predict.sinks.base import SinkContext, SinkSpec, WrittenAtClose


def labels_of(predictor) -> tuple[list[str], dict[int, str]]:
    """A model's labels as the tools get them: its category names (label value -> name,
    background first) and the attributes it gives (id -> name; empty: none). ``fashionseg
    label-config`` prints the tools' configuration from the same."""
    known = predictor.categories.attributes
    return predictor.categories.names(), {a: known.get(a, str(a)) for a in predictor.attribute_ids}


def check(context: SinkContext) -> None:
    """Labels are categories."""
    if context.options.groups:
        raise UsageError("labels are categories: leave out --groups with --labelstudio and --cvat")


class LabelStudioTasks(WrittenAtClose):
    """One Label Studio task per photo, its predictions one brush region per garment."""

    def __init__(self, path: Path, context: SinkContext):
        from fashionseg.data.schema.labelling import document_root

        self.path = path
        self.url_prefix = context.naming.url_prefix
        self.root = document_root(context.naming.photo_root)
        self.tasks: list[dict] = []

    def add(self, stem: str, doc: dict) -> None:
        from fashionseg.use.labelling import labelstudio

        ref = labelstudio.photo_reference(doc["image"]["path"], self.url_prefix, self.root)
        self.tasks.append(labelstudio.task(doc, stem, ref, f"fashionseg {doc['model']}"))

    def close(self) -> None:
        atomic_write(self.path, json.dumps(self.tasks))
        regions = sum(len(t["predictions"][0]["result"]) for t in self.tasks)
        self.written("Label Studio tasks", f"{len(self.tasks)} photos, {regions} results")


class CvatFile(WrittenAtClose):
    """CVAT for images 1.1: the labels and attributes declared, a mask per garment."""

    def __init__(self, path: Path, context: SinkContext):
        from fashionseg.data.schema.labelling import document_root
        from fashionseg.use.labelling import cvat

        self.path = path
        self.root = document_root(context.naming.photo_root)
        self.spec = cvat.label_spec(*labels_of(context.predictor))
        self.images: list[tuple[str, dict]] = []

    def add(self, stem: str, doc: dict) -> None:
        from fashionseg.use.labelling import cvat

        self.images.append((cvat.image_name(doc["image"]["path"], self.root), doc))

    def close(self) -> None:
        from fashionseg.use.labelling import cvat

        atomic_write(self.path, cvat.cvat_xml(self.images, self.spec))
        self.written("CVAT annotations", f"{len(self.images)} photos")


LABELSTUDIO = SinkSpec(
    name="labelstudio",
    metavar="TASKS.json",
    help="Label Studio tasks: one brush region per garment (per instance with --instances) "
    "with its score and attributes; `fashionseg label-config` prints the matching labelling "
    "configuration",
    open=LabelStudioTasks,
    check=check,
)
CVAT = SinkSpec(
    name="cvat",
    metavar="FILE.xml",
    help="the masks and attributes as CVAT for images 1.1 (CVAT's Upload annotations; "
    "Datumaro reads it too)",
    open=CvatFile,
    check=check,
)
