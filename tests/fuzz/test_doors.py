"""Hypothesis fuzzes every door of outside data: otherwise valid files with one value replaced
by one of the wrong type, size or range (NaN, 1e30, 10^400, a string, a list where an object
belongs...). The only outcomes allowed are a result, a named skipped item, or the door's one-line
error; and whatever passes a door must then go through the C code behind it (pycocotools, the
analysis) without an error. Examples per door: ``CI_EXAMPLES`` of ``tests/conftest.py`` (profile ``long``: more).
"""

from __future__ import annotations

import copy
import io
import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from fashionseg.data.brush_rle import brush_decode, brush_encode
from fashionseg.data.coco import mask_runs
from fashionseg.data.coco_rle import checked_counts, decode_counts, encode_counts
from fashionseg.data.images import DataError, memory_photo
from fashionseg.data.rle import RLEError
from fashionseg.data.schema.coco import read_coco, read_results
from fashionseg.data.schema.door import SchemaError
from fashionseg.data.schema.labels import label_values
from fashionseg.data.schema.manifest import read_manifest
from fashionseg.data.schema.predictions import read_prediction
from fashionseg.data.schema.sources import read_deepfashion2

# Values of the wrong type, size and range, nested a little.
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([10**400, -(10**400), 2**63, -1, 0, 1 << 40]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([float("nan"), float("inf"), 1e30, -1e30, 1e-300]),
    st.text(max_size=20),
    st.sampled_from(["", "../../x", "0" * 500, "\0"]),
)
HOSTILE = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=8), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def paths(doc, prefix=()):
    """Every path (tuple of keys and indices) into a JSON document."""
    yield prefix
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for k, v in enumerate(doc):
            yield from paths(v, (*prefix, k))


@st.composite
def mutated(draw, base: dict) -> bytes:
    """``base`` with one value (anywhere, the top included) replaced by a hostile one, or one
    key deleted, as JSON (Python's: NaN and Infinity as the bare words)."""
    doc = copy.deepcopy(base)
    every = list(paths(doc))
    path = draw(st.sampled_from(every))
    value = draw(HOSTILE)
    if not path:
        doc = value
    else:
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        if isinstance(parent, dict) and draw(st.booleans()):
            del parent[path[-1]]
        else:
            parent[path[-1]] = value
    return json.dumps(doc).encode()


SQUARE = [2.0, 2.0, 20.0, 2.0, 20.0, 30.0, 2.0, 30.0]
COUNTS = encode_counts(np.array([10, 50, 600, 300]))  # a 24x40 photo's worth
COCO = {
    "images": [
        {"id": 1, "file_name": "a.jpg", "height": 32, "width": 24},
        {"id": 2, "file_name": "b.jpg", "height": 40, "width": 24},
    ],
    "annotations": [
        {"id": 1, "image_id": 1, "category_id": 1, "segmentation": [SQUARE],
         "area": 500.0, "bbox": [2, 2, 18, 28], "iscrowd": 0, "attribute_ids": [7]},
        {"id": 2, "image_id": 2, "category_id": 2,
         "segmentation": {"size": [40, 24], "counts": COUNTS}, "attribute_ids": []},
    ],
    "categories": [{"id": 1, "name": "shirt"}, {"id": 2, "name": "shoe"}],
    "attributes": [{"id": 7, "name": "plain"}],
}  # fmt: skip


@given(mutated(COCO))
def test_coco_ground_truth_door(data):
    try:
        coco = read_coco(data, "gt.json")
    except SchemaError as e:
        assert str(e).startswith("gt.json: ") and "\n" not in str(e)
        return
    for s in coco.skipped:
        assert s.item and s.reason and "\n" not in str(s)
    # Everything past the door rasterises (pycocotools) and converts from its runs.
    for image in coco.images:
        for ann in coco.annotations.get(image.id, []):
            runs = mask_runs(ann.segmentation, image.height, image.width)
            assert runs.sum() == image.height * image.width


