"""``predict --ray``: the same outputs as ``predict``, made by a pool of Ray actors.

The driver lists the photos and names their outputs (as ``predict`` does), puts the model
file in Ray's object store (so nodes need no copy of it), and streams a Ray Dataset of
(photo, output name) rows through ``map_batches`` on an actor pool: each actor loads the model
once and writes each photo's files with predict's own ``write_photo``; the driver collects the
JSON documents for the sinks (the catalogue table, the Kaggle CSV), the errors and the
count.

Fault tolerance is Ray's: a killed actor is restarted and its unfinished batches run again.
A photo's files are written atomically and are the same whichever attempt writes them, and
the driver takes each photo's document once, so the outputs hold every photo exactly once.
Across machines ``out`` must be a folder every node can write (a shared disk).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from fashionseg.data.images import DataError
from fashionseg.errors import FashionsegError, UsageError
from fashionseg.files import collect_photos
from fashionseg.outputs import ErrorLog, output_dir
from fashionseg.use.predict.options import PredictOptions
from fashionseg.use.predict.plan import plan_outputs
from fashionseg.use.predict.sinks import (
    SINKS,
    SinkContext,
    Sinks,
    check_sinks,
    open_sinks,
    split_sinks,
)
from fashionseg.use.predict.sources import Work


def _ray():
    try:
        import ray
        import ray.data  # noqa: F401  (the Data library is its own extra)
    except ImportError:
        raise UsageError(
            "--ray needs Ray Data: pip install 'fashionseg[ray]' (or 'ray[data]')"
        ) from None
    return ray


def is_uri(source: str) -> bool:
    """A photo given as a URI (``s3://``, ``gs://``, ``file://``...) rather than a local path."""
    return "://" in source


def _sources(photos) -> list[str]:
    """Paths and URIs from what the user gave: photos, folders, URIs, or a Ray Dataset with a
    ``path`` column."""
    if hasattr(photos, "select_columns"):  # a ray.data.Dataset
        if "path" not in photos.columns():
            raise UsageError("the Ray Dataset needs a 'path' column of photo paths or URIs")
        return [str(r["path"]) for r in photos.select_columns(["path"]).take_all()]
    items = [photos] if isinstance(photos, (str, Path)) else list(photos)
    uris = [str(p) for p in items if is_uri(str(p))]
    local = [p for p in items if not is_uri(str(p))]
    return [str(p) for p in (collect_photos(local) if local else [])] + uris


def _read_source(source: str) -> Path | bytes:
    """A local path as a Path (read exactly as predict reads it), a URI's bytes via pyarrow."""
    if not is_uri(source):
        return Path(source)
    from pyarrow import fs

    filesystem, path = fs.FileSystem.from_uri(source)
    with filesystem.open_input_file(path) as f:
        return f.readall()


class _Worker:
    """One actor: the model loaded once, then batches of photos in, their files written."""

    def __init__(
        self, model_name: str, model_bytes: list, out: str | None, options: PredictOptions, cpus
    ):
        import ray
        import torch

        from fashionseg.use.predict.segmenter import Segmenter

        threads = max(1, int(cpus))
        torch.set_num_threads(threads)
        # The model arrives through the object store (a reference inside a list: Ray then
        # keeps it for restarts without warning); its file name is part of its name.
        # The model file lives only while it loads: an actor killed later leaves nothing.
        with tempfile.TemporaryDirectory(prefix="fashionseg-ray-") as tmp:
            path = Path(tmp) / model_name
            path.write_bytes(ray.get(model_bytes[0]))
            self.segmenter = Segmenter(path, threads=threads, options=options)
        self.out = Path(out) if out else None

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from fashionseg.use.predict.write import write_photo

        seg = self.segmenter
        docs, errors, read, where = [""] * len(batch["index"]), [""] * len(batch["index"]), [], []
        for k, source in enumerate(batch["source"]):
            try:
                read.append(seg.read(_read_source(str(source)), name=str(source)))
                where.append(k)
            except (DataError, OSError) as e:
                errors[k] = str(e)
        for k, result in zip(where, seg.run(read) if read else []):
            try:
                if self.out is not None:
                    doc = write_photo(self.out, str(batch["stem"][k]), result, seg.products)
                else:
                    doc = result.to_json()
                docs[k] = json.dumps(doc)
            except (OSError, ValueError) as e:  # one photo's outputs failed; the others go on
                errors[k] = f"could not write its outputs: {e}"
        return {"index": batch["index"], "doc": np.array(docs), "error": np.array(errors)}


def segment(
    photos,
    model: str | Path | None = None,
    out: str | Path | None = None,
    table: str | Path | None = None,
    *,
    address: str | None = None,
    actors: int | None = None,
    cpus_per_actor: float = 1.0,
    gpus_per_actor: float = 0.0,
    options: PredictOptions | None = None,
    **changes,
) -> dict:
    """Segment photos on Ray: the per-photo files of ``predict`` in ``out`` and/or the
    catalogue table ``table``.

    Args:
        photos: photo paths, folders, URIs Ray and pyarrow read, or a Ray Dataset with a
            ``path`` column.
        model: a ``.pt`` or ``.onnx`` file (None: the bundled model).
        address: the Ray cluster to join (None: the one ``RAY_ADDRESS`` names, else a local
            one on this machine).
        actors: actors in the pool (None: the cluster's CPUs over ``cpus_per_actor``).
        cpus_per_actor: CPUs each actor takes (and its torch / ONNX Runtime threads).
        gpus_per_actor: GPUs each actor takes (``device="cuda"`` then runs on them).
        options: predict's options (``changes`` by name); instances are local predict's.

    Of predict's outputs, Ray writes the per-photo files and the sinks whose spec says so
    (``sinks.SINKS``: the catalogue table, the Kaggle CSV), filled on the driver from the
    documents the actors return; it names the others (COCO results, the labelling tools'
    files) and refuses them. ``changes`` may name sinks too, as predict's (``kaggle_csv=``).

    Returns:
        ``{"photos", "written", "skipped", "existing", "out"}``, as ``predict``.
    """
    sink_paths, changes = split_sinks({"table": table, **changes})
    o = PredictOptions.of(options, **changes)
    if o.instances:
        raise UsageError("instances are local predict's; leave out --ray (or instances)")
    local_only = [SINKS[n].flag for n, path in sink_paths.items() if path and not SINKS[n].ray]
    if local_only:
        *written, last = ["the per-photo files", *(s.flag for s in SINKS.values() if s.ray)]
        raise UsageError(
            f"{', '.join(local_only)}: local predict's (Ray writes {', '.join(written)} and "
            f"{last}); leave out --ray"
        )
    ray = _ray()
    if out is None and not any(sink_paths.values()):
        raise UsageError("give out (a folder for the per-photo files) or a sink, or both")
    model, context = _model(model, o)
    check_sinks(sink_paths, context)
    sources = _sources(photos)
    if not sources:
        raise FileNotFoundError("no photos to segment")
    local = [Path(s) for s in sources if not is_uri(s)]
    out = output_dir(out, local) if out is not None else None
    work = Work.of([Path(s) for s in sources], out, o.skip_existing)
    by_path = {str(Path(s)): s for s in sources}  # a URI's own spelling, not its Path's
    todo = [by_path[str(p)] for p in work.todo]
    plan_outputs(out, local, work.stems, o.cutouts, o.overwrite, sink_paths)
    with open_sinks(sink_paths, context) as sinks:
        for stem, doc in work.done:
            sinks.add(stem, doc)
        first = next(Path(p) for p in sink_paths.values() if p) if out is None else None
        errors = ErrorLog(out or first.parent, append=o.skip_existing)
        written = _run(
            ray, todo, work.stems, model, out, sinks, errors, address=address,
            actors=actors, cpus_per_actor=cpus_per_actor, gpus_per_actor=gpus_per_actor,
            batch_size=o.batch_size, options=o,
        )  # fmt: skip
        errors.close()
    return work.summary(written, errors, out or first)


def _model(model: str | Path | None, options: PredictOptions) -> tuple[Path, SinkContext]:
    """The model file (None: the bundled one) and the sinks' context, loaded once here on the
    CPU so that a missing file or an unknown garment in ``only`` is one line, not an actor
    that dies on start."""
    from fashionseg.use.predict.segmenter import Segmenter

    if model is None:
        from fashionseg.bundled import bundled_model

        model = bundled_model()
    model = Path(model)
    if not model.is_file():
        raise FileNotFoundError(f"{model}: no such model file")
    segmenter = Segmenter(model, "cpu", options=options)
    return model, SinkContext(segmenter.predictor, options)


def _run(
    ray, sources, stems, model: Path, out, sinks: Sinks, errors: ErrorLog, *, address, actors,
    cpus_per_actor, gpus_per_actor, batch_size, options,
) -> int:  # fmt: skip
    """The photos through the actor pool; returns the photos written."""
    from tqdm import tqdm

    if not sources:
        return 0
    if not ray.is_initialized():
        ray.init(
            address=address or os.environ.get("RAY_ADDRESS") or None,
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
        )
    # Ray Data's own log lines and bars would interleave with ours; errors still show.
    logging.getLogger("ray.data").setLevel(logging.ERROR)
    ray.data.DataContext.get_current().enable_progress_bars = False
    cpus = ray.cluster_resources().get("CPU", 1)
    pool = actors or max(1, int(cpus // cpus_per_actor))
    rows = [{"index": i, "source": s, "stem": t} for i, (s, t) in enumerate(zip(sources, stems))]
    ds = ray.data.from_items(rows, override_num_blocks=max(1, -(-len(rows) // batch_size)))
    ds = ds.map_batches(
        _Worker,
        fn_constructor_args=(model.name, [ray.put(model.read_bytes())], str(out) if out else None,
                             options, cpus_per_actor),
        batch_size=batch_size, batch_format="numpy", compute=ray.data.ActorPoolStrategy(size=pool),
        num_cpus=cpus_per_actor, num_gpus=gpus_per_actor or None,
    )  # fmt: skip
    seen: set[int] = set()
    written = 0
    bar = tqdm(total=len(rows), desc="predict (ray)", unit="photo", file=sys.stderr)
    for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
        for i, doc, error in zip(batch["index"], batch["doc"], batch["error"]):
            if int(i) in seen:  # a batch that ran twice: its photo is taken once
                continue
            seen.add(int(i))
            bar.update(1)
            if error:
                errors.add(sources[int(i)], str(error))
            else:
                sinks.add(stems[int(i)], json.loads(str(doc)))
                written += 1
    bar.close()
    missing = len(rows) - len(seen)
    if missing:
        raise FashionsegError(f"Ray returned no result for {missing} of {len(rows)} photos")
    return written
