"""The Python front door: fashionseg.Segmenter gives what predict writes, and its docs run."""

from __future__ import annotations

import doctest
import io
import json
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import fashionseg
from fashionseg.cli import main

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "src" / "fashionseg" / "sample" / "ccp" / "train"


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> list[Path]:
    """Ten real photos of the bundled sample."""
    folder = tmp_path_factory.mktemp("photos")
    for p in sorted(SAMPLE.glob("*.jpg"))[:10]:
        shutil.copy(p, folder / p.name)
    return sorted(folder.glob("*.jpg"))


@pytest.fixture(scope="module")
def predicted(photos, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("pred") / "out"
    assert main(["predict", str(photos[0].parent), "--out", str(out)]) == 0
    return out


def test_version_is_the_package_metadata_and_the_package_is_typed():
    assert fashionseg.__version__ == metadata.version("fashionseg")
    assert (Path(fashionseg.__file__).parent / "py.typed").is_file()


def test_import_fashionseg_does_not_load_torch():
    code = "import sys, fashionseg; print('torch' in sys.modules, fashionseg.__version__)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.split()[0] == "False", done.stderr


def test_label_maps_and_documents_equal_predicts_byte_for_byte(photos, predicted):
    results = fashionseg.Segmenter()(photos)
    assert len(results) == len(photos)
    for photo, result in zip(photos, results):
        png = np.asarray(Image.open(predicted / f"{photo.stem}.png"))
        assert result.label_map.dtype == np.uint8
        assert np.array_equal(result.label_map, png), photo.name
        assert result.to_json() == json.loads((predicted / f"{photo.stem}.json").read_text())
        doc = result.to_json()["garments"]
        assert [g.to_dict() for g in result.garments] == doc


def test_every_kind_of_photo_gives_the_same_label_map(photos):
    seg = fashionseg.Segmenter()
    by_path = seg(photos[0])
    rgb = Image.open(photos[0]).convert("RGB")
    for other in (seg(str(photos[0])), seg(photos[0].read_bytes()), seg(rgb), seg(np.asarray(rgb))):
        assert isinstance(other, fashionseg.Segmentation)
        assert np.array_equal(other.label_map, by_path.label_map)
    one_by_one = fashionseg.Segmenter(batch_size=1)(photos[:3])
    assert [r.path for r in one_by_one] == [str(p) for p in photos[:3]]


def test_products_mirror_predicts_options(photos, tmp_path):
    out = tmp_path / "only"
    assert main(["predict", str(photos[0]), "--out", str(out), "--only", "shoe", "--cutouts"]) == 0
    shoe = fashionseg.Segmenter(only="shoe")(photos[0])
    assert np.array_equal(shoe.label_map, np.asarray(Image.open(out / f"{photos[0].stem}.png")))
    assert [g.name for g in shoe.garments] == ["shoe"]
    cut = Image.open(out / photos[0].stem / "shoe.png")
    assert np.array_equal(np.asarray(shoe.cutouts()["shoe"]), np.asarray(cut))
    groups = fashionseg.Segmenter(groups=True)(photos[0])
    assert {g.name for g in groups.garments} <= set(groups.names[1:])
    assert "upper body" in {g.name for g in groups.garments}
    overlay = Image.open(out / f"{photos[0].stem}_overlay.jpg")
    assert shoe.overlay().size == overlay.size


def test_errors_are_the_one_line_exceptions_of_the_cli(tmp_path):
    with pytest.raises(fashionseg.FashionsegError, match="unknown garment 'sombrero'"):
        fashionseg.Segmenter(only="sombrero")
    with pytest.raises(fashionseg.FashionsegError, match="no such model file"):
        fashionseg.Segmenter(tmp_path / "missing.onnx")
    seg = fashionseg.Segmenter()
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not a photo")
    with pytest.raises(fashionseg.FashionsegError, match="bad.jpg"):
        seg(bad)
    with pytest.raises(fashionseg.FashionsegError, match=r"\(H, W, 3\) uint8"):
        seg(np.zeros((4, 4), np.float32))
    with pytest.raises(fashionseg.FashionsegError, match="not int"):
        seg(3)


def test_the_api_docs_run(monkeypatch):
    monkeypatch.chdir(ROOT)
    failed, tried = doctest.testfile(
        str(ROOT / "docs" / "api.md"), module_relative=False, optionflags=doctest.ELLIPSIS
    )
    assert tried > 10 and failed == 0


def test_a_segmentation_pickles_for_the_writer_processes(photos):
    import pickle

    result = fashionseg.Segmenter()(photos[1])
    again = pickle.loads(pickle.dumps(result))
    assert np.array_equal(again.label_map, result.label_map)
    assert again.to_json() == result.to_json()
    buf = io.BytesIO()
    again.overlay().save(buf, format="PNG")
    assert buf.tell() > 0
