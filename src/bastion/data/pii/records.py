"""``detect_records``: personal data in every record of a JSON Lines, text or table file, streamed in order.

Records are read in batches and each batch is one task for the shared executor (``bastion.compute``): in-process by
default, a process pool with ``workers``, or a Dask cluster. Results come back in input order, and at most a few
batches are in flight, so memory stays bounded whatever the file size. Workers rebuild the detector from
``DetectOptions`` (plain values), once per process.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bastion.data.files import DataError, iter_batches, iter_json_lines, iter_lines, table_format
from bastion.data.pii.entities import Entity

if TYPE_CHECKING:
    from bastion.compute import Executor
    from bastion.data.pii.engine import PiiDetector

BATCH_RECORDS = 2_000
"""Records per executor task: large enough to amortise a task, small enough to keep memory flat."""


@dataclass(frozen=True)
class DetectOptions:
    """How to build the detector; plain values, so a worker process can rebuild it."""

    entities: tuple[str, ...] | None = None
    """Types to report, or None for all that the configuration can find."""
    threshold: float = 0.5
    """Minimum score reported."""
    context: bool = True
    """Use context words."""
    secrets: bool = True
    """Report credentials as API_KEY."""
    allow_list: tuple[str, ...] = ()
    """Exact values never reported."""
    ner: str | None = None
    """An NER plug-in spec (``spacy:PATH``, ``gliner:PATH``, ``onnx:PATH``), or None for pattern mode."""
    allow_unsafe_ner: bool = False
    """Load the NER model even when the model-file scan reports findings (loud, logged)."""

    def build(self) -> PiiDetector:
        """The detector these options describe."""
        from bastion.data.pii.engine import PiiDetector

        ner = None
        if self.ner is not None:
            from bastion.data.pii.ner import load_ner

            ner = load_ner(self.ner, allow_unsafe=self.allow_unsafe_ner)
        return PiiDetector(self.entities, self.threshold, self.context, self.secrets, ner, self.allow_list)


@dataclass(frozen=True)
class Found:
    """One entity in one field of a record."""

    entity: Entity
    """The span (offsets into the field's text)."""
    value: str
    """The text of the span; printed only when asked (``--show-values``)."""
    field: str | None = None
    """The field or column it is in, None for a plain-text record."""

    def to_dict(self, show_value: bool) -> dict[str, Any]:
        """``{"type", "start", "end", "score"}`` plus ``field`` when known and ``text`` when asked."""
        out: dict[str, Any] = {"type": self.entity.type, "start": self.entity.start, "end": self.entity.end,
                               "score": round(self.entity.score, 4)}
        if self.field is not None:
            out["field"] = self.field
        if show_value:
            out["text"] = self.value
        return out


@dataclass(frozen=True)
class RecordResult:
    """What one input record holds."""

    id: Any
    """The record's ``id`` field when it has one, else its 0-based line (or row) number."""
    found: tuple[Found, ...] = field(default=())
    """Every entity in the record, by field then position."""

    def to_dict(self, show_values: bool = False) -> dict[str, Any]:
        """The JSON Lines form: ``{"id", "entities": [...]}``."""
        return {"id": self.id, "entities": [item.to_dict(show_values) for item in self.found]}


Record = tuple[Any, tuple[tuple[str | None, str], ...]]
"""(id, ((field, text), ...)) as read from the input."""

_DETECTORS: dict[DetectOptions, PiiDetector] = {}


def _detector(options: DetectOptions) -> PiiDetector:
    detector = _DETECTORS.get(options)
    if detector is None:
        detector = _DETECTORS[options] = options.build()
    return detector


def detect_batch(task: tuple[DetectOptions, Sequence[Record]]) -> list[RecordResult]:
    """Detect in one batch of records (the executor's unit of work; module level so processes can run it)."""
    options, records = task
    detector = _detector(options)
    texts = [text for _, fields in records for _, text in fields]
    entities = iter(detector.detect_many(texts))
    results = []
    for record_id, fields in records:
        found = [Found(entity, text[entity.start:entity.end], name)
                 for name, text in fields for entity in next(entities)]
        results.append(RecordResult(record_id, tuple(found)))
    return results


def detect_records(path: Path, options: DetectOptions | None = None, *, text_fields: Sequence[str] | None = None,
                   executor: Executor | None = None, batch_records: int = BATCH_RECORDS) -> Iterator[RecordResult]:
    """One ``RecordResult`` per record of ``path``, in input order.

    JSON Lines: ``text_fields`` (default ``["text"]``) are searched; a record without them is an error naming its
    line. Tables (CSV, TSV, Parquet): every string column, or ``text_fields``. Any other file: one record per line.
    """
    options = options or DetectOptions()
    _detector(options)  # fail now, in the caller, on bad options or an unsafe NER model; in-process runs reuse it
    records = _records(path, text_fields)
    tasks = ((options, batch) for batch in _chunks(records, batch_records))
    if executor is None:
        for task in tasks:
            yield from detect_batch(task)
        return
    for results in executor.map(detect_batch, tasks):
        yield from results


def detect_texts(texts: Iterable[str], options: DetectOptions | None = None) -> Iterator[RecordResult]:
    """``detect_records`` for strings in memory; ids are positions."""
    options = options or DetectOptions()
    for batch in _chunks(((i, ((None, t),)) for i, t in enumerate(texts)), BATCH_RECORDS):
        yield from detect_batch((options, batch))


def _chunks(records: Iterable[Record], size: int) -> Iterator[list[Record]]:
    iterator = iter(records)
    while batch := list(islice(iterator, size)):
        yield batch


def _records(path: Path, text_fields: Sequence[str] | None) -> Iterator[Record]:
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    kind = table_format(path)
    if kind == "jsonl":
        return _json_records(path, tuple(text_fields or ("text",)))
    if kind is not None:
        return _table_records(path, kind, text_fields)
    return ((number, ((None, line),)) for number, line in iter_lines(path))


def _json_records(path: Path, names: tuple[str, ...]) -> Iterator[Record]:
    for number, record in iter_json_lines(path):
        fields = []
        for name in names:
            if name not in record:
                shown = ", ".join(sorted(record)[:10]) or "none"
                raise DataError(f"{path}: line {number + 1}: no field {name!r} (its fields: {shown}); "
                                "choose the field with --text-field")
            value = record[name]
            if value is None:
                continue
            if not isinstance(value, str):
                raise DataError(f"{path}: line {number + 1}: field {name!r} is {type(value).__name__}, not text")
            fields.append((name if len(names) > 1 else None, value))
        record_id = record.get("id", number)
        yield (record_id if isinstance(record_id, str | int) else number), tuple(fields)


def _table_records(path: Path, kind: str, text_fields: Sequence[str] | None) -> Iterator[Record]:
    row = 0
    for batch in iter_batches(path, kind):
        names = _text_columns(path, batch.schema, text_fields)
        columns = {name: batch.column(name).to_pylist() for name in names}
        ids = batch.column("id").to_pylist() if "id" in batch.schema.names else None
        for index in range(batch.num_rows):
            fields = tuple((name, str(columns[name][index])) for name in names if columns[name][index] is not None)
            record_id = ids[index] if ids is not None and isinstance(ids[index], str | int) else row
            yield record_id, fields
            row += 1


def _text_columns(path: Path, schema: Any, wanted: Sequence[str] | None) -> list[str]:
    import pyarrow as pa

    if wanted:
        missing = [name for name in wanted if name not in schema.names]
        if missing:
            raise DataError(f"{path}: no column {', '.join(map(repr, missing))} (columns: {', '.join(schema.names)})")
        return list(wanted)
    return [f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]
