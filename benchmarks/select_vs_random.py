"""Does ``fashionseg select`` pick better photos to label than chance? Measured on CCP.

From one start (a model trained on ``--start`` photos of CCP's training split), add
``--budget`` photos of the rest of that split, chosen by ``select`` (with the start model) or at
random, then fine-tune the start model on the start photos plus the picks (their labels taken
from the CCP labels) with the same settings and budget. Each arm is trained under each seed
(the random arm also draws its photos with it). ``configs/ccp/val.txt`` (160 photos) is held
out from everything: no training, no selection and no choice of checkpoint sees it; each run's
last weights are scored on it at the photos' own size with ``fashionseg evaluate``.

Rare classes: the categories of the validation photos whose pixel share in the start photos is
in the lower half of those categories.

    python -m benchmarks.select_vs_random ../shared/data/ccp-fashionpedia --out runs/select
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
VAL = ROOT / "configs" / "ccp" / "val.txt"
TRAIN = [
    "--model", "deeplabv3plus", "--encoder", "efficientnet_lite0", "--size", "128x192",
    "--keep-aspect", "--loss", "ce+dice", "--optimizer", "adamw", "--weight-decay", "0.0001",
    "--schedule", "cosine", "--batch-size", "16", "--hflip", "--scale-min", "0.75",
    "--scale-max", "1.5", "--eval-every", "1000", "--no-tensorboard", "--device", "cpu",
]  # fmt: skip


def fashionseg(*args: str) -> None:
    """The console script in a fresh process, as a user runs it."""
    subprocess.run([sys.executable, "-m", "fashionseg", *args], check=True, cwd=ROOT)


def write_list(path: Path, ids: list[str]) -> Path:
    path.write_text("".join(f"{i}\n" for i in ids))
    return path


def pixel_shares(data: Path, ids: list[str]) -> dict[int, float]:
    """Each ClassId's share of the labelled pixels of ``ids`` (from the Kaggle CSV's runs)."""
    import pandas as pd

    from fashionseg.data.rle import rle_area

    table = pd.read_csv(data / "train.csv", dtype={"ImageId": str})
    table = table[table.ImageId.isin(set(ids))]
    areas: dict[int, int] = {}
    for row in table.itertuples():
        area = rle_area(row.EncodedPixels, row.Height, row.Width)
        areas[int(row.ClassId)] = areas.get(int(row.ClassId), 0) + area
    total = sum(areas.values())
    return {c: a / total for c, a in areas.items()}


def train_and_score(data: Path, out: Path, train_ids: list[str], args, seed: int, init=None):
    """Train a run on ``train_ids`` and score its last weights on the held-out photos."""
    lists = write_list(out.with_suffix(".train.txt"), train_ids)
    flags = ["--train-list", str(lists), "--val-list", str(VAL), "--seed", str(seed)]
    if init:
        flags += ["--init", str(init), "--epochs", str(args.epochs), "--lr", str(args.lr)]
    else:
        flags += ["--pretrained", "--epochs", str(args.start_epochs), "--lr", "0.001"]
    t = time.perf_counter()
    fashionseg("train", "--data", str(data), "--out", str(out), *TRAIN, *flags, "--overwrite")
    seconds = time.perf_counter() - t
    metrics = out.with_suffix(".val.json")
    fashionseg("evaluate", str(out / "last.pt"), "--data", str(data), "--ids", str(VAL),
               "--out", str(metrics), "--device", "cpu")  # fmt: skip
    return json.loads(metrics.read_text()), seconds


def report(out: Path, data: Path) -> None:
    """The table again from a finished run's results.json."""
    results = json.loads((out / "results.json").read_text())
    rare_photos(data, results)
    print(table(results))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("data", type=Path, help="CCP in the Kaggle layout (ccp-fashionpedia)")
    p.add_argument("--out", type=Path, default=Path("runs/select"))
    p.add_argument("--start", type=int, default=80, help="labelled photos to start from")
    p.add_argument("--budget", type=int, default=80, help="photos each arm adds")
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument("--start-epochs", type=int, default=16)
    p.add_argument("--epochs", type=int, default=8, help="fine-tuning epochs of each arm")
    p.add_argument("--lr", type=float, default=0.0005)
    p.add_argument("--report", action="store_true", help="only print the table of --out")
    args = p.parse_args(argv)
    data = args.data.resolve()
    if args.report:
        return report(args.out, data)
    args.out.mkdir(parents=True, exist_ok=True)
    val = set(VAL.read_text().split())
    import pandas as pd

    labelled = set(pd.read_csv(data / "train.csv", usecols=["ImageId"], dtype=str).ImageId)
    pool = sorted(i for i in labelled if i not in val)
    start = sorted(random.Random(0).sample(pool, args.start))
    rest = [i for i in pool if i not in set(start)]
    start_run = args.out / "start"
    start_metrics, start_s = train_and_score(data, start_run, start, args, seed=0)
    picks_file = args.out / "picks.txt"
    t = time.perf_counter()
    fashionseg("select", str(start_run / "last.pt"), *[str(data / "train" / f"{i}.jpg") for i in rest],
               "--budget", str(args.budget), "--out", str(picks_file), "--device", "cpu",
               "--overwrite")  # fmt: skip
    select_s = time.perf_counter() - t
    chosen = [Path(line).stem for line in picks_file.read_text().split()]
    shares = pixel_shares(data, start)
    results = {"start": {"metrics": start_metrics, "seconds": start_s},
               "select_seconds": select_s, "runs": []}  # fmt: skip
    for seed in args.seeds:
        arms = {"select": chosen, "random": random.Random(seed).sample(rest, args.budget)}
        for arm, ids in arms.items():
            run = args.out / f"{arm}-{seed}"
            metrics, seconds = train_and_score(
                data, run, sorted(start + ids), args, seed, init=start_run / "last.pt"
            )
            results["runs"].append({"arm": arm, "seed": seed, "metrics": metrics,
                                    "seconds": seconds, "added": sorted(ids)})  # fmt: skip
            (args.out / "results.json").write_text(json.dumps(results, indent=1))
    results["rare"] = rare_classes(results["start"]["metrics"], shares)
    rare_photos(data, results)
    (args.out / "results.json").write_text(json.dumps(results, indent=1))
    print(table(results))


