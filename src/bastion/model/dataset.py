"""Labelled data for model tests: a CSV / TSV / Parquet / JSON Lines table with feature columns and a target.

Image models take flattened pixel columns plus ``input_shape`` (``1,8,8``); text models take one text column.
Features must be numeric (the adapters feed float32 arrays): a text or mixed column is an error naming it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bastion.data.files import DataError, iter_batches

MAX_ROWS = 5_000_000
"""Rows read at most: model tests hold the data in memory; sample it first if it is bigger."""


@dataclass(frozen=True)
class LabelledData:
    """Feature matrix and labels read from one table."""

    x: np.ndarray
    """Features, ``(n, *input_shape)`` float32 (or a 1-D object array of strings for text)."""
    labels: np.ndarray
    """Target values as the file spells them, ``(n,)``."""
    features: tuple[str, ...]
    """Feature column names, in the order of the flattened sample."""
    source: str
    """The file read, for messages and reports."""


def parse_shape(text: str) -> tuple[int, ...]:
    """``"1,8,8"`` or ``"64"`` -> a tuple of positive ints; ``ValueError`` naming the bad part otherwise."""
    try:
        shape = tuple(int(part) for part in text.replace("x", ",").split(",") if part.strip())
    except ValueError:
        raise ValueError(f"input shape {text!r}: expected comma-separated whole numbers such as 1,8,8") from None
    if not shape or any(d <= 0 for d in shape):
        raise ValueError(f"input shape {text!r}: every dimension must be a positive whole number")
    return shape


def read_labelled(path: str | Path, target: str, *, features: Sequence[str] | None = None,
                  input_shape: tuple[int, ...] | None = None, text: bool = False,
                  max_rows: int = MAX_ROWS) -> LabelledData:
    """Read ``path``; ``target`` is the label column, ``features`` the inputs (default: every other column)."""
    import pyarrow as pa

    path = Path(path)
    batches, rows = [], 0
    for batch in iter_batches(path, text_columns=tuple(features or ()) if text else ()):
        rows += batch.num_rows
        if rows > max_rows:
            raise DataError(f"{path}: more than {max_rows:,} rows; sample the data first (model tests hold it in "
                            f"memory)")
        batches.append(batch)
    if not batches or rows == 0:
        raise DataError(f"{path}: no rows")
    table = pa.Table.from_batches(batches).combine_chunks()
    names = list(table.column_names)
    if target not in names:
        raise DataError(f"{path}: no target column {target!r}; columns are {names[:20]}")
    chosen = list(features) if features else [n for n in names if n != target]
    missing = [n for n in chosen if n not in names]
    if missing:
        raise DataError(f"{path}: no column {missing[0]!r}; columns are {names[:20]}")
    if target in chosen:
        raise DataError(f"{path}: the target column {target!r} cannot also be a feature")
    labels = _labels(path, table.column(target).to_pylist(), target)
    x = _text(path, table, chosen) if text else _numeric(path, table, chosen, input_shape)
    return LabelledData(x=x, labels=labels, features=tuple(chosen), source=str(path))


def _labels(path: Path, values: list[object], target: str) -> np.ndarray:
    missing = [i for i, v in enumerate(values) if v is None or (isinstance(v, float) and np.isnan(v))]
    if missing:
        raise DataError(f"{path}: target column {target!r} is empty at row {missing[0]} ({len(missing)} rows)")
    return np.asarray(values)


def _text(path: Path, table: object, chosen: list[str]) -> np.ndarray:
    if len(chosen) != 1:
        raise DataError(f"{path}: a text model takes one text column; give it with --features (found {chosen[:5]})")
    values = table.column(chosen[0]).to_pylist()  # type: ignore[attr-defined]
    bad = [i for i, v in enumerate(values) if not isinstance(v, str)]
    if bad:
        raise DataError(f"{path}: column {chosen[0]!r} row {bad[0]} is not text")
    return np.asarray(values, dtype=object)


def _numeric(path: Path, table: object, chosen: list[str], input_shape: tuple[int, ...] | None) -> np.ndarray:
    import pyarrow as pa

    columns = []
    for name in chosen:
        column = table.column(name)  # type: ignore[attr-defined]
        if not (pa.types.is_integer(column.type) or pa.types.is_floating(column.type)
                or pa.types.is_boolean(column.type)):
            raise DataError(f"{path}: feature column {name!r} is {column.type}, not numeric; encode it first or "
                            f"leave it out with --features")
        values = column.to_numpy(zero_copy_only=False).astype(np.float32)
        if np.isnan(values).any():
            raise DataError(f"{path}: feature column {name!r} has missing values at row "
                            f"{int(np.flatnonzero(np.isnan(values))[0])}; impute them before testing the model")
        columns.append(values)
    x = np.stack(columns, axis=1)
    if input_shape is not None:
        if int(np.prod(input_shape)) != x.shape[1]:
            raise DataError(f"{path}: {x.shape[1]} feature columns cannot be shaped {input_shape} "
                            f"({int(np.prod(input_shape))} values per sample)")
        x = x.reshape(len(x), *input_shape)
    return x
