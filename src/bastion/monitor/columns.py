"""Reading monitored data: sources into partitions of pyarrow batches, and columns into numbers or category counts.

A source is a pandas DataFrame, a pyarrow Table or RecordBatch, a table file (CSV, TSV, Parquet, JSON Lines) or a
folder of them (partitioned Parquet: one partition per file). Partitions are picklable, so a process pool or a
Dask cluster can read them where they run.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from bastion.data.files import BATCH_ROWS, DataError, iter_batches, table_format

NUMERIC = "numeric"
CATEGORICAL = "categorical"
UNUSABLE = "unusable"


@dataclass(frozen=True)
class Partition:
    """One piece of a source: a file to read, or an in-memory table."""

    label: str
    """How errors name it: the file path, or ``reference``/``current`` for in-memory data."""
    path: str | None = None
    """The file, for file partitions."""
    table: Any = None
    """A pyarrow Table, for in-memory partitions."""

    def batches(self, batch_rows: int = BATCH_ROWS) -> Iterator[Any]:
        """The partition as pyarrow RecordBatches of at most ``batch_rows`` rows."""
        if self.table is not None:
            yield from self.table.to_batches(max_chunksize=batch_rows)
        elif self.path is not None:
            yield from iter_batches(Path(self.path), batch_rows=batch_rows)


def partitions(source: Any, label: str) -> list[Partition]:
    """Split ``source`` into partitions; ``label`` names in-memory data in errors (``reference``, ``current``)."""
    import pyarrow as pa

    if isinstance(source, str | Path):
        return _file_partitions(Path(source))
    if isinstance(source, list | tuple):  # chunks of a stream, or pieces already in memory
        if not source:
            raise DataError(f"{label}: an empty list of partitions")
        return [part for index, piece in enumerate(source) for part in partitions(piece, f"{label}[{index}]")]
    if isinstance(source, pa.RecordBatch):
        return [Partition(label, table=pa.Table.from_batches([source]))]
    if isinstance(source, pa.Table):
        return [Partition(label, table=source)]
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is a dependency
        pd = None
    if pd is not None and isinstance(source, pd.DataFrame):
        return [Partition(label, table=dataframe_to_table(source, label))]
    raise DataError(f"{label}: expected a DataFrame, a pyarrow Table or a path, not {type(source).__name__}")


def _file_partitions(path: Path) -> list[Partition]:
    """A table file is one partition; a folder gives one per table file inside it (recursively, sorted)."""
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith((".", "_"))
                       and table_format(p) is not None)
        if not files:
            raise DataError(f"{path}: the folder holds no CSV, TSV, Parquet or JSON Lines files")
        return [Partition(str(file), path=str(file)) for file in files]
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    if table_format(path) is None:
        raise DataError(f"{path}: not a table (expected .csv, .tsv, .parquet or .jsonl, or a folder of them)")
    return [Partition(str(path), path=str(path))]


def dataframe_to_table(frame: Any, label: str) -> Any:
    """A DataFrame as a pyarrow Table, column by column so one column of mixed types does not stop the others.

    A column pyarrow cannot type (numbers and strings mixed in an object column) becomes a column of strings whose
    field metadata records the mix; ``column_kind`` reports it as unusable with that message.
    """
    import pyarrow as pa

    arrays, fields = [], []
    for name in frame.columns:
        series = frame[name]
        try:
            array = pa.array(series, from_pandas=True)
            metadata = None
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            array = pa.array(series.map(lambda v: None if v is None else str(v)), type=pa.string())
            metadata = {b"bastion.mixed": _type_mix(series).encode()}
        arrays.append(array)
        fields.append(pa.field(str(name), array.type, metadata=metadata))
    if len(set(f.name for f in fields)) != len(fields):
        raise DataError(f"{label}: column names repeat after conversion to text")
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def _type_mix(series: Any) -> str:
    """``12 int, 3 str`` for a column of mixed Python types (nulls left out)."""
    counts = series.dropna().map(lambda v: type(v).__name__).value_counts()
    return ", ".join(f"{count} {name}" for name, count in counts.items())


def column_kind(field: Any, forced_categorical: bool = False) -> tuple[str, str | None]:
    """(kind, message): how a column of this arrow field is tested, and why not when it cannot be."""
    import pyarrow.types as types

    if field.metadata and b"bastion.mixed" in field.metadata:
        return UNUSABLE, f"mixed types ({field.metadata[b'bastion.mixed'].decode()}): convert the column to one type"
    kind = field.type
    if forced_categorical:
        return CATEGORICAL, None
    if types.is_dictionary(kind):
        kind = kind.value_type
    if types.is_boolean(kind) or types.is_string(kind) or types.is_large_string(kind):
        return CATEGORICAL, None
    if types.is_integer(kind) or types.is_floating(kind) or types.is_decimal(kind) or types.is_temporal(kind):
        return NUMERIC, None
    if types.is_null(kind):
        return NUMERIC, None  # every value missing: only the missing rate can be compared
    return UNUSABLE, f"values of type {kind} cannot be tested for drift"


def numeric_values(array: Any) -> NDArray[np.float64]:
    """The column as float64, nulls as NaN; times as nanoseconds (or days for dates) since the epoch."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.types as types

    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    kind = array.type
    if types.is_dictionary(kind):
        array = array.dictionary_decode()
        kind = array.type
    if types.is_null(kind):
        return np.full(len(array), np.nan)
    if types.is_temporal(kind):
        array = array.cast(pa.int64()) if not types.is_date32(kind) else array.cast(pa.int32())
    values = pc.cast(array, pa.float64()).to_numpy(zero_copy_only=False)
    return np.asarray(values, dtype=np.float64)


def category_counts(array: Any) -> tuple[list[str], NDArray[np.int64], int]:
    """(labels, counts, missing) of a column read as categories; labels are the values as text."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.types as types

    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    missing = int(array.null_count)
    if types.is_dictionary(array.type):
        codes = array.indices.to_numpy(zero_copy_only=False)
        codes = codes[~np.isnan(codes)] if codes.dtype.kind == "f" else codes
        counts = np.bincount(codes.astype(np.int64), minlength=len(array.dictionary))
        labels = [_label(value) for value in array.dictionary.to_pylist()]
        used = counts > 0
        return [label for label, keep in zip(labels, used, strict=True) if keep], counts[used], missing
    if not (types.is_string(array.type) or types.is_large_string(array.type)):
        array = pc.cast(array, pa.string())
    tallies = pc.value_counts(array)
    labels = tallies.field("values").to_pylist()
    counts = np.asarray(tallies.field("counts").to_numpy(), dtype=np.int64)
    keep = [value is not None for value in labels]
    return [_label(value) for value in labels if value is not None], counts[np.asarray(keep, dtype=bool)], missing


def _label(value: object) -> str:
    """Category label: booleans as ``true``/``false`` whatever the source spelled, others as text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def non_numbers(array: Any) -> tuple[int, int]:
    """(values that are not numbers, values present) of a text column expected to hold numbers."""
    import pandas as pd

    present = array.drop_null() if hasattr(array, "drop_null") else array
    text = pd.Series(present.to_pylist(), dtype=object).astype(str)
    parsed = pd.to_numeric(text, errors="coerce")
    return int(parsed.isna().sum()), len(text)
