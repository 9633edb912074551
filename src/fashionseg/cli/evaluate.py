"""Scoring commands: evaluate (a model file) and score (label maps from any tool)."""

from __future__ import annotations

import json
import sys

from fashionseg.cli.options import add_min_area


def _write(metrics: dict, out: str | None) -> None:
    if out:
        from fashionseg.files import atomic_write

        atomic_write(out, json.dumps(metrics, indent=1))
        print(f"metrics written to {out}", file=sys.stderr)


def cmd_evaluate(args) -> None:
    from fashionseg.evaluate.evaluate import evaluate_checkpoint
    from fashionseg.evaluate.metrics import format_table
    from fashionseg.outputs import output_file

    if args.out:
        output_file(args.out, [args.checkpoint])
    metrics = evaluate_checkpoint(
        args.checkpoint,
        args.data,
        ids_file=args.ids,
        batch_size=args.batch_size,
        device=args.device,
        tta=args.tta,
        min_area=args.min_area,
    )
    print(format_table(metrics, f"{args.checkpoint} on {args.data}"))
    _write(metrics, args.out)


def cmd_score(args) -> None:
    from fashionseg.evaluate.metrics import format_table
    from fashionseg.evaluate.score import score_folder
    from fashionseg.outputs import output_file

    if args.out:
        output_file(args.out)
    metrics = score_folder(args.predictions, args.data, ids_file=args.ids)
    print(format_table(metrics, f"{args.predictions} against {args.data}"))
    _write(metrics, args.out)


def add_commands(sub) -> None:
    p = sub.add_parser("evaluate", help="score a checkpoint on a data set at full resolution")
    p.add_argument("checkpoint")
    p.add_argument("--data", required=True, help="data folder (full resolution) or cache")
    p.add_argument("--ids", help="file of ImageIds to score (default: all)")
    p.add_argument("--out", help="JSON file for the metrics")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--device", default="auto")
    p.add_argument("--tta", choices=["flip"], help="test-time augmentation")
    add_min_area(p)
    p.set_defaults(fn=cmd_evaluate)

    p = sub.add_parser(
        "score", help="score PNG label maps (ClassId + 1, 0 = background) written by any tool"
    )
    p.add_argument("predictions", help="folder of <ImageId>.png")
    p.add_argument("--data", required=True)
    p.add_argument("--ids", help="file of ImageIds to score (default: all)")
    p.add_argument("--out", help="JSON file for the metrics")
    p.set_defaults(fn=cmd_score)
