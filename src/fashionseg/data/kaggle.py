"""The Kaggle iMaterialist layout: ``<split>/<ImageId>.jpg`` and ``<split>.csv[.gz]``."""

from __future__ import annotations

import contextlib
import csv
import gzip
import io
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path

from fashionseg.data.categories import CategoryTable
from fashionseg.data.records import Dataset, Instance, Record, is_plain_name
from fashionseg.data.rle import MAX_PIXELS
from fashionseg.errors import DataFormatError

csv.field_size_limit(sys.maxsize)


def _open_text(path: Path) -> io.TextIOBase:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")


def _parse_int(text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{what} is not an integer: {text[:20]!r}") from None


def _parse_ints(tokens: list[str]) -> tuple[int, ...]:
    try:
        return tuple(map(int, tokens))
    except ValueError:  # name the token that is not one
        return tuple(_parse_int(t, "AttributesIds") for t in tokens)


class KaggleDataset(Dataset):
    """The iMaterialist layout: ``<split>/<ImageId>.jpg`` and ``<split>.csv[.gz]``."""

    layout = "kaggle"
    REQUIRED = ("ImageId", "EncodedPixels", "ClassId")
    # A submission file (the test split's format) has no sizes: they come from the photos.
    COLUMNS = ("ImageId", "EncodedPixels", "Height", "Width", "ClassId", "AttributesIds")

    def __init__(self, root: Path, csv_path: Path, image_dir: Path, categories: CategoryTable):
        super().__init__(root, categories)
        self.csv_path = csv_path
        self.image_dir = image_dir
        self._ids: list[str] | None = None
        self._grouped = True
        self._known = categories.ids()

    def _rows(self) -> Iterator[list[str]]:
        with self._reading():
            yield from self._read_rows()

    @contextlib.contextmanager
    def _reading(self):
        """The file's faults as one line naming it."""
        try:
            yield
        except UnicodeDecodeError as e:
            raise DataFormatError(
                f"{self.csv_path}: not UTF-8 text (byte 0x{e.object[e.start]:02x} at offset "
                f"{e.start} of a block)"
            ) from None
        except (EOFError, gzip.BadGzipFile, zlib.error) as e:
            raise DataFormatError(
                f"{self.csv_path}: truncated or corrupt compressed file ({e})"
            ) from None
        except csv.Error as e:
            raise DataFormatError(f"{self.csv_path}: not a readable CSV ({e})") from None

    def _read_rows(self) -> Iterator[list[str]]:
        with _open_text(self.csv_path) as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if header is None:
                raise DataFormatError(f"{self.csv_path}: empty CSV")
            missing = [c for c in self.REQUIRED if c not in header]
            if missing:
                raise DataFormatError(f"{self.csv_path}: missing columns {', '.join(missing)}")
            cols = [header.index(c) if c in header else None for c in self.COLUMNS]
            width = len(cols)
            if cols == list(range(width)):  # the competition's own column order
                for row in reader:
                    if len(row) == width:
                        yield row
                    elif row:
                        yield (row + [""] * width)[:width]
                return
            for row in reader:
                if row:
                    yield [row[c] if c is not None and c < len(row) else "" for c in cols]

    def _first_fields(self) -> list[str] | None:
        """Each row's ImageId read as the text before the line's first comma, at a fraction
        of a CSV parse (the ids pass reads every EncodedPixels otherwise). Only where ImageId
        is the first column and no line holds a quoted field that could span lines or hide a
        comma in the id; None otherwise (the caller parses)."""
        plain = self.csv_path.suffix != ".gz"
        # Plain files are read as bytes, decoding only the ids (the parse checks UTF-8).
        f = open(self.csv_path, "rb") if plain else _open_text(self.csv_path)
        quote, comma, ends = (b'"', b",", b"\r\n") if plain else ('"', ",", "\r\n")
        with f:
            first = f.readline()
            first = first.decode("utf-8-sig") if plain else first
            header = next(csv.reader([first]), [])
            if not header or header[0] != "ImageId" or not set(self.REQUIRED) <= set(header):
                return None  # the parse names what is wrong
            ids = []
            for line in f:
                if quote in line and (line.count(quote) % 2 or line.startswith(quote)):
                    return None
                text = line.rstrip(ends)
                if text:
                    head = text.partition(comma)[0]
                    ids.append(head.decode() if plain else head)
            return ids

    def image_ids(self) -> list[str]:
        """ImageIds in file order (first pass over the CSV; only ids are kept)."""
        if self._ids is None:
            ids: list[str] = []
            seen: set[str] = set()
            last = None
            with self._reading():
                column = self._first_fields()
            if column is None:
                column = (row[0] for row in self._rows())
            for image_id in column:
                if image_id != last:
                    if image_id in seen:
                        self._grouped = False
                    else:
                        seen.add(image_id)
                        ids.append(image_id)
                    last = image_id
            self._ids = ids
        return self._ids

    def __len__(self) -> int:
        return len(self.image_ids())

    def __iter__(self) -> Iterator[Record]:
        self.image_ids()
        if self._grouped:
            yield from self._stream()
        else:
            # Rows of one image are scattered: group them in memory (RLE text only).
            groups: dict[str, list[list[str]]] = {}
            for row in self._rows():
                groups.setdefault(row[0], []).append(row)
            for image_id in self.image_ids():
                yield self._record(image_id, groups.pop(image_id))

    def _stream(self) -> Iterator[Record]:
        rows: list[list[str]] = []
        for row in self._rows():
            if rows and row[0] != rows[0][0]:
                yield self._record(rows[0][0], rows)
                rows = []
            rows.append(row)
        if rows:
            yield self._record(rows[0][0], rows)

    def _record(self, image_id: str, rows: list[list[str]]) -> Record:
        record = Record(image_id, self.image_dir / f"{image_id}.jpg", 0, 0)
        if not is_plain_name(image_id):
            record.error = f"ImageId {image_id[:40]!r} is not a plain file name"
            return record
        try:
            if any(not (r[2].strip() and r[3].strip()) for r in rows):
                rows = [r[:2] + list(map(str, _photo_size(record.path))) + r[4:] for r in rows]
            sizes = {(_parse_int(r[2], "Height"), _parse_int(r[3], "Width")) for r in rows}
            if len(sizes) > 1:
                raise ValueError(f"rows disagree on Height/Width: {sorted(sizes)}")
            record.height, record.width = sizes.pop()
            if record.height <= 0 or record.width <= 0:
                raise ValueError(f"invalid Height/Width {record.height}x{record.width}")
            if record.height * record.width > MAX_PIXELS:
                raise ValueError(f"size {record.height}x{record.width} is too large to allocate")
            known = self._known
            seen = set()
            for _, encoded, _, _, class_text, attr_text in rows:
                encoded = encoded.strip()
                class_text = class_text.strip()
                if not (class_text or encoded):
                    continue  # a submission's row for a photo where nothing was found
                # 2019 files fuse attributes into ClassId: "6_28_77".
                parts = class_text.split("_")
                class_id = _parse_int(parts[0], "ClassId")
                if class_id not in known:
                    raise ValueError(f"unknown ClassId {class_id}")
                attrs = _parse_ints(parts[1:] + attr_text.replace(",", " ").split())
                key = (class_id, encoded, attrs)
                if key in seen:  # duplicate rows are harmless; keep one
                    continue
                seen.add(key)
                record.instances.append(Instance(class_id, encoded, attrs))
        except ValueError as e:
            record.error = str(e)
        return record


def _photo_size(path: Path) -> tuple[int, int]:
    """(height, width) from a photo's header, for rows without Height and Width."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as photo:
            return photo.height, photo.width
    except (OSError, UnidentifiedImageError):
        raise ValueError(f"no Height/Width in the rows and no readable photo {path.name}") from None
