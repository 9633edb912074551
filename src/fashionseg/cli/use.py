"""Subcommands that use a trained model: predict, analyze, export, serve."""

from __future__ import annotations

import json
import sys

from fashionseg.cli.options import add_min_area, add_overwrite, add_tta_only
from fashionseg.errors import FashionsegError, UsageError
from fashionseg.names import ONNX_OPSET
from fashionseg.use.serve import limits

MODEL_SUFFIXES = (".pt", ".pth", ".onnx")


def split_model(items: list[str]) -> tuple[str, list[str]]:
    """``[MODEL] PHOTOS...`` -> (model, photos); the bundled model when none is named."""
    from pathlib import Path

    from fashionseg.bundled import bundled_model

    if items and Path(items[0]).suffix.lower() in MODEL_SUFFIXES:
        if len(items) == 1:
            raise UsageError(f"name photos or folders to segment after the model {items[0]}")
        return items[0], items[1:]
    return str(bundled_model()), items


def cmd_predict(args) -> None:
    model, photos = split_model(args.inputs)
    from fashionseg.use.predict.options import PredictOptions
    from fashionseg.use.predict.sinks import SINKS

    options = PredictOptions.from_args(args)
    sinks = {name: getattr(args, name) for name in SINKS}
    if args.ray is not None:
        from fashionseg.use.predict.ray_data import segment

        result = segment(
            photos, model, args.out, address=args.ray or None, actors=args.actors,
            cpus_per_actor=args.cpus_per_actor, gpus_per_actor=args.gpus_per_actor,
            options=options, **sinks,
        )  # fmt: skip
    else:
        from fashionseg.use.predict.folder import predict
        from fashionseg.use.predict.sinks import PhotoNaming

        naming = PhotoNaming(args.photo_url_prefix, args.photo_root)
        result = predict(
            model, photos, args.out, options, naming=naming, workers=args.workers,
            processes=args.processes, **sinks,
        )  # fmt: skip
    todo = result["photos"] - result["existing"]
    if todo and not result["written"]:
        raise FashionsegError(
            f"none of the {todo} photos could be segmented; reasons in {result['out']}/errors.csv"
        )
    print(
        f"{result['written']} of {result['photos']} photos segmented -> {result['out']}"
        + (f" ({result['existing']} already there)" if result["existing"] else "")
        + (f" ({result['skipped']} skipped, see errors.csv)" if result["skipped"] else "")
    )


def cmd_analyze(args) -> None:
    from fashionseg.use.analyze import analyze

    page = analyze(
        args.predictions, args.out, top=args.top, groups=args.groups, overwrite=args.overwrite
    )
    print(f"report: {page}")


def cmd_export(args) -> None:
    if args.int8:
        from fashionseg.files import collect_photos
        from fashionseg.use.quantize import quantize_int8

        photos = collect_photos(args.calibration) if args.calibration else []
        result = quantize_int8(args.checkpoint, args.out, photos, opset=args.opset)
    else:
        from fashionseg.use.export import export_onnx

        result = export_onnx(args.checkpoint, args.out, opset=args.opset)
    print(json.dumps(result, indent=1))


def cmd_serve(args) -> None:
    import uvicorn

    from fashionseg.bundled import bundled_model
    from fashionseg.use.predict.options import PredictOptions
    from fashionseg.use.serve.app import SERVE_OPTIONS, create_app

    app = create_app(
        args.model or bundled_model(),
        PredictOptions.from_args(args, SERVE_OPTIONS),
        max_bytes=int(args.max_mb * 1e6),
        max_pixels=args.max_pixels,
        allowed_hosts=limits.allowed_hosts(args.host, args.allowed_host),
    )
    if args.host not in limits.LOOPBACK:
        print(f"serving on {args.host}: reachable from other machines", file=sys.stderr)
        if not args.allowed_host:
            print(
                "name the server's public host with --allowed-host to refuse others",
                file=sys.stderr,
            )
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")


def cmd_categories(args) -> None:
    from fashionseg.bundled import bundled_model
    from fashionseg.data.groups import GROUPS
    from fashionseg.inference.predictor import Predictor

    if args.groups:
        for group, members in GROUPS.items():
            print(f"{group}: {'; '.join(members)}")
        return
    predictor = Predictor(args.model or bundled_model(), device="cpu")
    for value, name in enumerate(predictor.categories.names()):
        if value:
            print(f"{value - 1:>3}  {name}")


