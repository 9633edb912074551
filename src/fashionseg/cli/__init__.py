"""The ``fashionseg`` command: parse flags, build a config, call one function.

Each module of this folder adds one group of subcommands; heavy modules (torch, matplotlib)
are imported inside the handlers so that the data commands start fast. Errors a user can cause
(:class:`~fashionseg.errors.FashionsegError`, ``OSError``) are one line with exit status 2; any
other exception is a bug in fashionseg and shows its traceback, with exit status 1.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback

from fashionseg.errors import FashionsegError


def build_parser() -> argparse.ArgumentParser:
    from fashionseg.cli import data, datasets, evaluate, experiments, labelling, train, use

    parser = argparse.ArgumentParser(
        prog="fashionseg", description="Fine-grained segmentation of fashion apparel."
    )
    parser.epilog = "--debug anywhere on the line shows the full traceback of an error."
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in (data, datasets, train, evaluate, use, labelling, experiments):
        group.add_commands(sub)
    return parser


def user_message(error: BaseException) -> str:
    """One line for an error: the file and the problem where the error names a file."""
    if isinstance(error, OSError) and error.filename is not None:
        reason = error.strerror or type(error).__name__
        return f"{error.filename}: {reason}"
    text = str(error).strip()
    first = text.splitlines()[0] if text else type(error).__name__
    return first if len(first) <= 300 else first[:297] + "..."


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns its exit status (0 done, 2 a user error, 1 a bug, 130 Ctrl-C).

    ``--debug`` (anywhere on the line) shows the traceback of a user error too.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    args = build_parser().parse_args([a for a in argv if a != "--debug"])
    try:
        args.fn(args)
    except KeyboardInterrupt:
        print("interrupted; run the same command again to continue", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (``| head``): not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (FashionsegError, OSError) as e:
        if debug:
            raise
        print(f"fashionseg {args.command}: error: {user_message(e)}", file=sys.stderr)
        return 2
    except Exception as e:
        traceback.print_exc()
        print(
            f"fashionseg {args.command}: internal error: {user_message(e)} (a bug in "
            "fashionseg; please report it with the traceback above)",
            file=sys.stderr,
        )
        return 1
    return 0