RESULTS = [
    {"image_id": 1, "category_id": 1, "segmentation": [SQUARE], "score": 0.9,
     "bbox": [2, 2, 18, 28], "attribute_ids": [7]},
    {"image_id": "b", "category_id": 2, "score": 0.4,
     "segmentation": {"size": [40, 24], "counts": COUNTS}},
]  # fmt: skip


@given(mutated({"annotations": RESULTS}))
def test_results_door(data):
    sizes = {1: (32, 24), 2: (40, 24)}
    try:
        entries = read_results(data, "res.json", sizes, {1, 2}, {7}, {"a": 1, "b": 2})
    except SchemaError as e:
        assert str(e).startswith("res.json: ") and "\n" not in str(e)
        return
    from pycocotools import mask as mask_utils

    for e in entries:
        h, w = sizes[e.image_id]
        runs = mask_runs(e.segmentation, h, w)
        rle = {"size": [h, w], "counts": encode_counts(runs).encode()}
        assert int(mask_utils.area(rle)) == int(runs[1::2].sum())


DF2 = {
    "source": "user",
    "item1": {"category_id": 1, "segmentation": [SQUARE], "bounding_box": [2, 2, 20, 30]},
    "item2": {"category_id": 8, "segmentation": [SQUARE]},
}


@given(mutated(DF2))
def test_deepfashion2_door(data):
    try:
        items, skipped = read_deepfashion2(data, "000001.json")
    except SchemaError as e:
        assert str(e).startswith("000001.json: ")
        return
    assert all(k.startswith("item") for k, _ in items)
    assert all(s.reason for s in skipped)


MANIFEST = {
    "files": {
        "a.zip": {"url": "https://x/a.zip", "size": 10, "sha256": "a" * 64, "extracted": True,
                  "checked": "2026-12-07T00:00:00+00:00"},
    }
}  # fmt: skip


@given(mutated(MANIFEST))
def test_manifest_door(data):
    try:
        entries, bad = read_manifest(data, "manifest.json")
    except SchemaError as e:
        assert str(e).startswith("manifest.json: ")
        return
    for entry in entries.values():
        assert isinstance(entry.size, int) and entry.size >= 0 and len(entry.sha256) == 64
    assert all(b.item in json.loads(data)["files"] for b in bad)


PREDICTION = {
    "image": {"path": "photos/a.jpg", "width": 24, "height": 32},
    "model": "bundled",
    "garments": [
        {"class_id": 1, "name": "shirt", "area_fraction": 0.3, "bbox": [1, 2, 20, 30],
         "color": {"name": "navy", "hex": "#112244"}, "rle": "1 4"},
    ],
    "instances": [{"class_id": 1, "name": "shirt", "score": 0.8,
                   "attributes": [{"id": 7, "name": "plain", "score": 0.9}]}],
}  # fmt: skip


@given(mutated(PREDICTION))
def test_prediction_door_and_the_analysis_behind_it(data):
    from fashionseg.use.analyze import collection_stats, regroup

    try:
        doc = read_prediction(data, "a.json")
    except SchemaError as e:
        assert str(e).startswith("a.json: ")
        return
    stats = collection_stats([doc, doc])
    assert stats["photos"] == 2
    regroup(doc)


@given(data=st.data())
def test_catalogue_table_door(data, tmp_path_factory):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from fashionseg.data.schema.table import FIELDS
    from fashionseg.errors import DataFormatError
    from fashionseg.use.analyze import collection_stats
    from fashionseg.use.table import read_docs

    kinds = {
        "string": (pa.string(), st.text(max_size=6)),
        "int": (pa.int64(), st.integers(-(2**40), 2**40)),
        "float": (pa.float64(), st.floats(allow_nan=True, allow_infinity=True)),
        "bool": (pa.bool_(), st.booleans()),
    }
    good = {"string": "string", "large_string": "string", "int16": "int", "int32": "int",
            "float64": "float"}  # fmt: skip
    rows = data.draw(st.integers(1, 4))
    columns = {}
    for name, kind in FIELDS:
        chosen = data.draw(st.sampled_from([good[kind]] * 3 + list(kinds)))
        arrow, values = kinds[chosen]
        columns[name] = pa.array(data.draw(st.lists(values, min_size=rows, max_size=rows)), arrow)
    path = tmp_path_factory.mktemp("t") / "t.parquet"
    pq.write_table(pa.table(columns), path)
    try:
        docs = read_docs(path)
    except DataFormatError as e:
        assert str(path) in str(e) and "\n" not in str(e)
        return
    collection_stats(docs)


