"""Anonymising tables (CSV, TSV, Parquet): column rules cell by cell, then k-anonymity when the policy asks.

Without a k-anonymity goal the table streams: each record batch is rewritten and appended to the output, so memory
stays flat. With one, the whole table is loaded (k-anonymity is a property of the whole table), the column rules
are applied first, then ``KAnonymizer`` generalises the quasi-identifiers and suppresses what it must; every
suppressed row is reported by its input position.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from bastion.data.anonymize.operators import Document
from bastion.data.anonymize.policy import ColumnRule
from bastion.data.files import DataError, atomic_writer, iter_batches

if TYPE_CHECKING:
    from bastion.data.anonymize.pipeline import Outcome, _Job


def anonymize_table(source: Path, target: Path, kind: str, job: _Job) -> Outcome:
    """Rewrite ``source`` into ``target`` under ``job``'s policy."""
    if job.policy.k_anonymity is not None and not job.decrypt:  # de-anonymising reopens tokens, nothing more
        return _whole_table(source, target, kind, job)
    document, rows, writer = Document(), 0, None
    with atomic_writer(target, "wb") as handle:
        try:
            for batch in iter_batches(source, kind, text_columns=job.policy.columns):
                _check_columns(source, batch.schema.names, job)
                rewritten = _rewrite(batch, rows, document, source, job)
                if writer is None:
                    writer = _Writer(handle, rewritten.schema, kind)
                writer.write_batch(rewritten.cast(writer.schema) if rewritten.schema != writer.schema else rewritten)
                rows += batch.num_rows
        finally:
            if writer is not None:
                writer.close()
    return rows, rows, (), {}


def _check_columns(source: Path, names: list[str], job: _Job) -> None:
    missing = sorted(set(job.policy.columns) - set(names))
    if missing:
        raise DataError(f"{job.policy.source}: columns.{missing[0]}: {source} has no such column "
                        f"(columns: {', '.join(names)})")


def _rule(name: str, field_type: Any, job: _Job) -> ColumnRule | None:
    import pyarrow as pa

    rule = job.policy.columns.get(name)
    if rule is not None:
        return rule
    if pa.types.is_string(field_type) or pa.types.is_large_string(field_type):
        return ColumnRule(None, name.upper())  # unlisted text is searched: personal data hides in free text
    return None


def _rewrite(batch: Any, first_row: int, document: Document, source: Path, job: _Job) -> Any:
    import pyarrow as pa

    arrays, fields = [], []
    for index, column_field in enumerate(batch.schema):
        column = batch.column(index)
        rule = _rule(column_field.name, column_field.type, job)
        if rule is None or (rule.operator is not None and rule.operator.name == "keep"):
            arrays.append(column)
            fields.append(column_field)
            continue
        values = column.to_pylist()
        out = [None if value is None else
               job.cell(rule, _text(value), document, f"{source}: row {first_row + row}: column {column_field.name!r}")
               for row, value in enumerate(values)]
        arrays.append(pa.array(out, type=pa.string()))
        fields.append(pa.field(column_field.name, pa.string()))
    return pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields))


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a phone number stored as 4.41e9 is written back without ".0"
    return str(value)


class _Writer:
    """A pyarrow CSV or Parquet writer over an open binary handle."""

    def __init__(self, handle: Any, schema: Any, kind: str) -> None:
        import pyarrow.csv as pacsv
        import pyarrow.parquet as pq

        self.schema = schema
        if kind == "parquet":
            self._writer: Any = pq.ParquetWriter(handle, schema)
        else:
            options = pacsv.WriteOptions(delimiter="\t" if kind == "tsv" else ",")
            self._writer = pacsv.CSVWriter(handle, schema, write_options=options)

    def write_batch(self, batch: Any) -> None:
        self._writer.write_batch(batch)

    def close(self) -> None:
        self._writer.close()


def _whole_table(source: Path, target: Path, kind: str, job: _Job) -> Outcome:
    import pyarrow as pa

    from bastion.data.anonymize.kanon import KAnonymizer

    goal = job.policy.k_anonymity
    assert goal is not None
    document, rewritten, rows = Document(), [], 0
    for batch in iter_batches(source, kind, text_columns=job.policy.columns):
        _check_columns(source, batch.schema.names, job)
        rewritten.append(_rewrite(batch, rows, document, source, job))
        rows += batch.num_rows
    if not rewritten:
        raise DataError(f"{source}: the table is empty")
    frame = pa.Table.from_batches(rewritten).to_pandas()
    for name in (*goal.quasi_identifiers, *([goal.sensitive] if goal.sensitive else [])):
        if name not in frame.columns:
            raise DataError(f"{job.policy.source}: k_anonymity: {source} has no column {name!r} "
                            f"(columns: {', '.join(map(str, frame.columns))})")
    try:
        result = KAnonymizer(list(goal.quasi_identifiers), k=goal.k, l=goal.l, sensitive=goal.sensitive,
                             max_suppression=goal.max_suppression, suppress=goal.suppress).fit_transform(frame)
    except ValueError as exc:
        raise DataError(f"{source}: {exc}") from None
    table = pa.Table.from_pandas(result.table, preserve_index=False)
    with atomic_writer(target, "wb") as handle:
        writer = _Writer(handle, table.schema, kind)
        try:
            for batch in table.to_batches():
                writer.write_batch(batch)
        finally:
            writer.close()
    privacy = {
        "k_before": result.before.k, "k_after": result.after.k, "l_before": result.before.l,
        "l_after": result.after.l, "generalization": dict(result.labels),
        # The suppressed rows' quasi-identifiers are the most identifying values of the table: the report names
        # the rows, never their values.
    }
    return rows, result.output_rows, tuple(int(row) for row in result.suppressed_rows), privacy
