"""``python -m benchmarks ray``: photos/s of ``predict --ray`` against local ``predict`` on the
same photos, in one run on one machine, with the Ray cluster's start-up apart.

Both runs write every output (PNG, overlay, JSON) and the catalogue table. Local predict runs
first in a fresh process; then one process starts a local Ray cluster (timed apart: a
catalogue team's cluster is already up) and runs the same photos through the actor pool, the
actors' start (each loads the model) included.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.predict import photo_folder
from fashionseg.machine import available_cores

_LOCAL = """
import sys, time
from fashionseg.use.predict.folder import predict
t = time.perf_counter()
predict(sys.argv[1], [sys.argv[2]], sys.argv[3], table=sys.argv[3] + ".parquet")
print(time.perf_counter() - t)
"""

_RAY = """
import json, sys, time
import ray
t = time.perf_counter()
ray.init(num_cpus=int(sys.argv[4]), include_dashboard=False, log_to_driver=False)
start = time.perf_counter() - t
from fashionseg.use.predict.ray_data import segment
t = time.perf_counter()
segment([sys.argv[2]], sys.argv[1], sys.argv[3], sys.argv[3] + ".parquet", actors=int(sys.argv[5]))
print(json.dumps({"cluster_start_s": start, "seconds": time.perf_counter() - t}))
"""


def bench_ray(model: str | None = None, photos: int = 400, actors: int | None = None) -> dict:
    """Local predict and predict on Ray over ``photos`` real photos; the ratio of their rates."""
    from fashionseg.bundled import bundled_model

    model = str(model or bundled_model())
    cores = available_cores()
    actors = actors or cores
    env = dict(os.environ, PYTHONWARNINGS="ignore", RAY_ADDRESS="")
    with tempfile.TemporaryDirectory(prefix="fashionseg-bench-ray-") as tmp:
        folder = photo_folder(Path(tmp) / "photos", photos)

        def child(script: str, out: str, *extra: str) -> str:
            done = subprocess.run(
                [sys.executable, "-c", script, model, str(folder), str(Path(tmp) / out), *extra],
                capture_output=True, text=True, env=env,
            )  # fmt: skip
            if done.returncode != 0:
                raise RuntimeError(f"{out} run failed: {done.stderr.strip()[-600:]}")
            return done.stdout.strip().splitlines()[-1]

        local_s = float(child(_LOCAL, "local"))
        ray = json.loads(child(_RAY, "ray", str(cores), str(actors)))
    local_rate, ray_rate = photos / local_s, photos / ray["seconds"]
    return {
        "photos": photos,
        "cores": cores,
        "actors": actors,
        "local_photos_per_s": local_rate,
        "ray_photos_per_s": ray_rate,
        "ray_over_local": ray_rate / local_rate,
        "ray_cluster_start_s": ray["cluster_start_s"],
    }
