"""Every stage at Fashionpedia's scale: each stage's time and peak memory at 1k, 5k and 10k
Fashionpedia-shaped photos (and 45k where it reads no photos), each run as a user runs it (a
fresh process, the console script where there is one), and how each grows with the photos.

    python -m benchmarks.scale [--sizes 1000 5000 10000] [--no-photos 45000] [--out DIR]
        [--stages read-coco,read-kaggle,stats,masks,prepare,prepare-instances,analyze]
        [--json results.json] [--plot growth.png]

Data come from ``benchmarks/fashionpedia_like.py`` (COCO JSON, the same annotations as a
Kaggle CSV, photos of Fashionpedia's sizes). Memory is the peak resident set of the stage's
main process and, where it has workers, of the largest worker, sampled from ``/proc`` every
50 ms. Growth is the exponent ``b`` of ``time = a * photos^b`` fitted over the sizes (1.0:
linear), and the change of the time per photo from the smallest size to the largest.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

from benchmarks import fashionpedia_like as fp

FASHIONSEG = str(Path(sys.executable).with_name("fashionseg"))

# A stage: what it needs ("photos" or not) and its command for a data root.
ITERATE = (
    "import sys\nfrom fashionseg.data.formats import open_dataset\n"
    "n = sum(len(r.instances) for r in open_dataset(sys.argv[1]))\nprint(n)"
)
JSON_LOAD = "import json, sys\njson.load(open(sys.argv[1]))"
CSV_PARSE = "import csv, sys\ncsv.field_size_limit(1 << 30)\nprint(sum(1 for _ in csv.reader(open(sys.argv[1]))))"


def _stages(root: Path, out: Path) -> dict[str, tuple[bool, list[str]]]:
    py, coco, kaggle = sys.executable, root / "coco", root / "kaggle"
    return {
        "json.load": (False, [py, "-c", JSON_LOAD, str(coco / "instances.json")]),
        "read-coco": (False, [py, "-c", ITERATE, str(coco / "instances.json")]),
        "csv parse": (False, [py, "-c", CSV_PARSE, str(kaggle / "train.csv")]),
        "read-kaggle": (False, [py, "-c", ITERATE, str(kaggle)]),
        "stats": (True, [FASHIONSEG, "stats", str(coco), "--out", str(out / "stats")]),
        "masks": (True, [FASHIONSEG, "masks", str(coco), "--out", str(out / "masks"),
                         "--workers", "1"]),
        "prepare": (True, [FASHIONSEG, "prepare", str(coco), "--out", str(out / "cache"),
                           "--size", "256", "--workers", "1"]),
        "prepare-instances": (True, [FASHIONSEG, "prepare", str(coco), "--task", "instances",
                                     "--out", str(out / "icache"), "--size", "256",
                                     "--workers", "1"]),
        "analyze": (False, [FASHIONSEG, "analyze", str(root / "predictions"), "--out",
                            str(out / "analysis")]),
    }  # fmt: skip


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (Linux ``/proc``)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            todo += [int(c) for c in Path(f"/proc/{p}/task/{p}/children").read_text().split()]
        except OSError:
            pass
    return out


def _rss_mb(pid: int) -> float:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    return int(status.split("VmRSS:")[1].split()[0]) / 1024 if "VmRSS:" in status else 0.0


def measure(command: list[str]) -> dict:
    """Run ``command``; its wall time, and the peak RSS of its main process and of its
    largest child process (MB)."""
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = {"main": 0.0, "worker": 0.0}

    def sample():
        while proc.poll() is None:
            pids = _tree(proc.pid)
            peak["main"] = max(peak["main"], _rss_mb(proc.pid))
            peak["worker"] = max([peak["worker"], *(_rss_mb(p) for p in pids[1:])])
            time.sleep(0.05)

    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    _, err = proc.communicate()
    seconds = time.perf_counter() - start
    watcher.join()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(command[:4])} failed:\n{err[-2000:]}")
    return {"seconds": round(seconds, 2), "peak_mb": round(peak["main"]),
            "worker_mb": round(peak["worker"])}  # fmt: skip


def predictions(folder: Path, coco: dict) -> None:
    """predict's JSON for every photo, made from the annotations (analyze reads these), with
    a box and a mask of predict's typical length per garment (the bytes a real folder holds)."""
    from fashionseg.data.categories import fashionpedia

    names = fashionpedia().names()[1:]
    colours = ["black", "white", "navy", "denim", "beige", "red", "gray"]
    rng = np.random.default_rng(0)
    by_image: dict[int, set[int]] = {}
    for ann in coco["annotations"]:
        by_image.setdefault(ann["image_id"], set()).add(ann["category_id"])
    folder.mkdir(parents=True, exist_ok=True)
    for img in coco["images"]:
        starts = np.cumsum(rng.integers(1, 2000, 150))
        rle = " ".join(
            f"{s} {n}" for s, n in zip(starts.tolist(), rng.integers(1, 60, 150).tolist())
        )
        garments = [
            {"class_id": c, "name": names[c], "area_fraction": round(float(rng.uniform(0, 0.3)), 4),
             "bbox": [10, 20, 300, 400], "color": {"name": str(rng.choice(colours)), "hex": "#000000"},
             "rle": rle}
            for c in sorted(by_image.get(img["id"], ()))
        ]  # fmt: skip
        doc = {"image": {"path": img["file_name"], "width": img["width"], "height": img["height"]},
               "garments": garments}  # fmt: skip
        (folder / f"{Path(img['file_name']).stem}.json").write_text(json.dumps(doc))


