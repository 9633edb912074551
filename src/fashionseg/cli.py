"""The ``fashionseg`` command: parse flags, build a config, call one function.

Heavy modules (torch, matplotlib) are imported inside the handlers so that the data commands
start fast.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


class UsageError(Exception):
    """A user mistake reported as one line with exit status 2."""


# --------------------------------------------------------------------------- data commands


def cmd_masks(args) -> None:
    from .data.masks import write_masks
    from .outputs import OutputError, output_dir

    # The data's own folders (photos, mask PNGs) and the data folder itself are never outputs.
    data = Path(args.data)
    if data.is_dir():
        if Path(args.out).resolve() == data.resolve():
            raise OutputError(f"{args.out}: is the data folder; choose a folder apart from it")
        output_dir(args.out, [p for p in data.iterdir() if p.is_dir()])

    n = write_masks(args.data, args.out, args.size, args.classes, args.strict, args.workers)
    if n == 0:
        raise UsageError(f"{args.data}: no usable images; reasons in {args.out}/errors.csv")
    print(f"wrote {n} label maps to {args.out}")


def cmd_prepare(args) -> None:
    from .data.prepare import prepare

    cache = prepare(
        args.data, args.out, args.size, args.workers, args.keep_aspect, args.classes, args.strict
    )
    if len(cache) == 0:
        raise UsageError(f"{args.data}: no usable images; reasons in {args.out}/errors.csv")
    print(f"cache ready: {len(cache)} images at {cache.size[1]}x{cache.size[0]} in {args.out}")


def cmd_synth(args) -> None:
    from .data.synth import synth

    synth(args.out, args.images, args.size, args.seed, args.workers)
    print(f"wrote {args.images} synthetic photos to {args.out}")


def cmd_stats(args) -> None:
    from .stats import stats

    s = stats(args.data, args.out)
    print(
        f"{s['images']} images, {s['instances']} instances; summary in {Path(args.out) / 'summary.md'}"
    )


def cmd_bench(args) -> None:
    from .bench import run_bench

    run_bench(
        args.what, args.out, device=args.device, quick=args.quick, data=args.data, model=args.model
    )


def _add_data_commands(sub) -> None:
    p = sub.add_parser(
        "masks", help="write one PNG label map per image (ClassId + 1, 0 = background)"
    )
    p.add_argument("data", help="data folder (Kaggle, COCO JSON or mask-folder layout)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--size", help="N or WxH; default: each image's own size")
    p.add_argument("--classes", choices=["all", "garments"], default="all")
    p.add_argument("--strict", action="store_true", help="stop at the first bad image (exit 2)")
    p.add_argument("--workers", type=int, help="processes (default: all cores)")
    p.set_defaults(fn=cmd_masks)

    p = sub.add_parser("prepare", help="decode and resize once into a memory-mapped training cache")
    p.add_argument("data")
    p.add_argument("--out", required=True, help="cache folder (rerun to resume)")
    p.add_argument("--size", default="256", help="N or WxH (default 256)")
    p.add_argument("--workers", type=int)
    p.add_argument("--keep-aspect", action="store_true", help="letterbox instead of squashing")
    p.add_argument("--classes", choices=["all", "garments"], default="all")
    p.add_argument("--strict", action="store_true")
    p.set_defaults(fn=cmd_prepare)

    p = sub.add_parser("synth", help="write a synthetic data set in the Kaggle layout")
    p.add_argument("out")
    p.add_argument("--images", type=int, default=100)
    p.add_argument("--size", default="256x384", help="WxH (default 256x384)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int)
    p.set_defaults(fn=cmd_synth)

    p = sub.add_parser("bench", help="speed figures against the straightforward baselines")
    p.add_argument(
        "what",
        nargs="?",
        default="all",
        choices=["rle", "prepare", "memory", "train", "infer", "serve", "predict", "all"],
    )
    p.add_argument("--out", help="JSON file for the figures")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--quick", action="store_true", help="tiny sizes: a dry run of every path")
    p.add_argument(
        "--data", help="Kaggle-layout folder for the rle and predict sections (default: bundled)"
    )
    p.add_argument("--model", help="model for the predict section (default: the bundled one)")
    p.set_defaults(fn=cmd_bench)

    p = sub.add_parser("stats", help="category, size and attribute statistics with figures")
    p.add_argument("data")
    p.add_argument("--out", required=True)
    p.set_defaults(fn=cmd_stats)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fashionseg", description="Fine-grained semantic segmentation of fashion apparel."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_data_commands(sub)
    from .cli_models import add_model_commands
    from .cli_tune import add_tune_command
    from .cli_use import add_use_commands

    add_model_commands(sub)
    add_tune_command(sub)
    add_use_commands(sub)
    return parser


def user_message(error: BaseException) -> str:
    """One line for an error: the file and the problem where the error names a file."""
    if isinstance(error, OSError) and error.filename is not None:
        reason = error.strerror or type(error).__name__
        return f"{error.filename}: {reason}"
    text = str(error).strip()
    if isinstance(error, KeyError):  # str(KeyError) is the bare key
        text = f"missing {text}"
    first = text.splitlines()[0] if text else type(error).__name__
    return first if len(first) <= 300 else first[:297] + "..."


def main(argv: list[str] | None = None) -> int:
    """Run one command. Errors a user can cause are one line on stderr with exit status 2;
    anything else is one line with status 1. ``--debug`` (anywhere) shows the traceback."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
    parser = build_parser()
    parser.epilog = "--debug anywhere on the line shows the full traceback of an error."
    args = parser.parse_args(argv)
    from PIL import Image

    from .data.formats import DataFormatError
    from .data.parallel import StrictError
    from .errors import FashionsegError

    user_errors = (
        FashionsegError,
        StrictError,
        DataFormatError,
        UsageError,
        ValueError,  # DataError, CheckpointError, PretrainedError, UnicodeDecodeError, ...
        OSError,  # missing, existing, too long, not a folder, permission, ...
        EOFError,  # a truncated .gz
        RuntimeError,  # TrainingError and torch's complaints about a file
        Image.DecompressionBombError,
    )
    try:
        args.fn(args)
    except KeyboardInterrupt:
        print("interrupted; run the same command again to continue", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (``| head``): not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as e:
        if debug:
            raise
        code = 2 if isinstance(e, user_errors) else 1
        hint = "" if code == 2 else " (rerun with --debug for the traceback)"
        print(f"fashionseg {args.command}: error: {user_message(e)}{hint}", file=sys.stderr)
        return code
    return 0
