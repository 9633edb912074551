"""What a sink is: a whole-run file that predict fills photo by photo (the Kaggle CSV, the
catalogue table, COCO results, the labelling tools' files), declared once by its spec.

A sink module holds its :class:`SinkSpec` and its class; ``__init__.py`` lists the specs.
Everything else (predict's keyword arguments and flags, the output plan, the checks before
any work, which instances a run lists, what ``--ray`` refuses) reads the list, so a new sink
is its module, its line in the list and its test.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # the specs are read by the command line's parser: no model code here
    from fashionseg.inference.predictor import Predictor
    from fashionseg.use.predict.options import PredictOptions


@dataclass(frozen=True)
class PhotoNaming:
    """How whole-run files name the photos: by their path under ``photo_root`` (default:
    Label Studio's ``LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT``, else the current folder), or
    Label Studio tasks by ``url_prefix`` + that path (a bucket) instead of its local files."""

    url_prefix: str | None = None
    photo_root: str | Path | None = None


@dataclass(frozen=True)
class SinkContext:
    """What a sink is opened with: the run's model, its options and the photo naming."""

    predictor: Predictor
    options: PredictOptions
    naming: PhotoNaming = PhotoNaming()


class Sink(Protocol):
    """One whole-run file being filled."""

    def add(self, stem: str, doc: dict) -> None:
        """One photo's document (predict's JSON), under its output stem."""

    def close(self) -> None:
        """The run ended well: write the file (whole, or not at all)."""

    def abort(self) -> None:
        """The run failed: leave nothing half written."""


class WrittenAtClose:
    """A sink that keeps its entries and writes its file whole on close: after an error it
    has written nothing, so there is nothing to drop."""

    path: Path

    def abort(self) -> None:
        pass

    def written(self, what: str, count: str) -> None:
        """Say on stderr what was written where: ``COCO results: FILE (12 instances)``."""
        print(f"{what}: {self.path} ({count})", file=sys.stderr)


def _no_check(context: SinkContext) -> None:
    return None


@dataclass(frozen=True)
class SinkSpec:
    """A sink, declared once.

    Attributes:
        name: predict's keyword for its path, and (with dashes) its flag: ``kaggle_csv``.
        metavar: the flag's placeholder, ``FILE.csv``.
        help: the flag's help.
        open: (path, context) -> the sink.
        check: raises ``UsageError`` before any photo is read when the run cannot write it.
        instances: its entries are instances, so asking for it makes the run list them.
        ray: ``predict --ray`` writes it too.
    """

    name: str
    metavar: str
    help: str
    open: Callable[[Path, SinkContext], Sink]
    check: Callable[[SinkContext], None] = _no_check
    instances: bool = False
    ray: bool = False

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


class Sinks:
    """The sinks of one run, as a context manager: each photo's document goes to every one;
    on a clean exit all are written, after an error each drops what it holds."""

    def __init__(self, opened: list[Sink]):
        self.opened = opened

    def add(self, stem: str, doc: dict) -> None:
        """One photo's document, under its output stem (the key of its rows in every sink,
        so two photos of one name in two folders keep their rows apart)."""
        for sink in self.opened:
            sink.add(stem, doc)

    def __enter__(self) -> Sinks:
        return self

    def __exit__(self, kind, *_) -> None:
        for k, sink in enumerate(self.opened):
            if kind is not None:
                sink.abort()
                continue
            try:
                sink.close()
            except BaseException:  # one file could not be written: the unwritten ones drop theirs
                for rest in self.opened[k + 1 :]:
                    rest.abort()
                raise
