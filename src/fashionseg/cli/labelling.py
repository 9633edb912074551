"""Subcommands of the labelling loop: select (which photos next) and label-config (the
labelling tools' configuration for a model's categories)."""

from __future__ import annotations

from fashionseg.cli.options import add_overwrite


def cmd_select(args) -> None:
    from fashionseg.cli.use import split_model
    from fashionseg.use.labelling.sheet import select_photos

    model, photos = split_model(args.inputs)
    picks = select_photos(
        model, photos, args.budget, args.out, sheet=args.sheet, batch_size=args.batch_size,
        device=args.device, overwrite=args.overwrite,
    )  # fmt: skip
    for pick in picks[:10]:
        print(f"{pick.rank:>4}  {pick.photo.uncertainty:.3f}  {pick.photo.path}")
    if len(picks) > 10:
        print(f"  ... {len(picks) - 10} more")
    print(f"{len(picks)} photos -> {args.out} (contact sheet: {args.sheet or 'beside it, .html'})")


def cmd_label_config(args) -> None:
    import json

    from fashionseg.bundled import bundled_model
    from fashionseg.inference.predictor import Predictor
    from fashionseg.use.labelling import cvat, labelstudio
    from fashionseg.use.predict.sinks.labelling import labels_of

    # The very names and attributes predict's sinks write for this model.
    names, attributes = labels_of(Predictor(args.model or bundled_model(), "cpu"))
    if args.tool == "cvat":
        print(json.dumps(cvat.label_spec(names, attributes), indent=1))
    else:
        print(labelstudio.labelling_config(names, attributes), end="")


def add_commands(sub) -> None:
    p = sub.add_parser(
        "label-config",
        help="the labelling configuration matching a model's pre-annotations: Label Studio's "
        "XML (default) or CVAT's labels JSON",
    )
    p.add_argument("model", nargs="?", help="checkpoint or exported model; default: bundled")
    p.add_argument("--tool", choices=("labelstudio", "cvat"), default="labelstudio")
    p.set_defaults(fn=cmd_label_config)

    p = sub.add_parser(
        "select",
        help="which photos to label next: the model's least sure, rare garments favoured; a "
        "list and a contact sheet",
    )
    p.add_argument(
        "inputs",
        nargs="+",
        metavar="[MODEL] PHOTOS_OR_FOLDERS",
        help="an optional model (.pt / .onnx; default: the bundled one), then the photos",
    )
    p.add_argument("--budget", type=int, required=True, help="how many photos to pick")
    p.add_argument("--out", required=True, metavar="PICKS.txt", help="the picks, one path a line")
    p.add_argument("--sheet", metavar="FILE.html", help="the contact sheet (default: --out .html)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--device", default="auto")
    add_overwrite(p)
    p.set_defaults(fn=cmd_select)
