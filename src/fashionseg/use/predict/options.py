"""How photos are segmented: predict's options, defined once and frozen at the edge (the
command line, ``fashionseg.Segmenter``, ``fashionseg.ray.segment``, serve's ``create_app``)
and read by every path below it. Outputs (the sinks: files, table, Kaggle CSV, COCO results, pre-annotations) are
not options: each path names those it writes."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

from fashionseg.inference.fragments import DEFAULT_MIN_AREA


@dataclass(frozen=True)
class PredictOptions:
    """The options of a prediction.

    Attributes:
        batch_size: photos per forward pass.
        device: "auto", "cpu" or "cuda" (PyTorch models; ONNX picks its own provider).
        tta: "flip" averages each photo with its mirror image.
        min_area: the fragment rule's share of the photo (0: the model's label map as it is).
        auto_orient: turn photos upright by their EXIF orientation.
        only: garments to keep, names or ClassIds, comma-separated (group names with groups).
        groups: body-region groups instead of categories.
        instances: list each photo's instances (an instance model always does).
        cutouts: write an RGBA cut-out per garment (per instance).
        feather: the cut-outs' soft edge, pixels.
        skip_existing: leave photos whose ``<stem>.json`` is already in the output folder.
        overwrite: replace files fashionseg did not write.
    """

    batch_size: int = 8
    device: str = "auto"
    tta: str | None = None
    min_area: float = DEFAULT_MIN_AREA
    auto_orient: bool = False
    only: str | None = None
    groups: bool = False
    instances: bool = False
    cutouts: bool = False
    feather: float = 0.0
    skip_existing: bool = False
    overwrite: bool = False

    @classmethod
    def of(cls, options: PredictOptions | None = None, **changes) -> PredictOptions:
        """``options`` (default: the defaults) with ``changes``, by option name.

        Raises:
            TypeError: a name that is not an option.
        """
        return replace(options or cls(), **changes)

    @classmethod
    def from_args(cls, args, base: PredictOptions | None = None) -> PredictOptions:
        """The options from parsed command-line flags of the same names; those a command has
        no flag for keep ``base``'s value (default: the defaults)."""
        given = {f.name: getattr(args, f.name) for f in fields(cls) if hasattr(args, f.name)}
        return replace(base or cls(), **given)
