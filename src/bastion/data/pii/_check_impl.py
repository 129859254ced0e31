"""The work of the ``pii`` check, imported on the first table so registering the plug-in costs nothing."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Any

from bastion.config import ConfigError, Settings
from bastion.data.files import DataError, table_format
from bastion.data.pii.tables import ColumnReport, TableReport, scan_table
from bastion.findings import Finding, Location, Severity
from bastion.scan.check import CheckOutcome, Target
from bastion.taxonomy import rule

IDENTIFIERS = frozenset({"CREDIT_CARD", "IBAN_CODE", "US_SSN", "US_ITIN", "US_PASSPORT", "US_DRIVER_LICENSE",
                         "UK_NHS", "UK_NINO", "DE_TAX_ID", "DE_ID_CARD", "ES_NIF", "ES_NIE", "IT_FISCAL_CODE",
                         "FR_NIR", "CRYPTO"})
"""Financial and government identifiers (BST-PII-001)."""
CONTACT = frozenset({"EMAIL_ADDRESS", "PHONE_NUMBER", "IP_ADDRESS", "MAC_ADDRESS", "PERSON", "LOCATION"})
"""Contact data and online identifiers (BST-PII-002)."""
BULK_ROWS = 1_000
"""From this many rows, a finding is one severity step worse."""
_KEYS = ("sample_rows", "max_rows", "threshold", "exclude")


@dataclass(frozen=True)
class PiiOptions:
    """The ``[pii]`` table of ``bastion.toml``."""

    sample_rows: int = 1_000
    """Values per column searched to classify it."""
    max_rows: int = 5_000_000
    """Rows counted exactly per file."""
    threshold: float = 0.5
    """Detector score threshold."""
    exclude: tuple[str, ...] = ()
    """Globs of reported paths not examined."""


def options_for(settings: Settings) -> PiiOptions:
    """Validate ``[pii]``; errors name the file and key."""
    table: dict[str, Any] = dict(settings.section("pii"))
    origin = settings.source or "bastion.toml"
    for key in table:
        if key not in _KEYS:
            raise ConfigError(f"{origin}: [pii] {key} is not a known key (known: {', '.join(_KEYS)})")
    for key in ("sample_rows", "max_rows"):
        value = table.get(key, getattr(PiiOptions, key))
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{origin}: [pii] {key} must be a positive whole number")
    threshold = table.get("threshold", 0.5)
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not 0 <= threshold <= 1:
        raise ConfigError(f"{origin}: [pii] threshold must be a number from 0 to 1")
    exclude = table.get("exclude", [])
    if not isinstance(exclude, list) or not all(isinstance(item, str) for item in exclude):
        raise ConfigError(f"{origin}: [pii] exclude must be a list of path globs")
    return PiiOptions(table.get("sample_rows", 1_000), table.get("max_rows", 5_000_000), float(threshold),
                      tuple(exclude))


def examine(target: Target, settings: Settings) -> CheckOutcome:
    """Scan one table for personal data."""
    options = options_for(settings)
    kind = table_format(target.fs_path)
    if kind is None or any(fnmatch.fnmatch(target.path, pattern) for pattern in options.exclude):
        return CheckOutcome()
    from bastion.data.pii.engine import PiiDetector

    detector = PiiDetector(threshold=options.threshold, secrets=False)
    try:
        report = scan_table(target.fs_path, detector, sample_rows=options.sample_rows, max_rows=options.max_rows)
    except DataError as exc:
        return CheckOutcome(kind=kind, incomplete=[f"{exc} (not searched for personal data)"])
    outcome = CheckOutcome(kind=kind, findings=[_finding(target.path, report, c) for c in report.columns])
    outcome.facts.update({"format": kind, "columns": list(report.column_names), "rows": report.rows})
    if report.columns:
        outcome.facts["personal_data"] = sorted({c.entity for c in report.columns})
    if report.truncated:
        outcome.incomplete.append(f"{target.path}: more than {options.max_rows} rows; only the first "
                                  f"{options.max_rows} were counted (raise [pii] max_rows to count all)")
    return outcome


def _rule_and_severity(column: ColumnReport) -> tuple[str, Severity]:
    bulk = column.rows >= BULK_ROWS
    if column.entity in IDENTIFIERS:
        return "BST-PII-001", Severity.CRITICAL if bulk else Severity.HIGH
    if column.entity in CONTACT:
        return "BST-PII-002", Severity.HIGH if bulk else Severity.MEDIUM
    return "BST-PII-003", Severity.LOW


def _finding(path: str, report: TableReport, column: ColumnReport) -> Finding:
    rule_id, severity = _rule_and_severity(column)
    entry = rule(rule_id)
    how = {"values": "found in its values", "name": "announced by the column name",
           "values+name": "found in its values and announced by its name"}[column.source]
    detail = (f"Column {column.column!r} holds {column.entity} in {column.rows:,} of {report.rows:,} rows "
              f"({column.share:.1%}), {how}. {entry.description}")
    return Finding(rule_id, severity, f"{column.entity} in column {column.column!r} ({column.share:.1%} of rows)",
                   detail, Location(path, column=column.column), evidence=", ".join(column.examples),
                   remediation=entry.remediation, refs=entry.refs)
