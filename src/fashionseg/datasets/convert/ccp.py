"""``fashionseg convert ccp``: the Clothing Co-Parsing repository's layout (``photos/``,
``annotations/pixel-level/*.mat``, ``annotations/image-level/*.mat``, ``label_list.mat``) to
the Kaggle layout (photos with pixel labels) and the unlabelled layout (photos with tags only).

With ``--scale 0.5`` and the built-in mapping this rebuilds ``ccp-fashionpedia`` and
``ccp-unlabelled`` exactly: label maps scaled by nearest neighbour, photos by Lanczos, each side
to ``round(side * scale)``.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
from tqdm import tqdm

from fashionseg.data.categories import fashionpedia
from fashionseg.data.schema.door import SchemaError, Skipped
from fashionseg.data.schema.labels import label_values
from fashionseg.datasets.convert.layout import (
    KaggleWriter,
    Problems,
    plan_kaggle,
    report_unmapped,
    save_photo,
    scale_labels,
    write_tags,
)
from fashionseg.datasets.convert.mappings import CCP, CCP_BODY
from fashionseg.errors import DataFormatError, UsageError


def _loadmat(path: Path, key: str):
    from scipy.io import loadmat

    try:
        data = loadmat(path)
    except (OSError, ValueError, TypeError) as e:
        raise DataFormatError(f"{path}: not a readable MATLAB file ({e})") from None
    if key not in data:
        raise DataFormatError(f"{path}: no {key!r} variable")
    return data[key]


def load_mapping(path: str | Path | None) -> dict[str, str | None]:
    """The built-in CCP table, or one from a file in the form of ``ccp_to_fashionpedia.json``
    (``{"map": {label id: {"ccp": name, "fashionpedia_id": id | "background" | "ignore"}}}``)."""
    if path is None:
        return dict(CCP)
    names = fashionpedia().names()
    try:
        entries = json.loads(Path(path).read_text())["map"].values()
        table = {}
        for e in entries:
            target = e["fashionpedia_id"]
            table[e["ccp"]] = names[int(target) + 1] if isinstance(target, int) else None
        return table
    except (OSError, ValueError, KeyError, TypeError, IndexError) as e:
        raise DataFormatError(f"{path}: not a CCP mapping file ({type(e).__name__}: {e})") from None


def convert_ccp(
    src: str | Path,
    out: str | Path,
    *,
    unlabelled: str | Path | None = None,
    scale: float = 1.0,
    mapping: str | Path | None = None,
    progress: bool = True,
    strict: bool = False,
    overwrite: bool = False,
) -> dict:
    """Convert a CCP repository folder.

    Args:
        src: the repository's folder (``label_list.mat`` at its top).
        out: the Kaggle-layout folder for the photos with pixel labels.
        unlabelled: the unlabelled-layout folder for the tagged-only photos (default:
            ``<out>-unlabelled``).
        scale: resize factor for photos and labels.
        mapping: a mapping file instead of the built-in table.
        strict: stop at the first bad file instead of naming and skipping it.
        overwrite: replace files that fashionseg did not write.

    Returns:
        ``{"labelled", "unlabelled", "unmapped"}`` (photo counts and the unmapped labels).
    """
    src, out = Path(src), Path(out)
    if not (src / "label_list.mat").is_file():
        raise DataFormatError(f"{src}: no label_list.mat (not the CCP repository's layout)")
    if scale <= 0 or scale > 1:
        raise UsageError(f"--scale {scale}: choose a factor in (0, 1]")
    labels = [
        str(np.asarray(x).ravel()[0])
        for x in _loadmat(src / "label_list.mat", "label_list").ravel()
    ]
    table = load_mapping(mapping)
    lut = _lut(labels, table)
    names = fashionpedia().names()
    pixel = sorted((src / "annotations" / "pixel-level").glob("*.mat"))
    folder = Path(unlabelled) if unlabelled else out.with_name(out.name + "-unlabelled")
    tagged = _tagged_mats(src, pixel)
    plan_kaggle(
        out, [src], [f"ccp{m.stem}" for m in pixel], overwrite,
        unlabelled=(folder, [f"ccp{m.stem}" for m in tagged]),
    )  # fmt: skip
    writer = KaggleWriter(out)
    problems = Problems(str(src / "annotations"), strict)
    for mat in tqdm(pixel, desc="ccp labelled", unit="photo", disable=not progress):
        photo = src / "photos" / f"{mat.stem}.jpg"
        image_id = f"ccp{mat.stem}"
        try:
            truth = label_values(_loadmat(mat, "groundtruth"), len(labels), f"{mat}: groundtruth")
        except SchemaError as e:
            problems.add(Skipped(mat.name, str(e).removeprefix(f"{mat}: ")))
            continue
        if truth.shape[::-1] != _photo_size(_need(photo)):
            raise DataFormatError(f"{mat}: groundtruth {truth.shape} and photo differ in size")
        size = save_photo(photo, writer.images / f"{image_id}.jpg", scale)
        mapped = scale_labels(lut[truth], size)
        writer.add_label_map(image_id, mapped)
        for value in np.unique(truth):
            if labels[value] not in CCP_BODY and table.get(labels[value]) is None:
                writer.unmapped[labels[value]] += 1
    writer.close()
    count = _tagged(src, tagged, labels, table, names, folder, scale, progress, problems)
    problems.close()
    return {"labelled": len(pixel), "unlabelled": count, "unmapped": dict(writer.unmapped)}


def _lut(labels: list[str], table: dict[str, str | None]) -> np.ndarray:
    """CCP label value -> label map value (Fashionpedia ClassId + 1, 0 background); labels
    the table does not name are background, and counted where they occur."""
    names = fashionpedia().names()
    lut = np.zeros(256, dtype=np.uint8)
    for value, label in enumerate(labels):
        target = table.get(label)
        if target is not None:
            if target not in names:
                raise DataFormatError(f"mapping: {label!r} -> unknown category {target!r}")
            lut[value] = names.index(target)
    return lut


def _tagged_mats(src: Path, pixel: list[Path]) -> list[Path]:
    """The image-level files of photos without pixel labels."""
    done = {m.stem for m in pixel}
    mats = sorted((src / "annotations" / "image-level").glob("*.mat"))
    return [m for m in mats if m.stem not in done]


def _tagged(
    src, mats, labels, table, names, folder: Path, scale: float, progress: bool, problems
) -> int:
    """Photos with image-level tags and no pixel labels -> ``images/`` and ``tags.csv``."""
    if not mats:
        return 0
    (folder / "images").mkdir(parents=True, exist_ok=True)
    rows, unmapped = [], Counter()
    for mat in tqdm(mats, desc="ccp tagged", unit="photo", disable=not progress):
        try:
            tags = np.asarray(_loadmat(mat, "tags")).ravel()
            tags = (
                label_values(tags.reshape(1, -1), len(labels), f"{mat}: tags")[0]
                if tags.size
                else tags.astype(int)
            )
        except SchemaError as e:
            problems.add(Skipped(mat.name, str(e).removeprefix(f"{mat}: ")))
            continue
        image_id = f"ccp{mat.stem}"
        width, height = save_photo(
            _need(src / "photos" / f"{mat.stem}.jpg"), folder / "images" / f"{image_id}.jpg", scale
        )
        tag_names = sorted({labels[t] for t in tags})
        ids = sorted({names.index(table[t]) - 1 for t in tag_names if table.get(t)})
        unmapped.update(t for t in tag_names if t not in CCP_BODY and not table.get(t))
        rows.append({"ImageId": image_id, "Height": height, "Width": width,
                     "ClassIds": " ".join(map(str, ids)), "CcpTags": " ".join(tag_names)})  # fmt: skip
    write_tags(folder, rows)
    report_unmapped(unmapped, folder)
    return len(rows)


def _need(path: Path) -> Path:
    if not path.is_file():
        raise DataFormatError(f"{path}: missing (its annotation names it)")
    return path


def _photo_size(path: Path) -> tuple[int, int]:
    from PIL import Image

    with Image.open(path) as im:
        return im.size
