"""The benchmark harness and the GPU scripts (not shipped in the wheel).

``python -m benchmarks SECTION`` (or ``fashionseg bench SECTION`` from a source checkout)
measures speed and memory against the baselines a user would otherwise write; ``sections.py``
runs them, one module per area (``data``, ``train``, ``infer``, ``predict``).
"""

from __future__ import annotations

import argparse


def main(argv: list[str] | None = None) -> None:
    """Parse the bench flags and run the sections."""
    from benchmarks.sections import SECTIONS, run_bench

    p = argparse.ArgumentParser(
        prog="python -m benchmarks", description="speed figures against the baselines"
    )
    p.add_argument("what", nargs="?", default="all", choices=[*SECTIONS, "all"])
    p.add_argument("--out", help="JSON file for the figures")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--quick", action="store_true", help="tiny sizes: a dry run of every path")
    p.add_argument(
        "--data", help="Kaggle-layout folder for the rle and predict sections (default: bundled)"
    )
    p.add_argument("--model", help="model for the predict section (default: the bundled one)")
    args = p.parse_args(argv)
    run_bench(
        args.what, args.out, device=args.device, quick=args.quick, data=args.data, model=args.model
    )
