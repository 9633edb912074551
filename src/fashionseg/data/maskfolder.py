"""Mask folders (LIP / ATR / CIHP / Fashionista style): ``images/``, ``masks/*.png``,
``classes.txt``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from fashionseg.data.categories import Category, CategoryTable
from fashionseg.data.records import Dataset, Instance, Record
from fashionseg.data.rle import MAX_PIXELS, rle_encode
from fashionseg.errors import DataFormatError
from fashionseg.files import is_photo


class MaskFolderDataset(Dataset):
    """``images/<stem>.<ext>``, ``masks/<stem>.png`` (value k = class k-1, 0 background)."""

    layout = "maskfolder"

    def __init__(self, root: Path, classes_file: Path):
        try:
            names = [
                n.strip()
                for n in classes_file.read_text(encoding="utf-8-sig").splitlines()
                if n.strip()
            ]
        except UnicodeDecodeError:
            raise DataFormatError(f"{classes_file}: not UTF-8 text") from None
        if len(names) < 2:
            raise DataFormatError(f"{classes_file}: needs background plus at least one class")
        if len(names) > 255:  # label maps are 8 bit, with 255 kept for "ignore"
            raise DataFormatError(
                f"{classes_file}: {len(names) - 1} classes; at most 254 fit an 8-bit label map"
            )
        super().__init__(root, CategoryTable([Category(i, n) for i, n in enumerate(names[1:])]))
        self.mask_dir = root / "masks"
        self.masks = sorted(self.mask_dir.glob("*.png"))
        images = {p.stem: p for p in (root / "images").iterdir() if is_photo(p)}
        self.images = images

    def __len__(self) -> int:
        return len(self.masks)

    def image_ids(self) -> list[str]:
        return [p.stem for p in self.masks]

    def __iter__(self) -> Iterator[Record]:
        from PIL import Image

        num = len(self.categories.categories)
        for mask_path in self.masks:
            stem = mask_path.stem
            path = self.images.get(stem, self.root / "images" / f"{stem}.jpg")
            record = Record(stem, path, 0, 0)
            try:
                with Image.open(mask_path) as im:
                    if im.width * im.height > MAX_PIXELS:
                        raise ValueError(f"{im.width}x{im.height} is too large")
                    labels = np.asarray(im)
            except (OSError, ValueError, Image.DecompressionBombError) as e:
                record.error = f"unreadable mask {mask_path.name}: {str(e)[:120]}"
                yield record
                continue
            if labels.ndim != 2:
                record.error = f"mask {mask_path.name} is not a single-channel label map"
                yield record
                continue
            record.height, record.width = labels.shape
            for value in np.unique(labels):
                if value == 0 or value == 255:
                    continue
                if value > num:
                    record.error = f"mask value {value} has no class in the class list"
                    break
                record.instances.append(Instance(int(value) - 1, rle_encode(labels == value)))
            yield record
