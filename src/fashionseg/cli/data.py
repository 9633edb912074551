"""Data commands: masks, prepare, synth, stats (and bench, from a source checkout)."""

from __future__ import annotations

import sys
from pathlib import Path

from fashionseg.cli.options import add_instance_rule, add_overwrite
from fashionseg.errors import UsageError
from fashionseg.tasks import task_facts


def cmd_masks(args) -> None:
    from fashionseg.prepare.masks import write_masks

    n = write_masks(
        args.data, args.out, args.size, args.classes, args.strict, args.workers, args.overwrite
    )
    if n == 0:
        raise UsageError(f"{args.data}: no usable images; reasons in {args.out}/errors.csv")
    print(f"wrote {n} label maps to {args.out}")


def cmd_prepare(args) -> None:
    from fashionseg.prepare.cache import prepare

    cache = prepare(
        args.data, args.out, args.size, args.workers, args.keep_aspect, args.classes, args.strict,
        task=args.task, instance_rule=args.instances,
    )  # fmt: skip
    if len(cache) == 0:
        raise UsageError(f"{args.data}: no usable images; reasons in {args.out}/errors.csv")
    extra = ""
    if task_facts(args.task).instances:
        extra = f", {sum(map(len, cache.instances.values()))} instances"
    print(
        f"cache ready: {len(cache)} images at {cache.size[1]}x{cache.size[0]}{extra} in {args.out}"
    )


def cmd_synth(args) -> None:
    from fashionseg.synth.writer import synth

    synth(args.out, args.images, args.size, args.seed, args.workers)
    print(f"wrote {args.images} synthetic photos to {args.out}")


def cmd_stats(args) -> None:
    from fashionseg.experiments.stats import stats

    s = stats(args.data, args.out, overwrite=args.overwrite)
    print(
        f"{s['images']} images, {s['instances']} instances; summary in {Path(args.out) / 'summary.md'}"
    )


def cmd_bench(args) -> None:
    """The benchmark harness lives beside the package (``benchmarks/``, not in the wheel):
    imported only when run, from a source checkout."""
    try:
        import benchmarks
    except ImportError:
        checkout = Path(__file__).resolve().parents[3]
        if not (checkout / "benchmarks" / "__main__.py").is_file():
            raise UsageError(
                "bench runs from a source checkout of fashionseg: python -m benchmarks ..."
            ) from None
        sys.path.insert(0, str(checkout))
        import benchmarks
    benchmarks.main(args.rest)


def add_commands(sub) -> None:
    p = sub.add_parser(
        "masks", help="write one PNG label map per image (ClassId + 1, 0 = background)"
    )
    p.add_argument("data", help="data folder (Kaggle, COCO JSON or mask-folder layout)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--size", help="N or WxH; default: each image's own size")
    p.add_argument("--classes", choices=["all", "garments"], default="all")
    p.add_argument("--strict", action="store_true", help="stop at the first bad image (exit 2)")
    p.add_argument("--workers", type=int, help="processes (default: all cores)")
    add_overwrite(p)
    p.set_defaults(fn=cmd_masks)

    p = sub.add_parser("prepare", help="decode and resize once into a memory-mapped training cache")
    p.add_argument("data")
    p.add_argument("--out", required=True, help="cache folder (rerun to resume)")
    p.add_argument("--size", default="256", help="N or WxH (default 256)")
    p.add_argument("--workers", type=int)
    p.add_argument("--keep-aspect", action="store_true", help="letterbox instead of squashing")
    p.add_argument("--classes", choices=["all", "garments"], default="all")
    p.add_argument("--strict", action="store_true")
    p.add_argument(
        "--task",
        choices=["semantic", "instances"],
        default="semantic",
        help="instances: keep each photo's instances (masks, boxes, classes, attributes) too",
    )
    add_instance_rule(p)
    p.set_defaults(fn=cmd_prepare)

    p = sub.add_parser("synth", help="write a synthetic data set in the Kaggle layout")
    p.add_argument("out")
    p.add_argument("--images", type=int, default=100)
    p.add_argument("--size", default="256x384", help="WxH (default 256x384)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int)
    p.set_defaults(fn=cmd_synth)

    p = sub.add_parser(
        "bench", help="speed figures against the baselines (python -m benchmarks --help)",
        add_help=False,
    )  # fmt: skip
    p.add_argument("rest", nargs="...", help="the arguments of python -m benchmarks")
    p.set_defaults(fn=cmd_bench)

    p = sub.add_parser("stats", help="category, size and attribute statistics with figures")
    p.add_argument("data")
    p.add_argument("--out", required=True)
    add_overwrite(p)
    p.set_defaults(fn=cmd_stats)