def make_data(root: Path, photos: int, with_photos: bool) -> None:
    """The data of one size under ``root`` (reused when it is already there)."""
    done = root / ".complete" if with_photos else root / ".annotations"
    if done.exists() or (root / ".complete").exists():
        return
    coco = fp.coco_file(photos, seed=0)
    (root / "coco").mkdir(parents=True, exist_ok=True)
    (root / "coco" / "instances.json").write_text(json.dumps(coco))
    fp.write_kaggle(root / "kaggle", coco)
    predictions(root / "predictions", coco)
    if with_photos:
        fp.write_photos(root / "coco" / "train", coco)
    done.touch()


def growth(sizes: list[int], seconds: list[float]) -> dict:
    """The fitted exponent of time over photos and the change of time per photo."""
    if len(sizes) < 2:
        return {}
    slope = float(np.polyfit(np.log(sizes), np.log(seconds), 1)[0])
    per_photo = [s / n for s, n in zip(seconds, sizes)]
    return {
        "exponent": round(slope, 3),
        "per_photo_change": round(per_photo[-1] / per_photo[0] - 1, 3),
    }


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for stage, rows in results.items():
        sizes = [r["photos"] for r in rows]
        axes[0].plot(sizes, [1000 * r["seconds"] / r["photos"] for r in rows], "o-", label=stage)
        axes[1].plot(sizes, [r["peak_mb"] for r in rows], "o-", label=stage)
    for ax, label in zip(axes, ("ms per photo", "peak memory of the main process (MB)")):
        ax.set_xscale("log")
        ax.set_xlabel("photos")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].set_yscale("log")
    axes[1].legend(fontsize=7)
    fig.suptitle("Each stage at Fashionpedia's scale (2 cores)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000, 10000])
    p.add_argument("--no-photos", type=int, nargs="*", default=[45000],
                   help="larger sizes for the stages that read no photos")  # fmt: skip
    p.add_argument("--stages", default=",".join(_stages(Path("."), Path(".")).keys()))
    p.add_argument("--out", default="/tmp/fashionseg-scale")
    p.add_argument("--json", help="write the figures here")
    p.add_argument("--plot", help="write the growth plot here (PNG)")
    args = p.parse_args(argv)
    wanted = args.stages.split(",")
    results: dict[str, list[dict]] = {}
    for photos in sorted(set(args.sizes) | set(args.no_photos)):
        root = Path(args.out) / str(photos)
        make_data(root, photos, photos in args.sizes)
        for stage, (needs_photos, command) in _stages(root, root / "out").items():
            if stage not in wanted or (needs_photos and photos not in args.sizes):
                continue
            subprocess.run(["rm", "-rf", str(root / "out")], check=True)
            row = {"photos": photos, **measure(command)}
            results.setdefault(stage, []).append(row)
            print(f"{stage:<18} {photos:>6} photos  {row['seconds']:>8.2f} s  "
                  f"{1000 * row['seconds'] / photos:>7.2f} ms/photo  {row['peak_mb']:>6} MB"
                  + (f"  worker {row['worker_mb']} MB" if row["worker_mb"] else ""), flush=True)  # fmt: skip
    summary = {s: {"runs": rows, **growth([r["photos"] for r in rows], [r["seconds"] for r in rows])}
               for s, rows in results.items()}  # fmt: skip
    for stage, s in summary.items():
        if "exponent" in s:
            print(
                f"{stage:<18} time ~ photos^{s['exponent']}, per photo {s['per_photo_change']:+.0%}"
            )
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=1))
    if args.plot:
        plot(results, Path(args.plot))


if __name__ == "__main__":
    main()
