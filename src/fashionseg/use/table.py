"""The catalogue table: one Parquet row per garment of every photo predicted.

Written by ``predict --table`` (locally or on Ray) in row groups as photos finish, so memory
stays flat on any number of photos; read by ``analyze`` and by anything that reads Parquet
(pandas, DuckDB, Spark, Polars) without fashionseg. A photo with no garment has one row whose
garment columns are null, so the table counts every photo.
"""

from __future__ import annotations

import os
from pathlib import Path

from fashionseg.data.schema.table import COLUMNS, arrow_schema, checked_table
from fashionseg.errors import DataFormatError
from fashionseg.files import temp_path

ROWS_PER_GROUP = 4096  # garments buffered before a row group is written


def rows_of(doc: dict) -> list[dict]:
    """predict's JSON document of one photo -> its table rows (one per garment)."""
    image = doc["image"]
    base = {
        "path": image["path"], "width": image["width"], "height": image["height"],
        "model": doc.get("model"),
    }  # fmt: skip
    rows = []
    for g in doc["garments"]:
        x0, y0, x1, y1 = g["bbox"]
        colour = g.get("color") or {}
        rows.append(
            dict(
                base,
                class_id=g["class_id"],
                name=g["name"],
                area_fraction=g["area_fraction"],
                x0=x0,
                y0=y0,
                x1=x1,
                y1=y1,
                color_name=colour.get("name"),
                color_hex=colour.get("hex"),
                rle=g.get("rle"),
            )  # fmt: skip
        )
    return rows or [dict(base)]


class GarmentTable:
    """A Parquet file written row group by row group; it appears at ``path`` on :meth:`close`
    (written under a temporary name until then, so a killed run leaves no half table).

    Args:
        path: the ``.parquet`` file to write.
        rows_per_group: garments buffered before a row group is written.
    """

    def __init__(self, path: str | Path, rows_per_group: int = ROWS_PER_GROUP):
        import pyarrow.parquet as pq

        self.path = Path(path)
        self.tmp = temp_path(self.path)
        self.rows_per_group = rows_per_group
        self.schema = arrow_schema()
        self.writer = pq.ParquetWriter(self.tmp, self.schema, compression="zstd")
        self.buffer: list[dict] = []
        self.photos = 0
        self.rows = 0

    def add(self, doc: dict) -> None:
        """Add one photo (predict's JSON document)."""
        self.buffer += rows_of(doc)
        self.photos += 1
        if len(self.buffer) >= self.rows_per_group:
            self._flush()

    def _flush(self) -> None:
        import pyarrow as pa

        if self.buffer:
            columns = {c: [r.get(c) for r in self.buffer] for c in COLUMNS}
            self.writer.write_table(pa.Table.from_pydict(columns, schema=self.schema))
            self.rows += len(self.buffer)
            self.buffer = []

    def close(self) -> Path:
        """Write what is buffered and move the file into place; returns its path."""
        self._flush()
        self.writer.close()
        os.replace(self.tmp, self.path)
        return self.path

    def abort(self) -> None:
        """Drop the unfinished file."""
        self.writer.close()
        self.tmp.unlink(missing_ok=True)


def read_docs(path: str | Path) -> list[dict]:
    """A catalogue table -> one prediction document per photo (what ``analyze`` reads from a
    predict folder), in the table's order.

    Raises:
        DataFormatError: not a Parquet file, or one without the table's columns.
    """
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path, columns=[c for c in COLUMNS if c != "rle"])
    except (OSError, ValueError, KeyError) as e:
        raise DataFormatError(f"{path}: not a fashionseg catalogue table ({e})") from None
    table = checked_table(table, str(path))
    docs: dict[str, dict] = {}
    for r in table.to_pylist():
        doc = docs.setdefault(
            r["path"],
            {
                "image": {"path": r["path"], "width": r["width"], "height": r["height"]},
                "model": r["model"],
                "garments": [],
            },
        )
        if r["class_id"] is not None:
            doc["garments"].append(
                {
                    "class_id": r["class_id"],
                    "name": r["name"],
                    "area_fraction": r["area_fraction"],
                    "bbox": [r["x0"], r["y0"], r["x1"], r["y1"]],
                    "color": {"name": r["color_name"], "hex": r["color_hex"]},
                }
            )
    return list(docs.values())
