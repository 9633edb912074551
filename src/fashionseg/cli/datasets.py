"""Data set commands: download (fetch, check, unpack) and convert (other layouts to Kaggle's)."""

from __future__ import annotations

import sys
from pathlib import Path

from fashionseg.cli.options import add_overwrite
from fashionseg.errors import FashionsegError, UsageError

CONVERTERS = ("ccp", "modanet", "deepfashion2", "lip", "atr", "cihp", "labelstudio", "cvat")


def cmd_download(args) -> None:
    from fashionseg.datasets import download as dl

    if args.list:
        print(dl.listing())
        return
    if not args.name or not args.out:
        raise UsageError("name a data set and --out (fashionseg download --list shows them)")
    if args.verify:
        problems = dl.verify(args.name, args.out)
        for line in problems:
            print(f"fashionseg download: {line}", file=sys.stderr)
        if problems:
            raise FashionsegError(f"{len(problems)} file(s) of {args.name} fail the check")
        print(f"{args.name}: every file matches its recorded SHA-256 and passes its check")
        return
    folder = dl.download(args.name, args.out, force=args.force, mirror=args.mirror)
    print(f"{args.name} -> {folder}")


def cmd_convert(args) -> None:
    from fashionseg.outputs import output_dir

    out = output_dir(args.out, [Path(args.src)])
    given = dict(strict=args.strict, overwrite=args.overwrite)
    if args.format == "ccp":
        from fashionseg.datasets.convert.ccp import convert_ccp

        result = convert_ccp(
            args.src, out, unlabelled=args.unlabelled, scale=args.scale, mapping=args.mapping,
            **given,
        )  # fmt: skip
        print(f"{result['labelled']} labelled photos -> {out}; {result['unlabelled']} tagged")
        return
    if args.scale != 1.0 or args.mapping:
        raise UsageError("--scale and --mapping apply to ccp only")
    from fashionseg.datasets.convert import instances, labelling

    if args.format == "labelstudio":
        result = labelling.convert_labelstudio(
            args.src, out, photos=args.photos, photo_root=args.photo_root, **given
        )
    elif args.format == "cvat":
        result = labelling.convert_cvat(args.src, out, photos=args.photos or args.images, **given)
    elif args.format == "modanet":
        result = instances.convert_modanet(args.src, out, images=args.images, **given)
    elif args.format == "deepfashion2":
        result = instances.convert_deepfashion2(args.src, out, **given)
    else:
        result = instances.convert_parsing(args.format, args.src, out, **given)
    print(f"{result['photos']} photos, {result['instances']} instances -> {out}")


def add_commands(sub) -> None:
    p = sub.add_parser(
        "download", help="fetch a public data set, check it and unpack it into a readable layout"
    )
    p.add_argument(
        "name", nargs="?", help="fashionpedia, imaterialist-2019, imaterialist-2020, ccp"
    )
    p.add_argument("--out", help="folder; the data set lands in OUT/NAME")
    p.add_argument("--list", action="store_true", help="list the data sets, sizes and licences")
    p.add_argument("--verify", action="store_true", help="check a download against its manifest")
    p.add_argument("--force", action="store_true", help="fetch every file again from the start")
    p.add_argument("--mirror", metavar="URL", help="fetch each file from URL/<file name> instead")
    p.set_defaults(fn=cmd_download)

    p = sub.add_parser("convert", help="another data set's layout -> the Kaggle layout")
    p.add_argument("format", choices=CONVERTERS)
    p.add_argument("src", help="the data set's folder (ModaNet: its JSON or the folder holding it)")
    p.add_argument("--out", required=True, help="the Kaggle-layout folder to write")
    p.add_argument("--scale", type=float, default=1.0, help="ccp: resize photos and labels")
    p.add_argument("--mapping", help="ccp: a label mapping file (as ccp_to_fashionpedia.json)")
    p.add_argument("--unlabelled", help="ccp: folder for the tagged-only photos (OUT-unlabelled)")
    p.add_argument("--images", help="modanet: the photos' folder (default: beside the JSON)")
    p.add_argument(
        "--photos",
        help="labelstudio, cvat: the folder holding the photos, found by file name (default "
        "for cvat: beside the XML, or its images/)",
    )
    p.add_argument(
        "--photo-root",
        help="labelstudio: the folder Label Studio served local files from (default: "
        "LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT, else the current folder)",
    )
    p.add_argument("--strict", action="store_true", help="stop at the first bad item (exit 2)")
    add_overwrite(p)
    p.set_defaults(fn=cmd_convert)
