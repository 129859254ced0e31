"""Recognise dataset files by their first bytes, for the ML-BOM: never load them, never record a value.

Columnar formats are named by their magic numbers (Parquet at both ends, Arrow IPC/Feather, ORC, Avro); text
formats by a bounded look at the first 64 KiB (binary files are left after 4 KiB): JSON Lines when several lines
are each a JSON object, CSV/TSV when every sampled row splits into the same number of fields. Column names are
recorded only where they are names (the keys of the first JSON record, a CSV first row that reads as a header), so
no cell value reaches the BOM.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from itertools import islice
from pathlib import PurePosixPath

HEAD_BYTES = 64 * 1024
"""Most of a text file read to recognise it."""
_PROBE_BYTES = 4096
MAX_COLUMNS = 500
"""Most column names recorded for one dataset."""
_SAMPLE_ROWS = 50
_NAME = re.compile(r"[A-Za-z_][\w .\-/()%#\[\]]{0,63}")
"""What a column name looks like: no '@', not a number, short; anything else may be a value."""
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"ARROW1", "arrow"),
    (b"FEA1", "feather"),
    (b"ORC", "orc"),
    (b"Obj\x01", "avro"),
)
_CSV_SUFFIXES = frozenset({".csv", ".tsv", ".tab"})


@dataclass(frozen=True)
class DatasetInfo:
    """What the first bytes say about a dataset file."""

    format: str
    """``parquet``, ``arrow``, ``feather``, ``orc``, ``avro``, ``jsonl``, ``csv`` or ``tsv``."""
    columns: tuple[str, ...] = ()
    """Column names, in file order, when they could be read without reading values."""


def sniff_dataset(path: str, size: int) -> DatasetInfo | None:
    """The dataset format of the file at ``path`` (``size`` bytes), or None.

    Reads 4 KiB and the last 4 bytes; only text (no NUL byte in those 4 KiB) is read further, to 64 KiB."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(_PROBE_BYTES)
            tail = b""
            if size >= 8:
                handle.seek(size - 4)
                tail = handle.read(4)
            binary = sniff_binary(head, tail)
            if binary is not None:
                return DatasetInfo(binary)
            if b"\x00" in head:
                return None  # binary and no known magic: images, archives, executables
            handle.seek(len(head))
            head += handle.read(HEAD_BYTES - len(head))
    except OSError:
        return None
    return sniff_text(head, complete=size <= HEAD_BYTES, suffix=PurePosixPath(path).suffix.lower())


def sniff_binary(head: bytes, tail: bytes) -> str | None:
    """A columnar format named by its magic number (Parquet must end with ``PAR1`` too), or None."""
    if head[:4] == b"PAR1":
        return "parquet" if tail == b"PAR1" else None
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return name
    return None


def sniff_text(head: bytes, complete: bool, suffix: str = "") -> DatasetInfo | None:
    """JSON Lines or delimited text judged from ``head``; ``complete`` says whether ``head`` is the whole file."""
    text = _decode(head, complete)
    if text is None or not text.strip():
        return None
    return _jsonl(text) or _delimited(text, complete, suffix)


def _decode(head: bytes, complete: bool) -> str | None:
    if b"\x00" in head:
        return None
    if not complete:  # drop the partial last line (and any character cut in half)
        head = head[: head.rfind(b"\n") + 1]
    try:
        return head.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None


def _jsonl(text: str) -> DatasetInfo | None:
    lines = [line for line in text.splitlines()[:_SAMPLE_ROWS] if line.strip()]
    if len(lines) < 2 or not lines[0].lstrip().startswith("{"):
        return None
    records = []
    for line in lines[:5]:
        try:
            record = json.loads(line)
        except ValueError:
            return None
        if not isinstance(record, dict):
            return None
        records.append(record)
    keys = [str(k) for k in records[0]][:MAX_COLUMNS]
    return DatasetInfo("jsonl", tuple(keys) if all(_NAME.fullmatch(k) for k in keys) else ())


def _delimited(text: str, complete: bool, suffix: str) -> DatasetInfo | None:
    if text.lstrip()[:1] in ("{", "[", "<", "#"):
        return None  # JSON, markup and commented configs are not tables
    best: tuple[int, str, list[list[str]]] | None = None
    for delimiter in (",", "\t", ";", "|"):
        rows = _rows(text, delimiter, complete)
        widths = {len(row) for row in rows}
        if len(widths) == 1 and (width := widths.pop()) >= 2 and (best is None or width > best[0]):
            best = (width, delimiter, rows)
    if best is None:
        return None
    _, delimiter, rows = best
    if len(rows) < 3 and suffix not in _CSV_SUFFIXES:
        return None  # two lines that happen to split alike are weak evidence without the name's support
    return DatasetInfo("tsv" if delimiter == "\t" else "csv", _header(rows, text, delimiter))


def _rows(text: str, delimiter: str, complete: bool) -> list[list[str]]:
    try:
        rows = [row for row in islice(csv.reader(io.StringIO(text), delimiter=delimiter), _SAMPLE_ROWS + 1) if row]
    except csv.Error:
        return []
    if not complete and len(rows) <= _SAMPLE_ROWS:
        rows = rows[:-1]  # the last row read may be a quoted field cut by the 64 KiB boundary
    return rows[:_SAMPLE_ROWS]


def _header(rows: list[list[str]], text: str, delimiter: str) -> tuple[str, ...]:
    """The first row as column names when it reads as a header; otherwise nothing (it may be personal data)."""
    first = [cell.strip() for cell in rows[0]]
    if len(set(first)) != len(first) or not all(_NAME.fullmatch(cell) for cell in first):
        return ()
    if len(rows) > 1 and (_numeric_below_names(first, rows[1:]) or _sniffer_says_header(text)):
        return tuple(first[:MAX_COLUMNS])
    return ()


def _numeric_below_names(first: list[str], data: list[list[str]]) -> bool:
    """Whether some column holds a name on top and only numbers below: the classic header signature."""
    return any(all(_is_number(row[i]) for row in data) and not _is_number(first[i]) for i in range(len(first)))


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _sniffer_says_header(text: str) -> bool:
    try:
        return csv.Sniffer().has_header(text[:8192])
    except csv.Error:
        return False
