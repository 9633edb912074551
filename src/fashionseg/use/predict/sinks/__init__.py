"""predict's sinks: the whole-run files, one module each (``base.py`` says what a sink is).

This list is the one place a sink is named: predict's keywords and flags, the output plan,
the checks and Ray's refusal all read it.
"""

from __future__ import annotations

from pathlib import Path

from fashionseg.use.predict.sinks import coco, kaggle, labelling, table
from fashionseg.use.predict.sinks.base import PhotoNaming, SinkContext, Sinks, SinkSpec

SINKS: dict[str, SinkSpec] = {
    s.name: s for s in (kaggle.SPEC, table.SPEC, coco.SPEC, labelling.LABELSTUDIO, labelling.CVAT)
}


def open_sinks(paths: dict[str, str | None], context: SinkContext) -> Sinks:
    """The named sinks (name -> path; None or empty: not written), opened, in list order."""
    return Sinks([SINKS[n].open(Path(paths[n]), context) for n in SINKS if paths.get(n)])


def split_sinks(changes: dict) -> tuple[dict, dict]:
    """Keyword arguments -> (sink name -> path, the rest): a sink's name (``table``,
    ``kaggle_csv`` ...) is never an option's, so one ``**changes`` carries both."""
    sinks = {k: v for k, v in changes.items() if k in SINKS}
    return sinks, {k: v for k, v in changes.items() if k not in SINKS}


def check_sinks(paths: dict[str, str | None], context: SinkContext) -> None:
    """Each named sink's check, before any photo is read."""
    for name in SINKS:
        if paths.get(name):
            SINKS[name].check(context)


__all__ = [
    "SINKS",
    "PhotoNaming",
    "SinkContext",
    "SinkSpec",
    "Sinks",
    "check_sinks",
    "open_sinks",
    "split_sinks",
]
