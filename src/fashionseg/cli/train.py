"""Training commands: train (new, --resume, --overwrite) and models."""

from __future__ import annotations

import argparse
from dataclasses import replace

from fashionseg.errors import UsageError

# What --resume may change: more (or fewer) epochs, and where and how fast it runs.
RESUME_FLAGS = {"epochs", "workers", "device", "tensorboard"}


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def cmd_train(args) -> None:
    from fashionseg.config import TrainConfig, load_config
    from fashionseg.training.engine import resume_config, train

    flags = {
        k: getattr(args, k)
        for k in TrainConfig.__dataclass_fields__
        if getattr(args, k, None) is not None
    }
    if args.resume:
        config = resume_config(args.resume)
        fixed = sorted(set(flags) - RESUME_FLAGS - {"out"})
        if fixed or args.config:
            names = ", ".join(_flag(k) for k in fixed) or "--config"
            allowed = ", ".join(_flag(k) for k in sorted(RESUME_FLAGS))
            raise UsageError(
                f"--resume continues {args.resume} as it was started; {names} cannot change "
                f"(allowed: {allowed})"
            )
        # The folder named, even if its config.yaml says otherwise (it may have been moved).
        config = replace(config, **flags, out=str(args.resume)).validate()
        train(config, resume=True)
        return
    config = load_config(args.config, **flags)
    if not config.data:
        raise UsageError("--data is required (a cache or a data folder)")
    train(config, overwrite=args.overwrite)


def cmd_models(args) -> None:
    from fashionseg.names import MODELS

    print("\n".join(sorted(MODELS)))


def _train_flags(p) -> None:
    """One flag per TrainConfig field, named, typed and with the choices of the config."""
    from fashionseg.config import CHOICES, TrainConfig

    p.add_argument("--config", help="YAML file of settings; flags override it")
    p.add_argument("--resume", metavar="RUN", help="continue an interrupted run folder")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="start over in an --out folder that holds a run (its checkpoints are removed)",
    )
    for name, field in TrainConfig.__dataclass_fields__.items():
        kind = type(field.default)
        if kind is bool:
            p.add_argument(
                _flag(name), dest=name, action=argparse.BooleanOptionalAction, default=None
            )
        else:
            p.add_argument(
                _flag(name), dest=name, type=kind, default=None, choices=CHOICES.get(name)
            )


def add_commands(sub) -> None:
    p = sub.add_parser(
        "train", help="train a model (flags override --config; --resume RUN continues)"
    )
    _train_flags(p)
    p.set_defaults(fn=cmd_train)

    p = sub.add_parser("models", help="list the registered models")
    p.set_defaults(fn=cmd_models)
