"""The public data sets ``fashionseg download`` knows: where their files are, what each must
hold, and how they become a folder the readers open.

Sizes are the published ones, rounded up; they only serve the free-space check before a
download starts (the server's own sizes are checked at the end).
"""

from __future__ import annotations

from dataclasses import dataclass, field

GB = 1 << 30
MB = 1 << 20


@dataclass(frozen=True)
class File:
    """One file of a data set.

    ``extract`` is where a ZIP archive is unpacked (relative to the data set's folder; None
    keeps the file as it is; Fashionpedia's archives hold ``train/`` and ``test/``, which land
    beside the JSON files, where the COCO reader looks for the photos); ``keys`` are the top-level keys a JSON file must hold.
    """

    name: str
    url: str
    size: int
    extract: str | None = None
    extracted_size: int = 0
    keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class DataSet:
    """A data set: its files, licence, and what to run on it next."""

    name: str
    title: str
    licence: str
    files: tuple[File, ...] = ()
    kaggle: str | None = None  # a Kaggle competition, fetched through Kaggle's own client
    convert: str | None = None  # the converter run after extraction (``fashionseg convert``)
    next_step: str = "fashionseg stats {out} --out {out}-stats"
    notes: str = ""
    extra: dict = field(default_factory=dict)

    def needed_bytes(self) -> int:
        """Archives plus what they unpack to: the free space a first download needs."""
        return sum(f.size + f.extracted_size for f in self.files)


_FASHIONPEDIA = "https://s3.amazonaws.com/ifashionist-dataset"
_COCO_KEYS = ("images", "annotations", "categories")


def _kaggle(year: int, workshop: str, slug: str, photos: str, attributes: int) -> DataSet:
    """An iMaterialist competition, fetched through Kaggle's client."""
    return DataSet(
        name=f"imaterialist-{year}",
        title=f"iMaterialist (Fashion) {year} at {workshop} (Kaggle): {photos} photos, 46 "
        f"categories, {attributes} attributes, RLE masks in train.csv",
        licence="the competition's rules (accept them on Kaggle first)",
        kaggle=slug,
        extra={"size": 24 * GB},
    )


DATASETS: dict[str, DataSet] = {
    d.name: d
    for d in (
        DataSet(
            name="fashionpedia",
            title="Fashionpedia (Jia et al., ECCV 2020): 48,825 photos, 46 categories, 294 "
            "attributes, instance masks",
            licence="annotations CC BY 4.0; photos from Flickr and other free-licence sources "
            "(see the Fashionpedia site)",
            files=(
                File(
                    "train2020.zip",
                    f"{_FASHIONPEDIA}/images/train2020.zip",
                    3_200 * MB,
                    extract=".",
                    extracted_size=3_200 * MB,
                ),
                File(
                    "val_test2020.zip",
                    f"{_FASHIONPEDIA}/images/val_test2020.zip",
                    300 * MB,
                    extract=".",
                    extracted_size=300 * MB,
                ),
                File(
                    "instances_attributes_train2020.json",
                    f"{_FASHIONPEDIA}/annotations/instances_attributes_train2020.json",
                    600 * MB,
                    keys=(*_COCO_KEYS, "attributes"),
                ),
                File(
                    "instances_attributes_val2020.json",
                    f"{_FASHIONPEDIA}/annotations/instances_attributes_val2020.json",
                    20 * MB,
                    keys=(*_COCO_KEYS, "attributes"),
                ),
                File(
                    "info_test2020.json",
                    f"{_FASHIONPEDIA}/annotations/info_test2020.json",
                    2 * MB,
                    keys=("images", "categories"),
                ),
                File(
                    "attributes_train2020.json",
                    f"{_FASHIONPEDIA}/annotations/attributes_train2020.json",
                    150 * MB,
                    keys=(*_COCO_KEYS, "attributes"),
                ),
                File(
                    "attributes_val2020.json",
                    f"{_FASHIONPEDIA}/annotations/attributes_val2020.json",
                    5 * MB,
                    keys=(*_COCO_KEYS, "attributes"),
                ),
            ),  # fmt: skip
            next_step="fashionseg stats {out}/instances_attributes_train2020.json --out {out}-stats",
        ),
        _kaggle(2019, "FGVC6", "imaterialist-fashion-2019-FGVC6", "45,195", 92),
        _kaggle(2020, "FGVC7", "imaterialist-fashion-2020-fgvc7", "45,623", 294),
        DataSet(
            name="ccp",
            title="Clothing Co-Parsing (Yang et al., CVPR 2014): 1,004 photos with pixel "
            "labels and 1,094 with tags, converted to the 46 Fashionpedia categories",
            licence="Apache License 2.0 (the repository's LICENSE)",
            files=(
                File(
                    "clothing-co-parsing-master.zip",
                    "https://github.com/bearpaw/clothing-co-parsing/archive/refs/heads/master.zip",
                    130 * MB,
                    extract="source",
                    extracted_size=140 * MB,
                ),
            ),  # fmt: skip
            convert="ccp",
            next_step="fashionseg stats {out}/ccp --out {out}-stats",
        ),
    )
}
