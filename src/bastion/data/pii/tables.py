"""``scan_table``: which columns of a CSV, TSV, Parquet or JSON Lines table hold personal data, and how much.

Two steps, as a data protection officer would do it by hand. First classify: the first ``sample_rows`` values of
every text or integer column are searched, with the column's name as context (so ``ssn: 078051120`` counts as an
SSN while a bare 9-digit number would not), and the name itself is a hint for what patterns cannot see (a
``first_name`` column holds names). Then count exactly: every value of the flagged columns is searched for the
flagged types only, streaming batch by batch. Examples in the report are masked.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bastion.data.files import DataError, iter_batches, table_format
from bastion.data.pii.engine import PiiDetector
from bastion.data.pii.entities import mask_characters

SAMPLE_ROWS = 1_000
"""Values per column searched to classify it."""
MAX_EXAMPLES = 3
"""Masked examples kept per column and type."""

NAME_HINTS: tuple[tuple[str, re.Pattern[str]], ...] = tuple((kind, re.compile(pattern)) for kind, pattern in (
    ("PERSON", r"^(?:(?:first|last|middle|full|given|family|maiden|sur|user|customer|patient|contact|emp(?:loyee)?|"
               r"applicant|client|holder|account_holder|owner|student|member|guest|driver|passenger)"
               r"_?name|name|surname|forename|firstname|lastname|fullname|nom|prenom|vorname|nachname|nombre|"
               r"apellidos?|cognome)$"),
    ("LOCATION", r"^(?:(?:home|street|postal|mailing|billing|shipping|residential)_?address|address(?:_?line_?\d)?|"
                 r"street|city|town|zip|zip_?code|post_?code|postal_?code|plz|cap|adresse|direccion|indirizzo)$"),
    ("DATE_TIME", r"^(?:dob|date_?of_?birth|birth_?date|birthday|birth_?day|geburtsdatum|fecha_?nacimiento)$"),
))
"""Column names that reveal content patterns cannot see (names, addresses) or that a date column is a birth date."""


@dataclass(frozen=True)
class ColumnReport:
    """Personal data of one type in one column."""

    column: str
    """Column name."""
    entity: str
    """Entity type (Presidio's names)."""
    rows: int
    """Rows whose value holds at least one such entity (for name hints: non-empty values)."""
    share: float
    """``rows`` / rows of the table."""
    examples: tuple[str, ...] = ()
    """Up to three masked examples (``j***@example.com``, ``**** **** **** 1111``)."""
    source: str = "values"
    """``values`` (found by the detector), ``name`` (the column name says so) or ``values+name``."""


@dataclass(frozen=True)
class TableReport:
    """What ``scan_table`` found in one file."""

    path: str
    """The file."""
    format: str
    """``csv``, ``tsv``, ``parquet`` or ``jsonl``."""
    rows: int
    """Rows counted (all of them unless ``truncated``)."""
    columns: tuple[ColumnReport, ...] = field(default=())
    """Every (column, type) with personal data, most rows first."""
    truncated: bool = False
    """True when ``max_rows`` stopped the exact count early."""
    column_names: tuple[str, ...] = ()
    """Every column of the table, in order (for the ML-BOM's dataset description)."""
    seconds: float = 0.0
    """Wall-clock time."""

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"path": self.path, "format": self.format, "rows": self.rows, "truncated": self.truncated,
                "seconds": round(self.seconds, 3),
                "columns": [{"column": c.column, "entity": c.entity, "rows": c.rows, "share": round(c.share, 6),
                             "examples": list(c.examples), "source": c.source} for c in self.columns]}


def mask_value(value: str) -> str:
    """A masked form that shows the shape, never the value: last 2 characters of each word-ish run at most."""
    if "@" in value:
        local, _, domain = value.partition("@")
        return f"{local[:1]}***@{domain}"
    return mask_characters(value, 2 if sum(ch.isalnum() for ch in value) > 6 else 0)


def context_words(column: str) -> str:
    """The column name as words (``customerPhone_2`` -> ``customer phone``), prefixed to values as context."""
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", column)
    return " ".join(re.findall(r"[A-Za-z]+", spaced)).lower()


def name_hint(column: str) -> str | None:
    """The entity type a column's name announces, or None."""
    key = re.sub(r"(?<=[a-z])(?=[A-Z])", "_", column.strip()).lower().replace(" ", "_").replace("-", "_")
    for kind, pattern in NAME_HINTS:
        if pattern.match(key):
            return kind
    return None


