"""Experiment commands: the study, the demo and the hyperparameter search (tune)."""

from __future__ import annotations

import sys
from pathlib import Path

from fashionseg.errors import UsageError


def cmd_study(args) -> None:
    from fashionseg.experiments.study import StudyConfig, run_study

    sizes = args.sizes.split(",") if args.sizes else None
    cfg = StudyConfig.load(args.config, epochs=args.epochs, width=args.width, sizes=sizes)
    report = run_study(args.data, args.out, cfg)
    print(f"report: {report}")


def cmd_demo(args) -> None:
    import time
    from importlib import resources

    from fashionseg.experiments.stats import stats
    from fashionseg.experiments.study import StudyConfig, run_study

    t0 = time.time()
    sample = str(resources.files("fashionseg") / "sample" / "ccp")
    out = Path(args.out)
    print(
        f"[demo] data statistics of the bundled sample ({sample}) -> {out / 'stats'}",
        file=sys.stderr,
    )
    stats(sample, out / "stats")
    config = str(resources.files("fashionseg") / "configs" / "demo.yaml")
    print(f"[demo] a small study on 48 real photos ({config})", file=sys.stderr)
    report = run_study(sample, out / "study", StudyConfig.load(config, epochs=args.epochs))
    from fashionseg.bundled import bundled_model
    from fashionseg.use.analyze import analyze
    from fashionseg.use.predict.folder import predict

    # The study's toy models show the pipeline; the photos are segmented by the bundled model,
    # so the analysis page shows what a trained model sees.
    model = bundled_model()
    print(
        f"[demo] the bundled model ({model.name}) on the photos -> {out / 'predict'}",
        file=sys.stderr,
    )
    predict(model, [Path(sample) / "train"], out / "predict", device="cpu")
    page = analyze(out / "predict", out / "analysis")
    print(f"[demo] done in {(time.time() - t0) / 60:.1f} min")
    print(f"report: {report.resolve()}")
    print(f"collection analysis: {page.resolve()}")


def cmd_tune(args) -> None:
    try:
        import optuna
        import sqlalchemy
    except ImportError:
        raise UsageError("tune needs Optuna: pip install 'fashionseg[tune]'") from None
    from fashionseg.experiments.tune.search import TuneError, run_tune

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
        from fashionseg.experiments.tune.storage import shown

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


def add_commands(sub) -> None:
    p = sub.add_parser(
        "study", help="the grid of runs, top-k re-run at the second size, test scores and a report"
    )
    p.add_argument("--data", required=True, help="data folder")
    p.add_argument("--out", required=True, help="study folder (rerun to resume)")
    p.add_argument(
        "--config", help="study YAML (models, losses, optimizers, schedules, seeds, sizes, ...)"
    )
    p.add_argument("--epochs", type=int)
    p.add_argument("--width", type=int)
    p.add_argument("--sizes", help="comma-separated, e.g. 256,512")
    p.set_defaults(fn=cmd_study)

    p = sub.add_parser("demo", help="statistics and a small study on the bundled real photos")
    p.add_argument("--out", default="demo-out")
    p.add_argument("--epochs", type=int)
    p.set_defaults(fn=cmd_demo)

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
