import filecmp
import json

import numpy as np
import pytest

from conftest import CCP, need
from fashionseg.cli import main
from fashionseg.data.compose import compose
from fashionseg.data.formats import open_dataset
from fashionseg.data.rle import rle_decode
from fashionseg.synth.writer import synth

# The first 16 hex digits of the SHA-256 of synth's two photos of seed 3 at 64x96, as they were
# before synth named attributes.
PHOTOS_SEED_3 = "c312f01fd27596b3"


def test_synth_is_deterministic_and_rich(tmp_path):
    a = synth(tmp_path / "a", images=6, size="64x96", seed=7, workers=1)
    b = synth(tmp_path / "b", images=6, size="64x96", seed=7, workers=2)
    c = synth(tmp_path / "c", images=6, size="64x96", seed=8, workers=1)
    assert filecmp.cmp(a / "train.csv", b / "train.csv", shallow=False)
    assert not filecmp.cmp(a / "train.csv", c / "train.csv", shallow=False)
    ds = open_dataset(a)
    assert len(ds.categories.categories) == 46 and len(ds.categories.attributes) == 294
    classes, overlaps = set(), 0
    for r in ds:
        assert r.error is None
        classes |= {i.class_id for i in r.instances}
        labels = compose(r.instances, r.height, r.width)
        masks = [rle_decode(i.rle, r.height, r.width) for i in r.instances]
        overlaps += sum(m.sum() for m in masks) > np.logical_or.reduce(masks).sum()
        assert labels.shape == (96, 64)
    assert len(classes) >= 8  # garments, parts and accessories
    assert overlaps >= 3  # parts lie on garments: the overlap rule is exercised


@pytest.mark.slow
def test_stats_outputs(synth_data, tmp_path):
    assert main(["stats", str(synth_data), "--out", str(tmp_path / "s")]) == 0
    summary = json.loads((tmp_path / "s" / "summary.json").read_text())
    assert summary["images"] == 12
    for f in ["categories.png", "sizes.png", "samples.png", "attributes.png", "summary.md"]:
        assert (tmp_path / "s" / f).stat().st_size > 0


@pytest.mark.slow
def test_stats_on_real_photos(tmp_path):
    main(["stats", str(need(CCP)), "--out", str(tmp_path / "s")])
    summary = json.loads((tmp_path / "s" / "summary.json").read_text())
    shoe = next(c for c in summary["categories"] if c["name"] == "shoe")
    assert shoe["images"] == 780 and abs(shoe["image_share"] - 780 / 799) < 1e-9
    parts = [c for c in summary["categories"] if c["id"] >= 27]
    assert all(c["images"] == 0 for c in parts)  # CCP has no garment-part labels


def test_a_pattern_is_named_only_where_it_shows():
    from fashionseg.synth.painter import Fabric

    stripes = Fabric(kind=1, period=20.0, contrast=150.0)
    assert stripes.pattern((0, 0, 60, 90)) == "stripe"
    assert stripes.pattern((0, 0, 30, 90)) is None  # 1.5 periods across: reads as two-tone
    assert Fabric(kind=3, period=8.0, contrast=20.0).pattern((0, 0, 60, 90)) is None  # faint
    assert Fabric(kind=0, period=50.0, contrast=0.0).pattern((0, 0, 5, 5)) == "plain (pattern)"
    assert Fabric(kind=4, period=8.0, contrast=200.0).pattern((0, 0, 60, 90)) is None  # mottled


def test_synth_photos_of_a_seed_stay_those_of_before(tmp_path):
    # The attributes are read off what is drawn, with no extra random draw: the photos of a
    # seed (and the tiny models the other tests train on them) do not change with the labels.
    import hashlib

    data = synth(tmp_path / "s", images=2, size="64x96", seed=3, workers=1)
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in sorted((data / "train").iterdir())))
    assert digest.hexdigest()[:16] == PHOTOS_SEED_3
