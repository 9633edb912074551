"""The labelling tools' own code reads what fashionseg writes, and fashionseg reads what they
write: Label Studio's converter (label-studio-sdk), Datumaro's CVAT importer, and a real Label
Studio server (project, import, annotate, export through its API).

They live in a venv of their own (``make labelling-venv``, which ``.ci/run`` runs): Label
Studio pins Django, Datumaro pins NumPy and OpenCV, fashionseg's venv keeps its own. Where that
venv is absent (a user's clone), these tests skip.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from labelstudio_server import LabelStudio, labelling_venv
from PIL import Image

from fashionseg.data.rle import rle_decode
from fashionseg.use.labelling import cvat

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "src" / "fashionseg" / "sample" / "ccp" / "train"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def venv() -> Path:
    found = labelling_venv()
    if found is None:
        pytest.skip("no labelling venv (make labelling-venv; .ci/run makes it)")
    return found


def fashionseg(*args) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "fashionseg", *map(str, args)], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr


def in_venv(venv: Path, script: str, *args) -> str:
    run = subprocess.run(
        [str(venv / "bin" / "python"), "-c", script, *map(str, args)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    return run.stdout


@pytest.fixture(scope="module")
def predicted(tmp_path_factory) -> Path:
    """predict --labelstudio --cvat on three sample photos (photos named under the root)."""
    root = tmp_path_factory.mktemp("tools")
    photos = root / "photos"
    photos.mkdir()
    for p in sorted(SAMPLE.glob("*.jpg"))[1:4]:
        shutil.copy(p, photos / p.name)
    fashionseg("predict", photos, "--out", root / "out", "--labelstudio", root / "tasks.json",
               "--cvat", root / "cvat.xml", "--photo-root", root)  # fmt: skip
    return root


def label_maps(root: Path) -> dict[str, tuple[np.ndarray, dict[str, int]]]:
    """stem -> (predict's label map, garment name -> label value)."""
    out = {}
    for png in (root / "out").glob("*.png"):
        doc = json.loads(png.with_suffix(".json").read_text())
        names = {g["name"]: g["class_id"] + 1 for g in doc["garments"]}
        out[png.stem] = np.asarray(Image.open(png)), names
    return out


SDK_DECODE = """
import json, sys
import numpy as np
from label_studio_sdk.converter.brush import decode_rle
masks = {}
for task in json.load(open(sys.argv[1])):
    for r in task["predictions"][0]["result"]:
        h, w = r["original_height"], r["original_width"]
        rgba = np.reshape(decode_rle(r["value"]["rle"]), [h, w, 4])
        key = task["data"]["fashionseg_stem"] + "|" + r["value"]["brushlabels"][0]
        masks[key] = rgba[:, :, 3]
np.savez_compressed(sys.argv[2], **masks)
"""


def test_label_studios_converter_decodes_every_region_to_its_garment(venv, predicted):
    in_venv(venv, SDK_DECODE, predicted / "tasks.json", predicted / "sdk.npz")
    decoded = np.load(predicted / "sdk.npz")
    maps = label_maps(predicted)
    assert len(decoded.files) == sum(len(names) for _, names in maps.values()) > 3
    for key in decoded.files:
        stem, name = key.split("|")
        labels, names = maps[stem]
        assert np.array_equal(decoded[key] == 255, labels == names[name]), key
        assert set(np.unique(decoded[key])) <= {0, 255}


DATUMARO_IMPORT = """
import json, sys
import numpy as np
from datumaro.components.annotation import AnnotationType
from datumaro.components.dataset import Dataset
dataset = Dataset.import_from(sys.argv[1], "cvat")
labels = dataset.categories()[AnnotationType.label]
masks, found = {}, []
for item in dataset:
    for k, ann in enumerate(item.annotations):
        key = f"{item.id}|{k}"
        masks[key] = ann.image.astype(bool)
        attributes = sorted(a for a, v in ann.attributes.items() if v is True)
        found.append({"key": key, "label": labels[ann.label].name, "attributes": attributes})
np.savez_compressed(sys.argv[2], **masks)
print(json.dumps(found))
"""


def test_datumaro_imports_the_cvat_file_with_masks_and_attributes(venv, predicted, tmp_path):
    # predict's file, and one with attributes (the bundled model gives none): predict's
    # documents with attributes set on their garments.
    docs = {p.stem: json.loads(p.read_text()) for p in (predicted / "out").glob("*.json")}
    names = ["background", *[n for n in _names()]]
    attributes = {115: "symmetrical", 136: "above-the-hip (length)"}
    for doc in docs.values():
        for g in doc["garments"]:
            g["attributes"] = [{"id": 115, "name": "symmetrical"}] if g["class_id"] < 27 else []
    spec = cvat.label_spec(names, attributes)
    items = [(f"photos/{stem}.jpg", doc) for stem, doc in sorted(docs.items())]
    (tmp_path / "attributes.xml").write_text(cvat.cvat_xml(items, spec))
    # The layout of CVAT's export "with images": annotations.xml beside images/<name>.
    shutil.copytree(predicted / "photos", tmp_path / "images" / "photos")
    for xml, with_attributes in ((predicted / "cvat.xml", False), (tmp_path / "attributes.xml", True)):  # fmt: skip
        shutil.copy(xml, tmp_path / "annotations.xml")
        found = json.loads(
            in_venv(venv, DATUMARO_IMPORT, tmp_path / "annotations.xml", tmp_path / "d.npz")
        )
        masks = np.load(tmp_path / "d.npz")
        expected = [
            (f"photos/{stem}", g) for stem, doc in sorted(docs.items()) for g in doc["garments"]
        ]
        assert len(found) == len(expected) > 3
        by_item: dict[str, list] = {}
        for entry in found:
            by_item.setdefault(entry["key"].split("|")[0], []).append(entry)
        for item, garments in by_item.items():
            stem = Path(item).name
            h, w = docs[stem]["image"]["height"], docs[stem]["image"]["width"]
            for entry, g in zip(garments, docs[stem]["garments"]):
                assert entry["label"] == g["name"]
                assert np.array_equal(masks[entry["key"]], rle_decode(g["rle"], h, w))
                want = ["symmetrical"] if with_attributes and g["class_id"] < 27 else []
                assert entry["attributes"] == want


def _names() -> list[str]:
    from fashionseg.data.categories import fashionpedia

    return fashionpedia().names()[1:]


def test_a_label_studio_server_round_trip_is_pixel_exact_and_trains(venv, predicted, tmp_path):
    config = subprocess.run(
        [sys.executable, "-m", "fashionseg", "label-config"], capture_output=True, text=True
    ).stdout
    tasks = json.loads((predicted / "tasks.json").read_text())
    with LabelStudio(venv, tmp_path, predicted) as studio:
        project = studio.project("fashionseg", config, storage=predicted / "photos")
        imported = studio.call("POST", f"/api/projects/{project}/import", tasks)
        assert imported["task_count"] == 3 and imported["prediction_count"] == 3
        listed = studio.call("GET", f"/api/tasks?project={project}&page_size=100")["tasks"]
        for task in listed:
            # What a person does who finds the pre-annotations right: accept them.
            prediction = studio.call("GET", f"/api/tasks/{task['id']}")["predictions"][0]
            studio.call("POST", f"/api/tasks/{task['id']}/annotations",
                        {"result": prediction["result"], "parent_prediction": prediction["id"]})  # fmt: skip
        # The photo is served to the labelling page from the local files.
        photo = tasks[0]["data"]["image"]
        assert studio.call("GET", photo, raw=True) == (predicted / photo.split("?d=")[1]).read_bytes()  # fmt: skip
        export = studio.call("GET", f"/api/projects/{project}/export?exportType=JSON", raw=True)
    (tmp_path / "export.json").write_bytes(export)
    data = tmp_path / "data"
    fashionseg("convert", "labelstudio", tmp_path / "export.json", "--out", data,
               "--photo-root", predicted)  # fmt: skip
    from fashionseg.data.formats import open_dataset

    maps = label_maps(predicted)
    records = {r.image_id: r for r in open_dataset(data)}
    assert set(records) == set(maps)
    for stem, (labels, _) in maps.items():
        painted = np.zeros_like(labels)
        for inst in records[stem].instances:
            painted[rle_decode(inst.rle, *labels.shape)] = inst.class_id + 1
        assert np.array_equal(painted, labels), stem
    fashionseg("train", "--data", data, "--out", tmp_path / "run", "--model", "unet", "--width",
               "4", "--size", "32", "--epochs", "1", "--batch-size", "2", "--workers", "0",
               "--val-fraction", "0.34", "--no-tensorboard")  # fmt: skip
    assert (tmp_path / "run" / "last.pt").is_file()
