import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import CCP, need
from fashionseg.data.compose import compose
from fashionseg.data.formats import open_dataset
from fashionseg.prepare.cache import open_cache, prepare
from fashionseg.synth.writer import synth


def test_cache_matches_direct_pipeline(synth_data, synth_cache):
    records = {r.image_id: r for r in open_dataset(synth_data)}
    assert len(synth_cache) == len(records)
    for i, image_id in zip(synth_cache.indices, synth_cache.ids):
        r = records[image_id]
        full = compose(r.instances, r.height, r.width)
        ref = np.asarray(Image.fromarray(full).resize((32, 32), Image.NEAREST))
        assert (synth_cache.masks[i] == ref).all()
        photo = np.asarray(Image.open(r.path).convert("RGB").resize((32, 32), Image.BILINEAR))
        assert np.abs(synth_cache.images[i].astype(int) - photo).mean() < 12
    assert synth_cache.meta["ids"][0] == "000000000000"


def test_keep_aspect_letterbox(synth_data, tmp_path):
    cache = prepare(synth_data, tmp_path / "c", size=32, keep_aspect=True, workers=1)
    # 48x64 (W x H) photos in a 32x32 canvas: 24 wide, padded 4 columns each side with ignore.
    assert (cache.masks[:, :, :4] == 255).all() and (cache.masks[:, :, 28:] == 255).all()
    assert (cache.masks[:, :, 4:28] != 255).all()


def test_other_settings_refused(synth_data, synth_cache):
    try:
        prepare(synth_data, synth_cache.root, size=16, workers=1)
    except ValueError as e:
        assert "other settings" in str(e)
    else:
        raise AssertionError("expected a refusal")


KILL_AT_IMAGE_41 = """
import os, signal, sys
import fashionseg.prepare.cache as prepare
real = prepare.run_records
def dying(*args, **kwargs):
    for n, item in enumerate(real(*args, **kwargs)):
        if n == 40:
            os.kill(os.getpid(), signal.SIGKILL)
        yield item
prepare.run_records = dying
from fashionseg.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.slow
def test_resume_after_kill(tmp_path):
    data = synth(tmp_path / "d", images=48, size="800x1200", seed=5, workers=2)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    cmd = [
        sys.executable,
        "-m",
        "fashionseg",
        "prepare",
        str(data),
        "--out",
        str(tmp_path / "c"),
        "--size",
        "64",
        "--workers",
        "1",
    ]
    # The kill lands at a known point, with no timing: the child SIGKILLs itself when asked
    # for its 41st image, after at least one flush of 32 (a timed kill raced fast machines).
    killed = subprocess.run(
        [sys.executable, "-c", KILL_AT_IMAGE_41, *cmd[3:]], env=env, capture_output=True
    )
    assert killed.returncode == -signal.SIGKILL
    done = int((np.load(tmp_path / "c" / "status.npy") == 1).sum())
    assert 0 < done < 48
    assert not json.loads((tmp_path / "c" / "meta.json").read_text())["complete"]
    assert subprocess.run(cmd, env=env, capture_output=True).returncode == 0
    resumed = open_cache(tmp_path / "c")
    fresh = prepare(data, tmp_path / "fresh", size=64, workers=2)
    assert len(resumed) == 48
    assert (np.asarray(resumed.masks) == np.asarray(fresh.masks)).all()
    assert (np.asarray(resumed.images) == np.asarray(fresh.images)).all()


def test_real_photos_prepare(tmp_path):
    src = need(CCP)
    cache = prepare(src, tmp_path / "c", size="96x128", workers=2)
    assert len(cache) == 799 and cache.size == (128, 96)
    # about 18% of the pixels are garments
    share = float((np.asarray(cache.masks) > 0).mean())
    assert 0.12 < share < 0.25