@given(
    st.sampled_from([np.uint8, np.int16, np.int64, np.float32, np.float64, bool]),
    st.integers(0, 3),
    st.lists(st.one_of(st.integers(-300, 300), st.floats(allow_nan=True)), min_size=1, max_size=30),
)
def test_label_map_door(dtype, ndim, values):
    array = np.resize(np.array(values, dtype=np.float64), (3,) * ndim if ndim else ())
    with np.errstate(invalid="ignore", over="ignore"):
        array = array.astype(dtype) if dtype is not bool else array > 0
    try:
        labels = label_values(array, 20, "mask.png")
    except SchemaError as e:
        assert str(e).startswith("mask.png: ")
        return
    assert labels.dtype == np.uint8 and labels.ndim == 2 and labels.max() < 20


PHOTO_MODES = ["RGB", "L", "1", "P", "RGBA", "CMYK", "I", "I;16", "F", "LA"]


@given(
    st.one_of(
        st.tuples(st.sampled_from(PHOTO_MODES), st.integers(0, 6), st.integers(0, 6)),
        st.tuples(
            st.sampled_from([np.uint8, np.uint16, np.float32]),
            st.lists(st.integers(0, 5), min_size=0, max_size=4),
        ),
    )
)
def test_in_memory_photo_door(spec):
    if isinstance(spec[0], str):
        mode, w, h = spec
        photo = Image.new(mode, (w, h))
    else:
        dtype, shape = spec
        photo = np.zeros(shape, dtype=dtype)
    try:
        rgb = memory_photo(photo, "photo 0")
    except DataError as e:
        assert str(e).startswith("photo 0: ")
        return
    assert rgb.mode == "RGB" and rgb.width > 0 and rgb.height > 0


@given(st.binary(max_size=40), st.integers(1, 30), st.integers(1, 30))
def test_compressed_rle_door(raw, h, w):
    try:
        runs = checked_counts(raw, h, w)
    except RLEError:
        return
    assert runs.sum() == h * w and (runs >= 0).all()
    # What passes is what pycocotools reads, now safely.
    from pycocotools import mask as mask_utils

    mask = mask_utils.decode({"size": [h, w], "counts": raw})
    assert int(mask.sum()) == int(runs[1::2].sum())
    assert (
        encode_counts(decode_counts(raw)).encode()
        == mask_utils.encode(np.asfortranarray(mask))["counts"]
        or int(mask.sum()) >= 0
    )


