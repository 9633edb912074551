"""The ``tune`` command: hyperparameter search over training configs (Optuna)."""

from __future__ import annotations

import sys


def cmd_tune(args) -> None:
    try:
        import optuna
        import sqlalchemy
    except ImportError:
        raise RuntimeError("tune needs Optuna: pip install 'fashionseg[tune]'") from None
    from .tune.search import TuneError, run_tune

    try:
        summary = run_tune(
            args.data,
            args.out,
            args.space,
            trials=args.trials,
            timeout=args.timeout,
            workers=args.workers,
            storage=args.storage,
            study_name=args.study_name,
            heartbeat=args.heartbeat,
            procs_per_trial=args.procs_per_trial,
        )
    except (optuna.exceptions.OptunaError, sqlalchemy.exc.SQLAlchemyError) as e:
        from .tune.storage import shown

        where = shown(args.storage) if args.storage else f"{args.out}/tune.db"
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise TuneError(f"{where}: {reason}") from None
    count = summary["counts"]
    print(
        f"{count['finished']} trials ({count['complete']} complete, {count['pruned']} pruned, "
        f"{count['failed']} failed)",
        file=sys.stderr,
    )
    if "best_value" in summary:
        print(f"best: trial {summary['best_trial']}, val mIoU {summary['best_value']:.4f}")
    for path in summary["files"]:
        print(path)


def add_tune_command(sub) -> None:
    p = sub.add_parser(
        "tune",
        help="hyperparameter search (Optuna): trials are run folders, pruned on val mIoU",
        description="Search training settings with Optuna. Every trial is a run folder "
        "DIR/trials/NNNN trained like `train`; rerun the same command to continue. Several "
        "machines share one study through --storage postgresql://...",
    )
    p.add_argument("--data", required=True, help="data folder or prepared cache")
    p.add_argument("--out", required=True, help="tune folder (rerun to continue)")
    p.add_argument("--space", required=True, help="search space YAML (see configs/tune-*.yaml)")
    p.add_argument(
        "--trials", type=int, default=20, help="finished trials the study should have in all"
    )
    p.add_argument(
        "--timeout", type=float, default=0.0, help="minutes after which no new trial starts"
    )
    p.add_argument(
        "--workers", type=int, default=1, help="trial processes here (one per GPU on GPUs)"
    )
    p.add_argument(
        "--storage", default="", help="RDB URL shared by machines (default: DIR/tune.db)"
    )
    p.add_argument("--study-name", default="", help="study in the storage (default: DIR's name)")
    p.add_argument(
        "--heartbeat",
        type=int,
        default=30,
        help="seconds between a trial's beats; silent for 3 beats = its worker died, retried",
    )
    p.add_argument(
        "--procs-per-trial",
        type=int,
        default=1,
        help="above 1: each trial is a torchrun DDP run of N processes (N GPUs each)",
    )
    p.set_defaults(fn=cmd_tune)