def rare_photos(data: Path, results: dict) -> None:
    """Each run's added photos that show a rare class (by their CCP labels), in place."""
    import pandas as pd

    from fashionseg.data.categories import fashionpedia

    names = fashionpedia().names()
    rare = {names.index(n) - 1 for n in results["rare"]}
    table = pd.read_csv(data / "train.csv", usecols=["ImageId", "ClassId"], dtype={"ImageId": str})
    with_rare = set(table[table.ClassId.isin(rare)].ImageId)
    for run in results["runs"]:
        run["rare_photos"] = len(with_rare & set(run["added"]))


def rare_classes(metrics: dict, shares: dict[int, float]) -> list[str]:
    """The validation photos' categories in the lower half of the start photos' pixel shares."""
    from fashionseg.data.categories import fashionpedia

    names = fashionpedia().names()  # label value -> name; ClassId = value - 1
    present = [
        n for n, iou in metrics["per_class_iou"].items() if iou is not None and n in names[1:]
    ]
    ranked = sorted(present, key=lambda n: shares.get(names.index(n) - 1, 0.0))
    return ranked[: len(ranked) // 2]


def table(results: dict) -> str:
    """Markdown: each arm's validation mIoU and rare-class mean IoU, per seed and on average."""
    rare = results["rare"]
    lines = ["| arm | seed | mIoU | rare-class IoU | binary IoU | added photos with a rare class | minutes |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]  # fmt: skip
    sums: dict[str, list[tuple[float, float]]] = {}
    for run in results["runs"]:
        m = run["metrics"]
        rare_iou = float(np.mean([m["per_class_iou"][n] or 0.0 for n in rare]))
        sums.setdefault(run["arm"], []).append((m["miou"], rare_iou))
        lines.append(f"| {run['arm']} | {run['seed']} | {m['miou']:.4f} | {rare_iou:.4f} | "
                     f"{m['binary_iou']:.4f} | {run['rare_photos']} | {run['seconds'] / 60:.1f} |")  # fmt: skip
    for arm, values in sums.items():
        miou, rare_iou = np.array(values).T
        lines.append(f"| **{arm}, mean ± sd** | | {miou.mean():.4f} ± {miou.std(ddof=1):.4f} | "
                     f"{rare_iou.mean():.4f} ± {rare_iou.std(ddof=1):.4f} | | | |")  # fmt: skip
    return "\n".join(lines)


if __name__ == "__main__":
    main()
