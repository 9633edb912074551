"""``--table``: the catalogue table, one Parquet row per garment (``use/table.py`` writes and
reads it), filled as photos finish."""

from __future__ import annotations

from pathlib import Path

from fashionseg.use.predict.sinks.base import SinkContext, SinkSpec


class Table:
    """The table's rows go out in row groups as photos finish; the file appears on close."""

    def __init__(self, path: Path, context: SinkContext | None = None):
        from fashionseg.use.table import GarmentTable

        self.table = GarmentTable(path)

    def add(self, stem: str, doc: dict) -> None:
        self.table.add(doc)

    def close(self) -> None:
        self.table.close()

    def abort(self) -> None:
        self.table.abort()


SPEC = SinkSpec(
    name="table",
    metavar="FILE.parquet",
    help="the catalogue table: one Parquet row per garment (pandas, DuckDB, Spark and Polars "
    "read it; so does analyze)",
    open=Table,
    ray=True,
)
