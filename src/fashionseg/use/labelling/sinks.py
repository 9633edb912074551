"""predict's labelling sinks: ``--labelstudio`` (Label Studio tasks) and ``--cvat`` (CVAT for
images 1.1), filled photo by photo from predict's documents and written at the end."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

from fashionseg.data.schema.labelling import document_root
from fashionseg.files import atomic_write
from fashionseg.use.labelling import cvat, labelstudio


@dataclass(frozen=True)
class LabellingFiles:
    """Where predict writes pre-annotations, and how they name the photos.

    ``photo_root``: photos are named by their path under it (default: Label Studio's
    ``LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT``, else the current folder); ``url_prefix``: Label
    Studio tasks point at ``url_prefix`` + that path (a bucket) instead of its local files."""

    labelstudio: str | Path | None = None
    cvat: str | Path | None = None
    url_prefix: str | None = None
    photo_root: str | Path | None = None

    def __bool__(self) -> bool:
        return bool(self.labelstudio or self.cvat)


class LabellingSinks:
    """The documents of one predict run as Label Studio tasks and a CVAT file.

    Args:
        files: what to write.
        names: the model's categories (label value -> name, background first).
        attributes: the attributes the model gives (id -> name; empty: none).
    """

    def __init__(self, files: LabellingFiles, names: list[str], attributes: dict[int, str]):
        self.files = files
        self.names = names
        self.attributes = attributes
        self.root = document_root(files.photo_root)
        self.spec = cvat.label_spec(names, attributes)
        self.tasks: list[dict] = []
        self.images: list[tuple[str, dict]] = []

    @classmethod
    def of(cls, files: LabellingFiles, predictor) -> LabellingSinks:
        """The sinks for a model (``inference.predictor.Predictor``): its categories, and the
        attributes it gives."""
        known = predictor.categories.attributes
        attributes = {a: known.get(a, str(a)) for a in predictor.attribute_ids}
        return cls(files, predictor.categories.names(), attributes)

    def add(self, stem: str, doc: dict) -> None:
        """One photo's document, under its output stem."""
        path = doc["image"]["path"]
        if self.files.labelstudio:
            ref = labelstudio.photo_reference(path, self.files.url_prefix, self.root)
            self.tasks.append(labelstudio.task(doc, stem, ref, f"fashionseg {doc['model']}"))
        if self.files.cvat:
            self.images.append((cvat.image_name(path, self.root), doc))

    def close(self) -> None:
        """Write the files (each whole, or not at all)."""
        if self.files.labelstudio:
            atomic_write(self.files.labelstudio, json.dumps(self.tasks))
            regions = sum(len(t["predictions"][0]["result"]) for t in self.tasks)
            print(f"Label Studio tasks: {self.files.labelstudio} ({len(self.tasks)} photos, "
                  f"{regions} results)", file=sys.stderr)  # fmt: skip
        if self.files.cvat:
            atomic_write(self.files.cvat, cvat.cvat_xml(self.images, self.spec))
            print(f"CVAT annotations: {self.files.cvat} ({len(self.images)} photos)",
                  file=sys.stderr)  # fmt: skip