def scan_table(path: Path, detector: PiiDetector | None = None, *, sample_rows: int = SAMPLE_ROWS,
               max_rows: int | None = None) -> TableReport:
    """Classify the columns of ``path`` from samples and names, then count the flagged ones exactly."""
    started = time.monotonic()
    kind = table_format(path)
    if kind is None:
        raise DataError(f"{path}: not a table (expected .csv, .tsv, .parquet or .jsonl)")
    detector = detector or PiiDetector(secrets=False)
    flagged, hinted, schema = _classify(path, kind, detector, sample_rows)
    counts, examples, rows, truncated = _count(path, kind, detector, flagged, max_rows)
    reports = []
    for column, kinds in flagged.items():
        for entity in kinds:
            hint = hinted.get(column) == entity
            reports.append(ColumnReport(column, entity, counts[column, entity], _share(counts[column, entity], rows),
                                        tuple(examples[column, entity]), "values+name" if hint else "values"))
    for column, entity in hinted.items():
        if entity not in flagged.get(column, ()):
            filled = counts[column, "__filled__"]
            if filled:
                reports.append(ColumnReport(column, entity, filled, _share(filled, rows), (), "name"))
    reports.sort(key=lambda r: (-r.rows, r.column, r.entity))
    names = tuple(schema.names) if schema is not None else ()
    return TableReport(str(path), kind, rows, tuple(reports), truncated, names, time.monotonic() - started)


def _share(count: int, rows: int) -> float:
    return count / rows if rows else 0.0


def _searchable(field_type: Any) -> bool:
    import pyarrow as pa

    return bool(pa.types.is_string(field_type) or pa.types.is_large_string(field_type)
                or pa.types.is_integer(field_type))


def _texts(values: Iterable[Any]) -> Iterator[str | None]:
    for value in values:
        yield None if value is None else str(value)


def _classify(path: Path, kind: str, detector: PiiDetector, sample_rows: int
              ) -> tuple[dict[str, list[str]], dict[str, str], Any]:
    """Column -> types seen in its sample; column -> type its name announces; the schema."""
    samples: dict[str, list[str]] = {}
    schema: Any = None
    for batch in iter_batches(path, kind):
        schema = batch.schema
        for index, column_field in enumerate(batch.schema):
            if not _searchable(column_field.type):
                continue
            bucket = samples.setdefault(column_field.name, [])
            if len(bucket) < sample_rows:
                values = batch.column(index).slice(0, sample_rows - len(bucket)).to_pylist()
                bucket.extend(text for text in _texts(values) if text)
        if all(len(bucket) >= sample_rows for bucket in samples.values()):
            break
    hinted = {name: hint for name in (schema.names if schema is not None else []) if (hint := name_hint(name))}
    flagged: dict[str, list[str]] = {}
    for column, values in samples.items():
        prefix = context_words(column) + ": "
        seen: Counter[str] = Counter()
        for entities in detector.detect_many([prefix + value for value in values]):
            seen.update({entity.type for entity in entities if entity.start >= len(prefix)})
        if seen:
            flagged[column] = sorted(seen, key=lambda k: -seen[k])
    return flagged, hinted, schema


def _count(path: Path, kind: str, detector: PiiDetector, flagged: Mapping[str, list[str]], max_rows: int | None
           ) -> tuple[Counter[tuple[str, str]], dict[tuple[str, str], list[str]], int, bool]:
    counts: Counter[tuple[str, str]] = Counter()
    examples: dict[tuple[str, str], list[str]] = {(c, k): [] for c, kinds in flagged.items() for k in kinds}
    detectors = {column: PiiDetector(kinds, detector.threshold, detector.context, False, None, detector.allow_list)
                 for column, kinds in flagged.items()}
    rows, truncated = 0, False
    for batch in iter_batches(path, kind):
        if max_rows is not None and rows + batch.num_rows > max_rows:
            batch, truncated = batch.slice(0, max_rows - rows), True
        for index, column_field in enumerate(batch.schema):
            values = batch.column(index)
            counts[column_field.name, "__filled__"] += len(values) - values.null_count
            if column_field.name in detectors:
                _count_column(column_field.name, values.to_pylist(), detectors[column_field.name], counts, examples)
        rows += batch.num_rows
        if truncated:
            break
    return counts, examples, rows, truncated


def _count_column(column: str, values: list[Any], detector: PiiDetector, counts: Counter[tuple[str, str]],
                  examples: dict[tuple[str, str], list[str]]) -> None:
    prefix = context_words(column) + ": "
    texts = [prefix + text if text else "" for text in _texts(values)]
    for text, entities in zip(texts, detector.detect_many(texts), strict=True):
        kinds = set()
        for entity in entities:
            if entity.start < len(prefix):
                continue
            kinds.add(entity.type)
            bucket = examples[column, entity.type]
            if len(bucket) < MAX_EXAMPLES:
                bucket.append(mask_value(text[entity.start:entity.end]))
        for entity_type in kinds:
            counts[column, entity_type] += 1