def add_commands(sub) -> None:
    p = sub.add_parser(
        "predict",
        help="label maps, overlays and garment JSON for photos (the bundled model, or a .pt / "
        ".onnx named first)",
    )
    p.add_argument(
        "inputs",
        nargs="+",
        metavar="[MODEL] IMAGES_OR_FOLDERS",
        help="an optional checkpoint (.pt) or exported model (.onnx), then photos or folders; "
        "with no model, the bundled one (fashionseg.bundled)",
    )
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--batch-size", type=int, default=8)
    add_min_area(p)
    p.add_argument(
        "--instances",
        action="store_true",
        help="list each photo's instances in its JSON (a semantic model's connected "
        "components, scored by mean class probability), outline them in the overlay, cut "
        "them out one by one",
    )
    _add_sinks(p)
    _add_ray(p)
    p.add_argument("--device", default="auto")
    p.add_argument(
        "--workers", type=int, help="threads decoding and writing (default: one per core)"
    )
    p.add_argument(
        "--processes",
        type=int,
        help="processes writing the outputs (default: all cores but two with 4+ cores and "
        "64+ photos, else 0: the threads write)",
    )
    p.add_argument(
        "--auto-orient",
        action="store_true",
        help="apply EXIF orientation (phone photos); off: segment the stored pixel grid",
    )
    add_tta_only(p)
    p.add_argument(
        "--groups",
        action="store_true",
        help="body regions (upper body, lower body, whole body, footwear, bags, headwear, "
        "accessories) instead of the 46 categories; parts join the garment they touch",
    )
    p.add_argument(
        "--cutouts", action="store_true", help="also <stem>/<garment>.png: RGBA, cropped"
    )
    p.add_argument("--feather", type=float, default=0.0, help="soft cut-out edge, in pixels")
    p.add_argument(
        "--skip-existing",
        action="store_true",
        help="leave photos whose <stem>.json is already in --out (continue an interrupted run)",
    )
    add_overwrite(p)
    p.set_defaults(fn=cmd_predict)

    _add_analyze_export_serve(sub)


def _add_sinks(p) -> None:
    from fashionseg.use.predict.sinks import SINKS

    g = p.add_argument_group("whole-run files besides each photo's (use/predict/sinks/)")
    for spec in SINKS.values():
        g.add_argument(spec.flag, dest=spec.name, metavar=spec.metavar, help=f"also {spec.help}")
    g = p.add_argument_group("how the labelling tools' files name the photos (docs/labelling.md)")
    g.add_argument(
        "--photo-url-prefix",
        metavar="URL",
        help="Label Studio tasks point at URL/<path under --photo-root> (a bucket or web "
        "server) instead of Label Studio's local files",
    )
    g.add_argument(
        "--photo-root",
        metavar="DIR",
        help="photos are named by their path under DIR (default: "
        "LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT, else the current folder)",
    )


def _add_ray(p) -> None:
    g = p.add_argument_group("on Ray Data (pip install 'fashionseg[ray]')")
    g.add_argument(
        "--ray",
        nargs="?",
        const="",
        metavar="ADDRESS",
        help="run on Ray Data: join the cluster at ADDRESS (default: RAY_ADDRESS, else a "
        "local one); put it after the photos. Needs pip install 'fashionseg[ray]'",
    )
    g.add_argument(
        "--actors", type=int, help="with --ray: actors in the pool (default: one per CPU)"
    )
    g.add_argument(
        "--cpus-per-actor", type=float, default=1.0, help="with --ray: CPUs (and threads) per actor"
    )
    g.add_argument(
        "--gpus-per-actor",
        type=float,
        default=0.0,
        help="with --ray: GPUs per actor (--device cuda)",
    )


def _add_analyze_export_serve(sub) -> None:
    p = sub.add_parser(
        "analyze", help="what a collection wears: frequencies, pairings (lift), colours, outfits"
    )
    p.add_argument(
        "predictions", help="folder of predict's <stem>.json files, or its --table .parquet"
    )
    p.add_argument("--out", required=True, help="report folder (PNG figures, HTML, JSON)")
    p.add_argument("--top", type=int, default=15, help="outfits and pairs to list")
    p.add_argument(
        "--groups", action="store_true", help="by body region (predict --groups's names)"
    )
    add_overwrite(p)
    p.set_defaults(fn=cmd_analyze)

    p = sub.add_parser("export", help="export a checkpoint to ONNX (dynamic batch and size)")
    p.add_argument("checkpoint")
    p.add_argument("--out", required=True, help="the .onnx file")
    p.add_argument("--opset", type=int, default=ONNX_OPSET)
    p.add_argument(
        "--int8",
        action="store_true",
        help="8-bit weights and activations (faster on CPUs; reports agreement with float32)",
    )
    p.add_argument(
        "--calibration",
        nargs="+",
        metavar="PHOTOS_OR_FOLDERS",
        help="photos like those the model will see, for --int8 (32 or more is best)",
    )
    p.set_defaults(fn=cmd_export)

    p = sub.add_parser(
        "categories", help="the ClassIds and names a model knows (the names --only takes)"
    )
    p.add_argument("model", nargs="?", help="checkpoint or exported model; default: bundled")
    p.add_argument("--groups", action="store_true", help="the body-region groups instead")
    p.set_defaults(fn=cmd_categories)

    p = sub.add_parser("serve", help="web app and JSON API (FastAPI + uvicorn)")
    add_min_area(p)
    p.add_argument(
        "model", nargs="?", help="checkpoint (.pt) or exported model (.onnx); default: bundled"
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument(
        "--allowed-host",
        action="append",
        metavar="NAME",
        help="a Host header to answer (repeatable; default: the host it binds; others get 400)",
    )
    p.add_argument("--device", default="auto")
    p.add_argument(
        "--max-mb", type=float, default=limits.MAX_BYTES / 1e6, help="upload size limit (413 above)"
    )
    p.add_argument(
        "--max-pixels", type=int, default=limits.MAX_PIXELS, help="photo size limit (422 above)"
    )
    p.add_argument(
        "--max-batch",
        dest="batch_size",
        type=int,
        metavar="N",
        default=limits.MAX_BATCH,
        help="requests batched per forward pass",
    )
    add_tta_only(p)
    p.set_defaults(fn=cmd_serve)
