"""The fragment rule: pieces too small to be garments join the garment around them, in every
output; --min-area 0 changes nothing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from fashionseg.cli import main
from fashionseg.inference.fragments import EIGHT, merge_fragments

SAMPLE = Path(__file__).resolve().parents[2] / "src" / "fashionseg" / "sample" / "ccp" / "train"
COAT, SKIRT, VEST, JACKET, GLASSES = 10, 9, 6, 5, 14


def test_a_speck_inside_a_coat_becomes_coat():
    labels = np.zeros((100, 100), np.uint8)
    labels[10:90, 20:80] = COAT
    labels[40:43, 40:43] = SKIRT  # 9 px: under 0.1% of 10,000 px (10), over 0.05% (5)
    out = merge_fragments(labels, 0.001)
    assert (out[40:43, 40:43] == COAT).all() and not (out == SKIRT).any()
    assert (merge_fragments(labels, 0.0005) == labels).all()  # 9 px >= 5 px: kept


def test_a_sliver_goes_to_the_garment_it_shares_the_longest_border_with():
    labels = np.zeros((100, 100), np.uint8)
    labels[:, :50] = COAT
    labels[:, 51:] = JACKET
    labels[20:30, 50] = VEST  # touches both, but more of the jacket below
    labels[20:40, 51:53] = VEST
    out = merge_fragments(labels, 0.01)
    assert (out[20:40, 51:53] == JACKET).all() and (out[20:30, 50] == JACKET).all()


def test_small_things_on_their_own_stay_when_listed_anyway_else_become_background():
    labels = np.zeros((200, 200), np.uint8)
    labels[10:30, 10:60] = GLASSES  # 1,000 px: 2.5%, listed
    labels[100:103, 100:103] = GLASSES  # 9 px alone on background: a second lens, kept
    labels[150:152, 150:152] = SKIRT  # 4 px of a skirt seen nowhere else: background
    out = merge_fragments(labels, 0.001)
    assert (out[100:103, 100:103] == GLASSES).all()
    assert not (out == SKIRT).any() and (out[150:152, 150:152] == 0).all()


def test_min_area_zero_is_the_models_label_map_itself():
    labels = np.random.default_rng(0).integers(0, 47, (50, 60), dtype=np.uint8)
    assert merge_fragments(labels, 0) is labels


@pytest.mark.parametrize("seed", range(5))
def test_no_garment_piece_is_left_under_the_limit(seed):
    """Nested and touching pieces of random maps: after the rule every piece is large enough,
    or on its own of a garment listed anyway, and no garment is listed under the limit."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 6, (24, 32), dtype=np.uint8)
    labels = np.asarray(Image.fromarray(small).resize((128, 96), Image.NEAREST))
    labels = labels.copy()
    labels[rng.random(labels.shape) < 0.01] = 7  # scattered specks
    limit = 0.002 * labels.size
    out = merge_fragments(labels, 0.002)
    totals = np.bincount(out.ravel(), minlength=256)
    for value in np.unique(out):
        if value == 0:
            continue
        assert totals[value] >= limit, value
        comp, n = ndimage.label(out == value, structure=EIGHT)
        sizes = np.bincount(comp.ravel())
        for c in range(1, n + 1):
            if sizes[c] < limit:
                piece = comp == c
                ring = ndimage.binary_dilation(piece, structure=EIGHT) & ~piece
                assert (out[ring] == 0).all()  # only a lone piece may stay small


def test_predict_lists_no_garment_under_the_limit_and_min_area_0_is_todays_output(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    for p in sorted(SAMPLE.glob("*.jpg"))[:8]:
        shutil.copy(p, photos / p.name)
    assert main(["predict", str(photos), "--out", str(tmp_path / "clean")]) == 0
    assert main(["predict", str(photos), "--out", str(tmp_path / "raw"), "--min-area", "0"]) == 0
    from fashionseg.bundled import bundled_model
    from fashionseg.inference.predictor import Predictor

    raw_predictor = Predictor(bundled_model(), "cpu", min_area=0)
    fragments_before = fragments_after = 0
    for p in sorted(photos.iterdir()):
        clean = json.loads((tmp_path / "clean" / f"{p.stem}.json").read_text())
        raw = json.loads((tmp_path / "raw" / f"{p.stem}.json").read_text())
        assert all(g["area_fraction"] >= 0.0005 for g in clean["garments"])
        fragments_before += sum(g["area_fraction"] < 0.0005 for g in raw["garments"])
        fragments_after += len(raw["garments"]) - len(clean["garments"])
        photo, canvas = raw_predictor.photo_and_canvas(p)
        expected = raw_predictor.labels(
            raw_predictor.logits(canvas[None])[0], photo.height, photo.width
        )
        png = np.asarray(Image.open(tmp_path / "raw" / f"{p.stem}.png"))
        assert np.array_equal(png, expected)  # --min-area 0: the argmax as it always was
    assert fragments_before > 0 and fragments_after >= fragments_before


def test_a_min_area_out_of_range_is_one_line(tmp_path, capsys):
    assert (
        main(
            [
                "predict",
                str(SAMPLE / "ccp0001.jpg"),
                "--out",
                str(tmp_path / "o"),
                "--min-area",
                "2",
            ]
        )
        == 2
    )
    assert "--min-area 2.0" in capsys.readouterr().err


def test_one_coat_is_no_longer_a_patchwork_of_coat_jacket_and_vest():
    from fashionseg.data.categories import fashionpedia
    from fashionseg.inference.fragments import lookalike_values

    groups = lookalike_values(fashionpedia().names())
    labels = np.zeros((100, 100), np.uint8)
    labels[10:90, 10:45] = COAT
    labels[30:60, 30:45] = JACKET  # a large patch of jacket inside the coat: 4.5%
    labels[10:90, 60:90] = JACKET  # a jacket of its own, apart: stays a jacket
    labels[40:50, 60:70] = VEST  # a vest patch inside that jacket
    out = merge_fragments(labels, 0.0005, groups)
    assert (out[10:90, 10:45] == COAT).all()
    assert (out[10:90, 60:90] == JACKET).all()
    assert (merge_fragments(labels, 0.0005) == labels).all()  # without the groups: as it was
    assert merge_fragments(labels, 0, groups) is labels  # --min-area 0: both steps off
    assert [len(g) for g in groups] == [3, 4]
