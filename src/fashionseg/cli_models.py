"""Subcommands that need torch: train, evaluate, score, models."""

from __future__ import annotations

import json
import sys
from pathlib import Path

# What --resume may change: more (or fewer) epochs, and where and how fast it runs.
RESUME_FLAGS = {"epochs", "workers", "device", "tensorboard"}


def cmd_train(args) -> None:
    from .cli import UsageError
    from .config import TrainConfig, load_config
    from .training.engine import resume_config, train

    flags = {
        k: getattr(args, k)
        for k in TrainConfig.__dataclass_fields__
        if getattr(args, k, None) is not None
    }
    if args.resume:
        config = resume_config(args.resume)
        fixed = sorted(set(flags) - RESUME_FLAGS - {"out"})
        if fixed or args.config:
            names = ", ".join("--" + k.replace("_", "-") for k in fixed) or "--config"
            raise UsageError(
                f"--resume continues {args.resume} as it was started; {names} cannot change "
                f"(allowed: {', '.join('--' + k.replace('_', '-') for k in sorted(RESUME_FLAGS))})"
            )
        for key, value in flags.items():
            setattr(config, key, value)
        config.out = str(args.resume)  # the folder named, even if config.yaml says otherwise
        train(config, resume=True)
        return
    config = load_config(args.config, **flags)
    if not config.data:
        raise ValueError("--data is required (a cache or a data folder)")
    train(config, overwrite=args.overwrite)


def cmd_evaluate(args) -> None:
    from .evaluate import evaluate_checkpoint
    from .outputs import output_file
    from .training.metrics import format_table

    if args.out:
        output_file(args.out, [args.checkpoint])

    metrics = evaluate_checkpoint(
        args.checkpoint,
        args.data,
        ids_file=args.ids,
        batch_size=args.batch_size,
        device=args.device,
        tta=args.tta,
    )
    print(format_table(metrics, f"{args.checkpoint} on {args.data}"))
    _write(metrics, args.out)


def cmd_score(args) -> None:
    from .evaluate import score_folder
    from .outputs import output_file
    from .training.metrics import format_table

    if args.out:
        output_file(args.out)

    metrics = score_folder(args.predictions, args.data, ids_file=args.ids)
    print(format_table(metrics, f"{args.predictions} against {args.data}"))
    _write(metrics, args.out)


def _write(metrics: dict, out: str | None) -> None:
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(metrics, indent=1))
        print(f"metrics written to {out}", file=sys.stderr)


def cmd_study(args) -> None:
    from .study import StudyConfig, run_study

    sizes = args.sizes.split(",") if args.sizes else None
    cfg = StudyConfig.load(args.config, epochs=args.epochs, width=args.width, sizes=sizes)
    report = run_study(args.data, args.out, cfg)
    print(f"report: {report}")


def cmd_demo(args) -> None:
    import time
    from importlib import resources

    from .stats import stats
    from .study import StudyConfig, run_study

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
    from .bundled import bundled_model
    from .use.analyze import analyze
    from .use.predict.run import predict

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


def cmd_models(args) -> None:
    from .models import list_models

    print("\n".join(list_models()))


def _train_flags(p) -> None:
    from .config import CHOICES, TrainConfig

    p.add_argument("--config", help="YAML file of settings; flags override it")
    p.add_argument("--resume", metavar="RUN", help="continue an interrupted run folder")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="start over in an --out folder that holds a run (its checkpoints are removed)",
    )
    for name, field in TrainConfig.__dataclass_fields__.items():
        flag = "--" + name.replace("_", "-")
        kind = type(field.default)
        if kind is bool:
            p.add_argument(flag, dest=name, action=argparse_bool(), default=None)
        else:
            p.add_argument(flag, dest=name, type=kind, default=None, choices=CHOICES.get(name))


def argparse_bool():
    import argparse

    return argparse.BooleanOptionalAction


def add_model_commands(sub) -> None:
    p = sub.add_parser(
        "train", help="train a model (flags override --config; --resume RUN continues)"
    )
    _train_flags(p)
    p.set_defaults(fn=cmd_train)

    p = sub.add_parser("evaluate", help="score a checkpoint on a data set at full resolution")
    p.add_argument("checkpoint")
    p.add_argument("--data", required=True, help="data folder (full resolution) or cache")
    p.add_argument("--ids", help="file of ImageIds to score (default: all)")
    p.add_argument("--out", help="JSON file for the metrics")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--device", default="auto")
    p.add_argument("--tta", choices=["flip"], help="test-time augmentation")
    p.set_defaults(fn=cmd_evaluate)

    p = sub.add_parser(
        "score", help="score PNG label maps (ClassId + 1, 0 = background) written by any tool"
    )
    p.add_argument("predictions", help="folder of <ImageId>.png")
    p.add_argument("--data", required=True)
    p.add_argument("--ids", help="file of ImageIds to score (default: all)")
    p.add_argument("--out", help="JSON file for the metrics")
    p.set_defaults(fn=cmd_score)

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

    p = sub.add_parser("models", help="list the registered models")
    p.set_defaults(fn=cmd_models)
