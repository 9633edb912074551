"""The catalogue table's schema (``predict --table``, one Parquet row per garment): declared
once here for the writer (``use/table.py``) and checked here when a table is read back, since
a table with the right column names can come from anywhere (pandas, Spark, a colleague)."""

from __future__ import annotations

from fashionseg.data.schema.door import SchemaError

# The table's columns and their Arrow types, in order.
FIELDS = [
    ("path", "string"), ("width", "int32"), ("height", "int32"), ("class_id", "int16"),
    ("name", "string"), ("area_fraction", "float64"), ("x0", "int32"), ("y0", "int32"),
    ("x1", "int32"), ("y1", "int32"), ("color_name", "string"), ("color_hex", "string"),
    ("rle", "large_string"), ("model", "string"),
]  # fmt: skip
COLUMNS = [name for name, _ in FIELDS]
# Value ranges a table read back must keep (nulls aside): sizes, ids, areas.
RANGES = {
    "width": (1, 1 << 28), "height": (1, 1 << 28), "class_id": (0, 253),
    "area_fraction": (0.0, 1.0),
}  # fmt: skip


def arrow_schema():
    """The table's ``pyarrow.Schema``."""
    import pyarrow as pa

    return pa.schema([(name, getattr(pa, kind)()) for name, kind in FIELDS])


def _family(kind) -> str:
    import pyarrow.types as t

    if t.is_integer(kind):
        return "integer"
    if t.is_floating(kind):
        return "number"
    if t.is_string(kind) or t.is_large_string(kind):
        return "text"
    return str(kind)


def checked_table(table, where: str):
    """``table`` (a ``pyarrow.Table`` of the read columns) cast to the table's types, after
    checking each column's kind (whole numbers, numbers, text) and its values' ranges.

    Raises:
        SchemaError: naming the column and what it holds.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    wanted = {name: getattr(pa, kind)() for name, kind in FIELDS}
    for name in table.column_names:
        got, want = _family(table.schema.field(name).type), _family(wanted[name])
        if got != want and not (want == "number" and got == "integer"):
            raise SchemaError(
                f"{where}: column {name!r} holds {table.schema.field(name).type}, "
                f"not {wanted[name]}"
            )
    for name, (low, high) in RANGES.items():
        if name in table.column_names:
            column = table.column(name)
            if column.null_count == len(column):
                continue
            bounds = pc.min_max(column)
            lo, hi = bounds["min"].as_py(), bounds["max"].as_py()
            if lo != lo or hi != hi or lo < low or hi > high:  # NaN fails both comparisons
                raise SchemaError(
                    f"{where}: column {name!r} has values from {lo} to {hi}, outside {low}..{high}"
                )
    target = pa.schema([(n, wanted[n]) for n in table.column_names])
    try:
        return table.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
        reason = str(e).splitlines()[0][:120]
        raise SchemaError(f"{where}: values that do not fit the table's types ({reason})") from None
