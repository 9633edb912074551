"""Scoring commands: evaluate (a model file) and score (label maps from any tool)."""

from __future__ import annotations

import json
import sys

from fashionseg.cli.options import add_instance_rule, add_min_area
from fashionseg.tasks import task_facts


def _write(metrics: dict, out: str | None) -> None:
    if out:
        from fashionseg.files import atomic_write

        atomic_write(out, json.dumps(metrics, indent=1))
        print(f"metrics written to {out}", file=sys.stderr)


def _task(model: str) -> str:
    """The task a model file was trained for: a checkpoint's config, or the metadata that
    ``export`` writes into an ONNX file (an exported instance model is evaluated as one)."""
    if model.lower().endswith(".onnx"):
        from fashionseg.inference.loading import onnx_info

        return onnx_info(model)["config"].get("task", "semantic")
    from fashionseg.checkpoint import load_checkpoint

    return load_checkpoint(model).get("config", {}).get("task", "semantic")


def cmd_evaluate(args) -> None:
    from fashionseg.evaluate.evaluate import evaluate_checkpoint
    from fashionseg.evaluate.metrics import format_table
    from fashionseg.outputs import output_file

    if args.out:
        output_file(args.out, [args.checkpoint])
    if task_facts(args.task or _task(args.checkpoint)).instances:
        from fashionseg.evaluate.instances.evaluate import evaluate_instances
        from fashionseg.evaluate.instances.score import format_instances
        from fashionseg.files import wanted_ids

        metrics = evaluate_instances(
            args.checkpoint, args.data, args.instances, wanted_ids(args.ids), args.batch_size,
            args.device, args.min_area,
        )  # fmt: skip
        print(format_instances(metrics, f"{args.checkpoint} on {args.data} (instances)"))
        _write(metrics, args.out)
        return
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
    from fashionseg.outputs import output_file

    if args.out:
        output_file(args.out, [args.predictions])
    title = f"{args.predictions} against {args.data}"
    if args.predictions.lower().endswith(".json"):
        from fashionseg.evaluate.instances.score import format_instances, score_results
        from fashionseg.files import wanted_ids

        metrics = score_results(args.predictions, args.data, args.instances, wanted_ids(args.ids))
        print(format_instances(metrics, title))
    else:
        from fashionseg.evaluate.metrics import format_table
        from fashionseg.evaluate.score import score_folder

        metrics = score_folder(args.predictions, args.data, ids_file=args.ids)
        print(format_table(metrics, title))
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
    p.add_argument(
        "--task",
        choices=["semantic", "instances"],
        help="instances: mask/box AP and Fashionpedia's IoU+F1 AP (default: the model's own "
        "task; a semantic model's instances are its label map's components)",
    )
    add_instance_rule(p)
    p.set_defaults(fn=cmd_evaluate)

    p = sub.add_parser(
        "score",
        help="score PNG label maps (ClassId + 1, 0 = background) or a COCO results JSON of "
        "instances, written by any tool",
    )
    p.add_argument(
        "predictions", help="folder of <ImageId>.png, or a COCO-format results .json (instances)"
    )
    p.add_argument("--data", required=True, help="data folder, or a COCO/Fashionpedia JSON")
    p.add_argument("--ids", help="file of ImageIds to score (default: all)")
    p.add_argument("--out", help="JSON file for the metrics")
    add_instance_rule(p)
    p.set_defaults(fn=cmd_score)
