"""Data sets in their real formats, made on the fly: a CCP repository (MATLAB files), ModaNet
(COCO JSON with polygons), DeepFashion2 (one JSON per photo) and LIP (label-map PNGs)."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

CCP_LABELS = ["null", "accessories", "bag", "blouse", "hair", "heels", "skin", "skirt", "suit"]


def photo(path: Path, width: int, height: int, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 255, (height, width, 3), dtype=np.uint8)).save(path)
    return path


def ccp_repository(root: Path) -> Path:
    """Two labelled photos and one tagged photo in CCP's layout, with ``label_list.mat``."""
    from scipy.io import savemat

    labels = np.empty((1, len(CCP_LABELS)), dtype=object)
    labels[0, :] = CCP_LABELS
    root.mkdir(parents=True, exist_ok=True)
    savemat(root / "label_list.mat", {"label_list": labels})
    for k, stem in enumerate(("0001", "0002")):
        photo(root / "photos" / f"{stem}.jpg", 60, 90, seed=k)
        truth = np.zeros((90, 60), dtype=np.uint8)
        truth[10:40, 10:50] = CCP_LABELS.index("blouse")
        truth[40:80, 15:45] = CCP_LABELS.index("skirt")
        truth[80:90, 20:40] = CCP_LABELS.index("heels")
        truth[0:10, 20:40] = CCP_LABELS.index("hair")
        truth[50:55, 0:5] = CCP_LABELS.index("suit")  # no Fashionpedia counterpart
        (root / "annotations" / "pixel-level").mkdir(parents=True, exist_ok=True)
        savemat(root / "annotations" / "pixel-level" / f"{stem}.mat", {"groundtruth": truth})
    photo(root / "photos" / "1005.jpg", 60, 90, seed=5)
    (root / "annotations" / "image-level").mkdir(parents=True, exist_ok=True)
    tags = np.array([[CCP_LABELS.index(t)] for t in ("bag", "skin", "skirt", "accessories")])
    savemat(root / "annotations" / "image-level" / "1005.mat", {"tags": tags})
    return root


def zipped(folder: Path, top: str) -> bytes:
    """``folder``'s files in a ZIP under ``top/`` (as GitHub's archives are)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                z.write(p, f"{top}/{p.relative_to(folder)}")
    return buf.getvalue()


def modanet(root: Path) -> Path:
    """A ModaNet JSON: one photo with an "outer" (a rectangle), boots (a triangle) and an
    annotation of an unknown category."""
    photo(root / "images" / "0000001.jpg", 80, 100)
    annotations = [
        {"id": 1, "image_id": 7, "category_id": 5, "segmentation": [[10, 10, 50, 10, 50, 60, 10, 60]]},
        {"id": 2, "image_id": 7, "category_id": 3, "segmentation": [[20, 80, 40, 80, 30, 95]]},
        {"id": 3, "image_id": 7, "category_id": 99, "segmentation": [[0, 0, 5, 0, 5, 5]]},
    ]  # fmt: skip
    data = {
        "images": [{"id": 7, "file_name": "0000001.jpg", "width": 80, "height": 100}],
        "annotations": annotations,
        "categories": [{"id": 5, "name": "outer"}, {"id": 3, "name": "boots"}],
    }
    (root / "modanet2018_instances_train.json").write_text(json.dumps(data))
    return root


def deepfashion2(root: Path) -> Path:
    """One DeepFashion2 photo: a short sleeve top (item1) and trousers (item2)."""
    photo(root / "image" / "000001.jpg", 64, 96)
    (root / "annos").mkdir(parents=True, exist_ok=True)
    doc = {
        "source": "user", "pair_id": 1,
        "item1": {"category_id": 1, "category_name": "short sleeve top",
                  "segmentation": [[8, 8, 56, 8, 56, 44, 8, 44]], "bounding_box": [8, 8, 56, 44]},
        "item2": {"category_id": 8, "category_name": "trousers",
                  "segmentation": [[12, 46, 52, 46, 52, 90, 12, 90]], "bounding_box": [12, 46, 52, 90]},
    }  # fmt: skip
    (root / "annos" / "000001.json").write_text(json.dumps(doc))
    return root


def lip(root: Path) -> Path:
    """One LIP photo and its label map: upper-clothes, face, both shoes, a glove."""
    photo(root / "images" / "100_1.jpg", 40, 60)
    values = np.zeros((60, 40), dtype=np.uint8)
    values[5:15, 10:30] = 13  # face
    values[15:35, 5:35] = 5  # upper-clothes
    values[50:60, 5:15] = 18  # left shoe
    values[50:60, 25:35] = 19  # right shoe
    values[30:34, 0:4] = 3  # glove
    (root / "masks").mkdir(parents=True, exist_ok=True)
    Image.fromarray(values).save(root / "masks" / "100_1.png")
    return root
