"""Reading datasets in bounded memory (pyarrow for tables, strict UTF-8 lines for text) and writing outputs atomically.

Every error is a ``DataError`` that names the file and, where it can, the line or row: a file that mixes encodings
fails on its first undecodable line, not with a codec traceback. Outputs go to a temporary file beside the target
and are renamed into place only when complete, so a failed run leaves the old file (or nothing) behind.
"""

from __future__ import annotations

import json
import os
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

TABLE_SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl",
                  ".ndjson": "jsonl"}
"""File name suffixes read as tables, and the format each means."""
BATCH_ROWS = 65_536
"""Rows per record batch when streaming a table."""


class DataError(ValueError):
    """A dataset or option that cannot be used; the message names the file and the place in it."""


def table_format(path: Path) -> str | None:
    """``csv``, ``tsv``, ``parquet`` or ``jsonl`` from the suffix (or Parquet's magic bytes), else None."""
    kind = TABLE_SUFFIXES.get(path.suffix.lower())
    if kind is None and path.is_file():
        with open(path, "rb") as handle:
            if handle.read(4) == b"PAR1":
                return "parquet"
    return kind


def iter_batches(path: Path, kind: str | None = None, batch_rows: int = BATCH_ROWS,
                 text_columns: Collection[str] = ()) -> Iterator[Any]:
    """Stream ``path`` as pyarrow ``RecordBatch``es of at most ``batch_rows`` rows.

    CSV/TSV columns named in ``text_columns`` are read as text, not inferred (a ZIP code keeps its leading zero).
    """
    kind = kind or table_format(path)
    if kind is None:
        raise DataError(f"{path}: not a table (expected .csv, .tsv, .parquet or .jsonl)")
    try:
        if kind == "parquet":
            yield from _parquet_batches(path, batch_rows)
        elif kind == "jsonl":
            yield from _json_batches(path)
        else:
            yield from _csv_batches(path, "\t" if kind == "tsv" else ",", text_columns)
    except OSError as exc:
        raise DataError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    except DataError:
        raise
    except Exception as exc:  # pyarrow raises ArrowInvalid and friends with the row in the message
        raise DataError(f"{path}: {_arrow_message(exc)}") from None


def _parquet_batches(path: Path, batch_rows: int) -> Iterator[Any]:
    import pyarrow.parquet as pq

    yield from pq.ParquetFile(path).iter_batches(batch_size=batch_rows)


def _csv_batches(path: Path, delimiter: str, text_columns: Collection[str] = ()) -> Iterator[Any]:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    options = pacsv.ReadOptions(block_size=4 << 20)
    types = pacsv.ConvertOptions(column_types={name: pa.string() for name in text_columns})
    first = 0
    for batch in pacsv.open_csv(path, read_options=options, parse_options=pacsv.ParseOptions(delimiter=delimiter),
                                convert_options=types):
        for index, column in enumerate(batch.schema):
            if pa.types.is_binary(column.type) or pa.types.is_large_binary(column.type):  # inferred so: not UTF-8
                row = next((row for row, value in enumerate(batch.column(index).to_pylist())
                            if value is not None and not _is_utf8(value)), 0)
                raise DataError(f"{path}: row {first + row}: column {column.name!r}: not valid UTF-8 (the file "
                                "may mix encodings; convert it to UTF-8, e.g. with iconv)")
        first += batch.num_rows
        yield batch


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _json_batches(path: Path) -> Iterator[Any]:
    import pyarrow.json as pajson

    yield from pajson.open_json(path, read_options=pajson.ReadOptions(block_size=4 << 20))


def _arrow_message(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if "UTF8" in text or "utf-8" in text.lower():
        return f"{text} (the file is not valid UTF-8; it may mix encodings: convert it, e.g. with iconv)"
    return text


def iter_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(0-based line number, line without its newline) for a UTF-8 text file, in bounded memory."""
    try:
        with open(path, "rb") as handle:
            for number, raw in enumerate(handle):
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise DataError(f"{path}: line {number + 1}: not valid UTF-8 at byte {exc.start} of the line "
                                    "(the file may mix encodings; convert it to UTF-8, e.g. with iconv)") from None
                if number == 0:
                    line = line.removeprefix("\ufeff")
                yield number, line.rstrip("\r\n")
    except OSError as exc:
        raise DataError(f"{path}: cannot be read: {exc.strerror or exc}") from None


def iter_json_lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(0-based line number, object) for a JSON Lines file; blank lines are skipped, anything else must be an object."""
    for number, line in iter_lines(path):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}: line {number + 1}: not JSON: {exc.msg} at column {exc.colno}") from None
        if not isinstance(record, dict):
            raise DataError(f"{path}: line {number + 1}: expected a JSON object, found {type(record).__name__}")
        yield number, record


@contextmanager
def atomic_writer(path: Path, mode: str = "w") -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; on success it is fsync'd and renamed over ``path``, else removed."""
    import tempfile

    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise DataError(f"{path}: the folder {folder} does not exist")
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        encoding = None if "b" in mode else "utf-8"
        with os.fdopen(fd, mode, encoding=encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
