import numpy as np
from PIL import Image

from conftest import FP_SAMPLE, need
from fashionseg.data.compose import compose, compose_resized, keep_classes
from fashionseg.data.formats import open_dataset
from fashionseg.data.records import Instance
from fashionseg.data.rle import rle_encode


def _inst(class_id, mask):
    return Instance(class_id, rle_encode(mask))


def test_smallest_mask_wins_and_ties_go_to_higher_class():
    big = np.zeros((4, 4), bool)
    big[:, :] = True
    small = np.zeros((4, 4), bool)
    small[1:3, 1:3] = True
    tie_a = np.zeros((4, 4), bool)
    tie_a[0, 0:2] = True
    tie_b = np.zeros((4, 4), bool)
    tie_b[0, 1:3] = True
    labels = compose([_inst(31, small), _inst(1, big), _inst(40, tie_a), _inst(35, tie_b)], 4, 4)
    assert labels[1, 1] == 32 and labels[3, 3] == 2
    assert labels[0, 0] == 41 and labels[0, 1] == 41 and labels[0, 2] == 36


def test_garments_only_drops_parts():
    top = np.ones((3, 3), bool)
    sleeve = np.zeros((3, 3), bool)
    sleeve[0] = True
    labels = compose(keep_classes([_inst(1, top), _inst(31, sleeve)], "garments"), 3, 3)
    assert (labels == 2).all()


def test_resized_equals_pillow_nearest_of_full_map():
    rec = list(open_dataset(need(FP_SAMPLE)))[1]
    full = compose(rec.instances, rec.height, rec.width)
    for w, h in [(256, 256), (384, 256), (97, 131)]:
        ref = np.asarray(Image.fromarray(full).resize((w, h), Image.NEAREST))
        assert (compose_resized(rec.instances, rec.height, rec.width, h, w) == ref).all()


def test_letterbox_pads_with_ignore():
    m = np.ones((20, 10), bool)
    labels = compose_resized([_inst(0, m)], 20, 10, 8, 8, keep_aspect=True)
    assert (
        (labels[:, 2:6] == 1).all()
        and (labels[:, :2] == 255).all()
        and (labels[:, 6:] == 255).all()
    )