def test_a_truncated_in_memory_photo_is_a_data_error():
    buf = io.BytesIO()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(buf, "PNG")
    cut = Image.open(io.BytesIO(buf.getvalue()[: len(buf.getvalue()) // 2]))
    with pytest.raises(DataError, match="truncated"):
        memory_photo(cut, "photo 3")


BRUSH = brush_encode(np.pad(np.ones((6, 5), bool), ((2, 0), (1, 2))))  # an 8x8 photo's region
LS_EXPORT = [
    {"id": 1, "data": {"image": "/data/local-files/?d=a.jpg", "fashionseg_stem": "a"},
     "annotations": [{"id": 3, "was_cancelled": False, "result": [
         {"id": "r1", "type": "brushlabels", "from_name": "garment", "to_name": "image",
          "original_width": 8, "original_height": 8,
          "value": {"format": "rle", "rle": BRUSH, "brushlabels": ["shoe"]}},
         {"id": "r1", "type": "choices", "from_name": "attributes", "to_name": "image",
          "value": {"choices": ["symmetrical"]}},
         {"id": "r2", "type": "polygonlabels", "from_name": "garment_polygon",
          "original_width": 8, "original_height": 8,
          "value": {"points": [[10, 10], [60, 10], [60, 70]], "polygonlabels": ["hat"]}},
     ]}]},
]  # fmt: skip


@given(mutated({"tasks": LS_EXPORT}))
def test_label_studio_export_door(data):
    from fashionseg.data.schema.labelling import read_labelstudio, read_results
    from fashionseg.datasets.convert.labelling import Vocabulary, _ls_regions
    from fashionseg.datasets.convert.layout import Problems

    doc = json.loads(data)  # the export is a list: the mutated document's "tasks"
    tasks_json = json.dumps(doc.get("tasks") if isinstance(doc, dict) else doc).encode()
    try:
        tasks, skipped = read_labelstudio(tasks_json, "export.json")
    except SchemaError as e:
        assert str(e).startswith("export.json: ") and "\n" not in str(e)
        return
    problems = Problems("export.json")
    for name, task in tasks:
        for annotation in task.annotations:
            results, bad = read_results(annotation.result)
            # Past the door every region is a mask of the photo or a named skip.
            for mask, class_id, _ in _ls_regions(results, (8, 8), Vocabulary(), name, problems):
                assert mask.shape == (8, 8) and 0 <= class_id < 46
    for s in [*skipped, *problems.items]:
        assert s.item and s.reason and "\n" not in str(s)


@given(st.binary(max_size=60), st.integers(1, 12), st.integers(1, 12))
def test_brush_rle_door(raw, h, w):
    # A valid header for the size, then random chunks: the mask or RLEError, never a hang.
    header = list(brush_encode(np.zeros((h, w), bool))[:7])
    for rle in (list(raw), header[:6] + list(raw)):
        try:
            mask = brush_decode(rle, h, w)
        except RLEError:
            continue
        assert mask.shape == (h, w) and mask.dtype == bool


CVAT = (
    '<annotations><image id="0" name="a.jpg" width="{w}" height="8">'
    '<mask label="{label}" rle="{rle}" left="{left}" top="1" width="3" height="2">'
    '<attribute name="symmetrical">{value}</attribute></mask>'
    '<polygon label="hat" points="{points}"/></image></annotations>'
)
CVAT_VALUES = st.one_of(st.text(max_size=12), st.sampled_from(["nan", "-1", "1e400", "9" * 30, "3, 3", "0,0;1"]))  # fmt: skip


@given(w=CVAT_VALUES, label=CVAT_VALUES, rle=CVAT_VALUES, left=CVAT_VALUES, value=CVAT_VALUES,
       points=CVAT_VALUES)  # fmt: skip
def test_cvat_door(w, label, rle, left, value, points):
    from xml.sax.saxutils import escape

    from fashionseg.data.schema.labelling import read_cvat
    from fashionseg.datasets.convert.labelling import Vocabulary, _cvat_regions
    from fashionseg.datasets.convert.layout import Problems

    fields = dict(w=w, label=label, rle=rle, left=left, value=value, points=points)
    text = CVAT.format(**{k: escape(v, {'"': "&quot;"}) for k, v in fields.items()})
    try:
        images, skipped = read_cvat(text.encode(), "a.xml")
    except SchemaError as e:
        assert str(e).startswith("a.xml: ") and "\n" not in str(e)
        return
    problems = Problems("a.xml")
    for image in images:
        for mask, class_id, _ in _cvat_regions(image, Vocabulary(), problems):
            assert mask.shape == (image.height, image.width) and 0 <= class_id < 46
    for s in [*skipped, *problems.items]:
        assert s.item and s.reason and "\n" not in str(s)
