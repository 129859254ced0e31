"""Plain-text and JSON forms of a drift report (the HTML form is in ``html.py``)."""

from __future__ import annotations

import json

from bastion.monitor.report import DriftReport


def render_json(report: DriftReport) -> str:
    """The report as indented JSON with a final newline."""
    return json.dumps(report.to_dict(), indent=2, allow_nan=False) + "\n"


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def render_table(report: DriftReport) -> str:
    """A fixed-width table: one line per column, then dataset tests, then the verdict."""
    header = ("column", "kind", "test", "statistic", "p-value", "corrected", "effect", "drift")
    rows = [header]
    for column in sorted(report.columns, key=lambda c: (not c.drift, c.p_adjusted if c.p_adjusted is not None
                                                         else 2.0, c.name)):
        rows.append((column.name, column.kind, column.test, _number(column.statistic), _number(column.p_value),
                     _number(column.p_adjusted), _number(column.effect_size), "DRIFT" if column.drift else "ok"))
    for test in report.dataset_tests:
        rows.append((f"[{test.name}]", "dataset", test.name.split("_")[0], _number(test.statistic),
                     _number(test.p_value), _number(test.p_adjusted), _number(test.effect_size),
                     "DRIFT" if test.drift else ("-" if test.message and test.statistic is None else "ok")))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    notes = [f"{c.name}: {c.message}" for c in report.columns if c.message]
    notes += [f"[{t.name}]: {t.message}" for t in report.dataset_tests if t.message]
    alarms = sum(test.drift for test in report.dataset_tests)
    verdict = (f"DRIFT in {len(report.drifted_columns)} of {len(report.columns)} columns"
               + (f" and {alarms} of {len(report.dataset_tests)} dataset tests" if alarms else "")
               if report.drift else "no drift")
    summary = (f"{verdict} ({report.correction} correction, alpha {report.alpha}; reference {report.reference_rows:,}"
               f" rows, current {report.current_rows:,} rows)")
    parts = ["\n".join(lines)]
    if notes:
        parts.append("notes:\n" + "\n".join(f"  {note}" for note in notes))
    if report.warnings:
        parts.append("warnings:\n" + "\n".join(f"  {warning}" for warning in report.warnings))
    parts.append(summary)
    return "\n\n".join(parts) + "\n"
