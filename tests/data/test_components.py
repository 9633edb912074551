"""The components rule: instances for sources that have only semantic masks."""

from __future__ import annotations

import numpy as np
import pytest

from fashionseg.data.components import apply_rule, components, split_mask
from fashionseg.data.records import Instance
from fashionseg.data.rle import rle_decode, rle_encode
from fashionseg.errors import ConfigError


def two_shoes_and_a_speck() -> np.ndarray:
    mask = np.zeros((100, 100), dtype=bool)
    mask[80:95, 10:30] = True  # left shoe, 300 px
    mask[80:95, 60:85] = True  # right shoe, 375 px
    mask[70, 62] = True  # a 1-pixel speck (0.01% < 0.05%) near the right shoe
    return mask


def test_two_shoes_are_two_instances_and_a_speck_joins_the_nearest():
    mask = two_shoes_and_a_speck()
    pieces = split_mask(mask)
    assert len(pieces) == 2
    assert [int(p.sum()) for p in pieces] == [376, 300]  # largest first, speck with the right
    assert pieces[0][70, 62] and not pieces[1][70, 62]
    assert np.array_equal(pieces[0] | pieces[1], mask)  # no pixel lost
    assert not (pieces[0] & pieces[1]).any()


def test_min_area_zero_keeps_every_component_and_all_specks_make_one():
    mask = two_shoes_and_a_speck()
    assert len(split_mask(mask, min_area=0)) == 3
    specks = np.zeros((100, 100), dtype=bool)
    specks[5, 5] = specks[50, 50] = True
    (only,) = split_mask(specks)
    assert np.array_equal(only, specks)
    assert split_mask(np.zeros((4, 4), dtype=bool)) == []


def test_diagonal_neighbours_are_one_piece():
    mask = np.eye(30, dtype=bool)
    assert len(split_mask(mask, min_area=0)) == 1


def test_components_of_rows_pool_a_class_and_keep_attributes():
    h, w = 100, 100
    shoes = two_shoes_and_a_speck()
    left, right = shoes.copy(), shoes.copy()
    left[:, 50:] = False
    right[:, :50] = False
    rows = [
        Instance(23, rle_encode(left), (115,)),
        Instance(23, rle_encode(right), ()),  # one class in two rows: pooled, then split
        Instance(1, rle_encode(np.pad(np.ones((20, 20), bool), ((10, 70), (10, 70)))), ()),
    ]
    out = components(rows, h, w)
    assert [i.class_id for i in out] == [1, 23, 23]
    assert all(i.attributes == (115,) for i in out if i.class_id == 23)
    union = np.zeros((h, w), bool)
    for i in out[1:]:
        union |= rle_decode(i.rle, h, w)
    assert np.array_equal(union, shoes)
    assert apply_rule(rows, h, w, "rows") == rows
    with pytest.raises(ConfigError, match="components"):
        apply_rule(rows, h, w, "blobs")
