"""Everything a predict run writes, declared and checked before any work
(``outputs.OutputPlan``): each photo's files (``write.PHOTO_FILES``), the error log and the
sinks named."""

from __future__ import annotations

from pathlib import Path

from fashionseg.outputs import OutputPlan, output_file
from fashionseg.use.predict.sinks import SINKS
from fashionseg.use.predict.write import PHOTO_FILES


def plan_outputs(
    out: Path | None,
    inputs,
    stems: list[str],
    cutouts: bool,
    overwrite: bool,
    sinks: dict[str, str | Path | None],
) -> None:
    """Refuse the run as a whole, before any work, when two outputs land on one path, one
    lands on an input, or one replaces a file of the user's (``overwrite`` allows that).

    Args:
        out: the output folder (None: no per-photo files).
        inputs: the photos and folders given.
        stems: the output stems of the photos to do.
        cutouts: each photo gets a folder of cut-outs.
        overwrite: replace files fashionseg did not write.
        sinks: sink name -> path (None: not written).
    """
    plan = OutputPlan(out, inputs, overwrite, "predict")
    if out is not None:
        plan.add(out / "errors.csv", "the error log")
        for stem in stems:
            for suffix, what in PHOTO_FILES:
                plan.add(out / f"{stem}{suffix}", f"{what} of photo {stem!r}")
            if cutouts:
                plan.add(out / stem, f"the cut-outs of photo {stem!r}")
    for name, spec in SINKS.items():
        if sinks.get(name):
            output_file(sinks[name])
            plan.add(sinks[name], spec.flag, named=True)
    plan.check()
    plan.commit()
