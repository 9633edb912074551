"""Flags that several commands share, defined once."""

from __future__ import annotations


def add_min_area(p) -> None:
    """``--min-area``: the fragment rule of predict, serve and evaluate."""
    from fashionseg.inference.fragments import DEFAULT_MIN_AREA

    p.add_argument(
        "--min-area",
        type=float,
        default=DEFAULT_MIN_AREA,
        metavar="SHARE",
        help="garment pieces smaller than this share of the photo join the garment around them "
        f"(default {DEFAULT_MIN_AREA}, i.e. {100 * DEFAULT_MIN_AREA:g}%%; 0: the model's label "
        "map as it is)",
    )


def add_tta_only(p) -> None:
    """``--tta`` and ``--only``: how predict and serve run the model, and what they keep."""
    p.add_argument("--tta", choices=["flip"], help="test-time augmentation")
    p.add_argument(
        "--only",
        metavar="GARMENTS",
        help="keep only these garments, names or ClassIds, comma-separated (dress,skirt; "
        "group names with --groups where a command has it)",
    )


def add_instance_rule(p) -> None:
    """``--instances``: how a source without instances gets them (``data/components.py``)."""
    from fashionseg.data.components import RULES

    p.add_argument(
        "--instances",
        choices=RULES,
        default="rows",
        help="ground-truth instances: the source's rows/annotations as they are (default), or "
        "each class's mask split into connected components (for semantic sources such as CCP)",
    )


def add_overwrite(p) -> None:
    """``--overwrite``: the commands that check an output plan (outputs.OutputPlan)."""
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace existing files fashionseg did not write (refused by default)",
    )
