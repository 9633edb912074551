"""Training gives the same weights as before the engine became one for both tasks (issue 36):
a tiny semantic run and a tiny instance run, each interrupted after its first epochs and
resumed, on the CPU with one thread, end with the weights (model and EMA) whose SHA-256 were
taken before that change.

Float results depend on the CPU's kernels, so the digests are kept per CPU capability and
torch version; elsewhere the test says so and skips (record them with ``--record``:
``python tests/training/test_weight_digests.py --record``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# (torch major.minor, CPU capability) -> digests, taken at 2374fa0 (before the change).
DIGESTS = {
    "torch 2.14, AVX512": {
        "semantic": "8c338a99c67f9f2e1f9526b9b729557b880c4a848115826cb3d8a459f7f86475",
        "instances": "f6c53c1f3c614d2329bda495039c238f2267672b8c7023d962b45637b72d827c",
    },
}

RUNS = r"""
import hashlib, json, sys
from dataclasses import replace
import numpy as np
import torch
torch.set_num_threads(1)
from fashionseg.checkpoint import load_checkpoint
from fashionseg.config import TrainConfig
from fashionseg.prepare.cache import prepare
from fashionseg.synth.writer import synth
from fashionseg.training.engine import train

root = sys.argv[1]
data = synth(root + "/d", images=12, size="48x64", seed=3, workers=1)
common = dict(batch_size=4, workers=0, seed=1, schedule="cosine", warmup_epochs=1, ema=0.9,
              val_fraction=0.25, tensorboard=False, pretrained=False)
semantic = TrainConfig(data=str(prepare(data, root + "/c", size=32, workers=1).root),
                       out=root + "/semantic", model="unet", width=4, size="32", epochs=3,
                       optimizer="adam", lr=0.01, scale_min=0.8, scale_max=1.3,
                       color_jitter=0.2, **common)
instances = TrainConfig(data=str(prepare(data, root + "/ci", size="48x64", workers=1,
                                         task="instances").root),
                        out=root + "/instances", task="instances", model="maskrcnn", width=8,
                        size="48x64", epochs=2, lr=1e-3, **common)
found = {}
for name, config in (("semantic", semantic), ("instances", instances)):
    train(replace(config, epochs=config.epochs - 1))
    train(config, resume=True)
    state = load_checkpoint(config.out + "/last.pt")
    digest = hashlib.sha256()
    for part in ("model", "ema"):
        for key in sorted(state.get(part) or {}):
            digest.update(key.encode())
            digest.update(np.ascontiguousarray(state[part][key].cpu().numpy()).tobytes())
    found[name] = digest.hexdigest()
print(json.dumps(found))
"""


def machine() -> str:
    import torch

    version = ".".join(torch.__version__.split(".")[:2])
    return f"torch {version}, {torch.backends.cpu.get_cpu_capability()}"


def run_digests(tmp: Path) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    run = subprocess.run([sys.executable, "-c", RUNS, str(tmp)], capture_output=True, text=True,
                         env=env)  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_training_gives_the_weights_it_gave_before_the_one_engine(tmp_path):
    expected = DIGESTS.get(machine())
    if expected is None:
        pytest.skip(f"no digests recorded for {machine()} (run this file with --record)")
    assert run_digests(tmp_path) == expected


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        print(f"{machine()!r}: {json.dumps(run_digests(Path(tmp)))},")
