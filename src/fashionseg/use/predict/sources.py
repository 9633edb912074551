"""Which photos a run does: the photos found, their output stems, those still to do, and
the documents of those done before (``--skip-existing``), for the sinks."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from fashionseg.data.schema.predictions import SchemaError, read_prediction
from fashionseg.outputs import ErrorLog, output_stems


@dataclass(frozen=True)
class Work:
    """A run's photos.

    Attributes:
        total: the photos found.
        todo: the photos still to do, in order.
        stems: their output stems (``<stem>.png`` ...).
        done: (stem, document) of the photos whose JSON is already there.
    """

    total: int
    todo: list[Path]
    stems: list[str]
    done: list[tuple[str, dict]]

    @classmethod
    def of(cls, photos: list[Path], out: Path | None, skip_existing: bool) -> Work:
        """The photos still to do (all, unless ``skip_existing`` finds their ``<stem>.json``
        in ``out``), named by ``outputs.output_stems``. A damaged JSON is done again."""
        todo, stems, done = [], [], []
        for photo, stem in zip(photos, output_stems(photos)):
            path = out / f"{stem}.json" if out is not None else None
            if skip_existing and path is not None and path.is_file():
                try:
                    doc = read_prediction(path.read_bytes(), str(path), complete=True)
                    done.append((stem, doc))
                    continue
                except SchemaError as e:
                    print(f"{e}; predicting {photo} again", file=sys.stderr)
            todo.append(photo)
            stems.append(stem)
        return cls(len(photos), todo, stems, done)

    def summary(self, written: int, errors: ErrorLog, out) -> dict:
        """What a run returns: ``{"photos", "written", "skipped", "existing", "out"}``."""
        return {
            "photos": self.total,
            "written": written,
            "skipped": errors.count,
            "existing": self.total - len(self.todo),
            "out": str(out),
        }
