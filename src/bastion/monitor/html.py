"""Render a ``DriftReport`` as one self-contained HTML page: the verdict, tables, and inline SVG histograms.

The page carries its CSS and SVG inline and needs no script and no network, so it can be mailed, archived as audit
evidence and opened offline. Every string taken from the report is escaped (column names and messages come from
the data being monitored). Built by hand rather than with a template: the page is mostly generated SVG, and one
escaping helper at every interpolation keeps the escaping visible.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

from bastion.monitor.report import ColumnDrift, DatasetTest, DriftReport, Histogram
from bastion.reports.html_text import escape_text as _e

__all__ = ["render_html"]

DASH = "\u2013"
"""How a missing value (None) is shown."""
_DOT = " \u00b7 "
_DRIFT_CLASS = ' class="drift"'

_CORRECTIONS = {"holm": "Holm (family-wise error rate)", "bh": "Benjamini-Hochberg (false discovery rate)",
                "none": "none"}
_TEST_NAMES = {"ks": "Kolmogorov-Smirnov", "chi2": "chi-square", "missing": "missing-value rate",
               "schema": "schema check", "none": "no test"}
_STATISTIC_SYMBOLS = {"ks": "D", "chi2": "\u03c7\u00b2"}
_DATASET_KINDS = {"pca_reconstruction": "multivariate", "domain_classifier": "multivariate",
                  "performance": "model performance", "estimated_performance": "model performance",
                  "latency": "latency"}

# Chart geometry in SVG user units; the chart scales to its container's width.
_WIDTH, _HEIGHT = 720, 270
_LEFT, _RIGHT, _TOP = 64, 12, 30
_BOTTOM_FLAT, _BOTTOM_ROTATED = 44, 86
_BAR_UNITS = 10
"""Width of one bin in the bars' own coordinates (integers keep the markup short)."""
_BAR_HEIGHT_UNITS = 1000
_MIN_SLOTS = 6
"""Charts with fewer bins are centred in this many slots so that two bins do not make two walls."""
_MAX_TICK_LABELS = 12
_LABEL_CHARS = 16
_CHAR_WIDTH = 6.2
"""Rough width of one character of the 11px tick font, to decide whether labels must be rotated."""

# Nested details (dataset tests) are shown to this depth and this many items per list.
_MAX_DEPTH = 4
_MAX_ITEMS = 50
_MAX_RECORD_KEYS = 12

_CSS = """
:root{--ref:#4c78a8;--cur:#f58518;--bad:#b42318;--good:#067647;--muted:#667085;--line:#d0d5dd;--soft:#eaecf0}
*{box-sizing:border-box}
body{margin:0 auto;max-width:1240px;padding:24px;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,
"Helvetica Neue",Arial,sans-serif;color:#101828;background:#fff}
h1{font-size:22px;margin:0 0 10px}
h2{font-size:18px;margin:32px 0 10px;padding-bottom:4px;border-bottom:1px solid var(--line)}
h3{font-size:15px;margin:0;overflow-wrap:anywhere}
code,.kv th{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px}
.verdict{display:inline-block;padding:6px 14px;border-radius:6px;color:#fff;font-weight:700;font-size:17px}
.verdict.drift{background:var(--bad)}.verdict.ok{background:var(--good)}
.lead{margin:8px 0;font-size:15px}
.facts{display:flex;flex-wrap:wrap;gap:6px 28px;margin:10px 0}
.facts div{display:flex;gap:6px}.facts dt{color:var(--muted)}.facts dd{margin:0;font-weight:600}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:700;white-space:nowrap}
.badge.drift{background:#fee4e2;color:var(--bad)}.badge.ok{background:#dcfae6;color:var(--good)}
.warn{background:#fffaeb;border:1px solid #fedf89;border-radius:6px;padding:8px 14px;margin:12px 0}
.warn h2{border:0;margin:0;padding:0;font-size:15px;color:#93370d}.warn ul{margin:4px 0 0;padding-left:20px}
table{border-collapse:collapse;width:100%;font-size:13px}
caption{text-align:left;color:var(--muted);padding:0 0 6px}
th,td{padding:4px 8px;border-bottom:1px solid var(--soft);text-align:left;vertical-align:top}
thead th{background:#f9fafb;position:sticky;top:0;white-space:nowrap}
tbody th{font-weight:600;overflow-wrap:anywhere}
td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.drift>th:first-child{box-shadow:inset 3px 0 var(--bad)}
tr.unusable{color:var(--muted)}
a{color:inherit}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(480px,1fr));gap:16px}
.card{margin:0;border:1px solid var(--line);border-radius:8px;padding:12px;break-inside:avoid}
.card.drift{border-color:var(--bad);box-shadow:inset 3px 0 var(--bad)}
.card header{display:flex;gap:10px;align-items:baseline;justify-content:space-between}
.meta{color:var(--muted);font-size:12px;margin:4px 0}
.stats{margin:4px 0;font-variant-numeric:tabular-nums}
.msg{color:#b54708;margin:6px 0;overflow-wrap:anywhere}
.none{color:var(--muted)}
table.kv{width:auto;margin:4px 0}table.kv th{font-weight:400;color:#344054;background:none;position:static}
table.kv table.kv{margin:0}
svg.chart{width:100%;height:auto;display:block;overflow:visible;margin-top:6px}
svg text{font-size:11px;fill:#475467}
.r,.bars rect{fill:var(--ref)}.c,.bars rect.c{fill:var(--cur)}
.grid{stroke:var(--soft);fill:none}.axis{stroke:#98a2b3;fill:none}
footer{margin-top:32px;color:var(--muted);font-size:12px}
@media print{thead th{position:static}.card{page-break-inside:avoid}}
"""


def render_html(report: DriftReport, title: str = "Bastion drift report") -> str:
    """Return a self-contained HTML page for ``report``: verdict, column table, dataset tests and histograms.

    Raises ``ValueError`` naming the column when a histogram's labels and shares differ in length.
    """
    ordered = _column_order(report.columns)
    body = [_header(report, title), _summary_table(ordered, report.correction),
            _dataset_section(report.dataset_tests), _column_section(ordered),
            "<footer>Generated by Bastion from a drift report. Values from the data are shown as text; "
            "the page runs no script.</footer>"]
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{_e(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
            + "\n".join(body) + "\n</body>\n</html>\n")


# --- formatting -----------------------------------------------------------------------------------------------------


def _scientific(value: float) -> str:
    """Two significant digits in scientific notation: ``1.2e-08``, ``3e-05``."""
    mantissa, exponent = f"{value:.1e}".split("e")
    return f"{mantissa.removesuffix('.0')}e{exponent}"


def _nonfinite(value: float) -> str:
    return "NaN" if math.isnan(value) else ("\u221e" if value > 0 else "\u2212\u221e")


def _num(value: float | None) -> str:
    """Compact number: three significant digits, scientific notation for the very small and very large."""
    if value is None:
        return DASH
    value = float(value)
    if not math.isfinite(value):
        return _nonfinite(value)
    magnitude = abs(value)
    if magnitude == 0:
        return "0"
    if magnitude < 1e-3 or magnitude >= 1e6:
        return _scientific(value)
    if magnitude >= 100:
        return f"{value:.0f}"
    return f"{value:.3g}"


def _p(value: float | None) -> str:
    """p-value: ``0.0123``, ``1.2e-08``."""
    if value is None:
        return DASH
    value = float(value)
    if not math.isfinite(value):
        return _nonfinite(value)
    if value == 0:
        return "0"
    return _scientific(value) if abs(value) < 1e-3 else f"{value:.3g}"


def _pct(share: float | None) -> str:
    """Share as a percentage: ``12.3%``, ``5%``, ``<0.1%``."""
    if share is None:
        return DASH
    share = float(share)
    if not math.isfinite(share):
        return _nonfinite(share)
    if share == 0:
        return "0%"
    if abs(share) < 0.0005:
        return "<0.1%"
    text = f"{share * 100:.1f}"
    return (text[:-2] if text.endswith(".0") else text) + "%"


def _badge(drift: bool, alarm: str = "drift") -> str:
    """A coloured pill that also says in words what the colour means."""
    return f'<span class="badge drift">{alarm}</span>' if drift else f'<span class="badge ok">no {alarm}</span>'


def _column_order(columns: Sequence[ColumnDrift]) -> list[tuple[int, ColumnDrift]]:
    """Drifted columns first, then by corrected p-value (missing ones last), then report order."""
    def key(item: tuple[int, ColumnDrift]) -> tuple[bool, float, int]:
        index, column = item
        p = column.p_adjusted
        return (not column.drift, p if p is not None and math.isfinite(p) else math.inf, index)

    return sorted(enumerate(columns), key=key)


# --- header and tables ----------------------------------------------------------------------------------------------


def _header(report: DriftReport, title: str) -> str:
    drifted = len(report.drifted_columns)
    alarms = sum(test.drift for test in report.dataset_tests)
    verdict = ('<span class="verdict drift">Drift detected</span>' if report.drift
               else '<span class="verdict ok">No drift detected</span>')
    lead = f"{drifted} of {len(report.columns)} columns drifted"
    if report.dataset_tests:
        lead += f"; {alarms} of {len(report.dataset_tests)} dataset tests alarm"
    facts = [("alpha", _num(report.alpha)), ("correction", _CORRECTIONS.get(report.correction, report.correction)),
             ("reference rows", f"{report.reference_rows:,}"), ("current rows", f"{report.current_rows:,}"),
             ("drifted columns", f"{drifted}")]
    items = "".join(f"<div><dt>{_e(name)}</dt><dd>{_e(value)}</dd></div>" for name, value in facts)
    parts = [f"<header>\n<h1>{_e(title)}</h1>\n{verdict}\n<p class=\"lead\">{_e(lead)}.</p>\n"
             f"<dl class=\"facts\">{items}</dl>"]
    if report.warnings:
        warnings = "".join(f"<li>{_e(warning)}</li>" for warning in report.warnings)
        parts.append(f'<section class="warn" aria-labelledby="warnings"><h2 id="warnings">Warnings '
                     f"({len(report.warnings)})</h2><ul>{warnings}</ul></section>")
    parts.append("</header>")
    return "\n".join(parts)


def _summary_table(ordered: Sequence[tuple[int, ColumnDrift]], correction: str) -> str:
    heading = '<section aria-labelledby="columns">\n<h2 id="columns">Columns</h2>\n'
    if not ordered:
        return heading + '<p class="none">The report has no columns.</p>\n</section>'
    headers = ["column", "kind", "role", "test", "statistic", "p-value", f"corrected p ({correction})",
               "effect size", "missing (reference)", "missing (current)", "result"]
    head = "".join(f'<th scope="col">{_e(name)}</th>' for name in headers)
    rows = [_summary_row(index, column) for index, column in ordered]
    return (heading + '<table id="summary">\n<caption>Every column, drifted first, then by corrected p-value. '
            "Names link to the column's plot.</caption>\n"
            f"<thead><tr>{head}</tr></thead>\n<tbody>\n" + "\n".join(rows) + "\n</tbody>\n</table>\n</section>")


def _summary_row(index: int, column: ColumnDrift) -> str:
    css = _DRIFT_CLASS if column.drift else (' class="unusable"' if column.kind == "unusable" else "")
    cells = [_e(column.kind), _e(column.role), f'<abbr title="{_e(_TEST_NAMES.get(column.test, column.test))}">'
             f"{_e(column.test)}</abbr>"]
    numbers_ = [_num(column.statistic), _p(column.p_value), _p(column.p_adjusted), _num(column.effect_size),
                _pct(column.reference_missing), _pct(column.current_missing)]
    return (f'<tr{css}><th scope="row"><a href="#col-{index}">{_e(column.name)}</a></th>'
            + "".join(f"<td>{cell}</td>" for cell in cells)
            + "".join(f'<td class="n">{_e(value)}</td>' for value in numbers_)
            + f"<td>{_badge(column.drift)}</td></tr>")


def _dataset_section(tests: Sequence[DatasetTest]) -> str:
    heading = '<section aria-labelledby="dataset-tests">\n<h2 id="dataset-tests">Dataset tests</h2>\n'
    if not tests:
        return heading + '<p class="none">No multivariate, performance or latency test ran.</p>\n</section>'
    headers = ["test", "kind", "statistic", "p-value", "corrected p", "effect size", "result"]
    head = "".join(f'<th scope="col">{name}</th>' for name in headers)
    rows = [_dataset_row(index, test) for index, test in enumerate(tests)]
    cards = [_dataset_card(index, test) for index, test in enumerate(tests)]
    return (heading + f"<table id=\"dataset-summary\">\n<thead><tr>{head}</tr></thead>\n<tbody>\n"
            + "\n".join(rows) + '\n</tbody>\n</table>\n<div class="cards">\n' + "\n".join(cards)
            + "\n</div>\n</section>")


def _dataset_row(index: int, test: DatasetTest) -> str:
    values = [_num(test.statistic), _p(test.p_value), _p(test.p_adjusted), _num(test.effect_size)]
    return (f'<tr{_DRIFT_CLASS if test.drift else ""}><th scope="row"><a href="#test-{index}">{_e(test.name)}</a></th>'
            f"<td>{_e(_DATASET_KINDS.get(test.name, 'other'))}</td>"
            + "".join(f'<td class="n">{_e(value)}</td>' for value in values)
            + f"<td>{_badge(test.drift, 'alarm')}</td></tr>")


def _dataset_card(index: int, test: DatasetTest) -> str:
    parts = [f'<article class="card{" drift" if test.drift else ""}" id="test-{index}">',
             f"<header><h3>{_e(test.name)}</h3>{_badge(test.drift, 'alarm')}</header>",
             f'<p class="meta">{_e(_DATASET_KINDS.get(test.name, "other"))}</p>']
    if test.message:
        parts.append(f'<p class="msg">{_e(test.message)}</p>')
    if test.details:
        parts.append(_kv_table(test.details, 0))
    elif not test.message:
        parts.append('<p class="none">No details.</p>')
    parts.append("</article>")
    return "\n".join(parts)


# --- nested details as key/value tables ------------------------------------------------------------------------------


def _scalar(value: object, key: str = "") -> str:
    """Format one detail value; keys that name a p-value or a share get those formats."""
    if value is None:
        return DASH
    item = getattr(value, "item", None)
    if getattr(value, "ndim", None) == 0 and callable(item):
        value = item()  # NumPy scalar -> Python scalar (np.bool_ is no bool, np.float32 no float)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        lowered = key.lower()
        if lowered == "p" or "p_value" in lowered or "pvalue" in lowered:
            return _p(float(value))
        return _num(float(value))
    return str(value)


def _value_html(value: object, depth: int, key: str = "") -> str:
    if isinstance(value, Mapping):
        return _kv_table(value, depth + 1) if depth < _MAX_DEPTH and value else _e(_short(value))
    if isinstance(value, list | tuple):
        records = [item for item in value if isinstance(item, Mapping)]
        if value and depth < _MAX_DEPTH and len(records) == len(value):
            return _records_table(records, depth + 1)
        shown = ", ".join(_e(_scalar(item, key)) if not isinstance(item, Mapping | list | tuple)
                          else _e(_short(item)) for item in value[:_MAX_ITEMS])
        more = len(value) - _MAX_ITEMS
        return f"[{shown}]" + (f" \u2026 ({more} more)" if more > 0 else "")
    return _e(_scalar(value, key))


def _short(value: object) -> str:
    text = str(value)
    return text if len(text) <= 200 else text[:199] + "\u2026"


def _kv_table(mapping: Mapping[Any, object], depth: int) -> str:
    rows = [f'<tr><th scope="row">{_e(key)}</th><td>{_value_html(item, depth, str(key))}</td></tr>'
            for key, item in list(mapping.items())[:_MAX_ITEMS]]
    if len(mapping) > _MAX_ITEMS:
        rows.append(f'<tr><td colspan="2">\u2026 {len(mapping) - _MAX_ITEMS} more</td></tr>')
    return '<table class="kv"><tbody>' + "".join(rows) + "</tbody></table>"


def _records_table(records: Sequence[Mapping[Any, object]], depth: int) -> str:
    """A list of mappings (top features, per-segment metrics ...) as one table with a column per key."""
    keys: list[object] = []
    for record in records[:_MAX_ITEMS]:
        keys.extend(key for key in record if key not in keys)
    keys = keys[:_MAX_RECORD_KEYS]
    head = "".join(f'<th scope="col">{_e(key)}</th>' for key in keys)
    rows = []
    for record in records[:_MAX_ITEMS]:
        rows.append("<tr>" + "".join(f"<td>{_value_html(record.get(key), depth, str(key))}</td>" for key in keys)
                    + "</tr>")
    if len(records) > _MAX_ITEMS:
        rows.append(f'<tr><td colspan="{len(keys)}">\u2026 {len(records) - _MAX_ITEMS} more</td></tr>')
    return f'<table class="kv"><thead><tr>{head}</tr></thead><tbody>' + "".join(rows) + "</tbody></table>"


# --- per-column cards and charts -------------------------------------------------------------------------------------


def _column_section(ordered: Sequence[tuple[int, ColumnDrift]]) -> str:
    heading = '<section aria-labelledby="plots">\n<h2 id="plots">Distributions</h2>\n'
    if not ordered:
        return heading + '<p class="none">No columns to plot.</p>\n</section>'
    cards = [_column_card(index, column) for index, column in ordered]
    return heading + '<div class="cards">\n' + "\n".join(cards) + "\n</div>\n</section>"


def _column_card(index: int, column: ColumnDrift) -> str:
    symbol = _STATISTIC_SYMBOLS.get(column.test, "statistic")
    stats = [f"{symbol} = {_num(column.statistic)}", f"p = {_p(column.p_value)}",
             f"corrected p = {_p(column.p_adjusted)}", f"effect size = {_num(column.effect_size)}",
             f"missing {_pct(column.reference_missing)} \u2192 {_pct(column.current_missing)}"]
    parts = [f'<figure class="card{" drift" if column.drift else ""}" id="col-{index}">',
             f"<figcaption><header><h3>{_e(column.name)}</h3>{_badge(column.drift)}</header>",
             f'<p class="meta">{_e(column.kind)} \u00b7 {_e(column.role)} \u00b7 '
             f"{_e(_TEST_NAMES.get(column.test, column.test))}</p>",
             f'<p class="stats">{_DOT.join(_e(item) for item in stats)}</p>']
    if column.metrics:
        metrics = _DOT.join(f"{_e(key)} {_e(_num(value))}" for key, value in column.metrics.items())
        parts.append(f'<p class="meta">{metrics}</p>')
    if column.message:
        parts.append(f'<p class="msg">{_e(column.message)}</p>')
    parts.append("</figcaption>")
    if column.histogram is not None:
        parts.append(_histogram_svg(column, column.histogram))
    elif not column.message:
        parts.append('<p class="none">No distribution to plot.</p>')
    parts.append("</figure>")
    return "\n".join(parts)


def _check_histogram(name: str, histogram: Histogram) -> None:
    sizes = (len(histogram.labels), len(histogram.reference), len(histogram.current))
    if len(set(sizes)) != 1:
        raise ValueError(f"render_html: column {name!r}: histogram has {sizes[0]} labels but {sizes[1]} reference "
                         f"and {sizes[2]} current shares")


def _share(value: float) -> float:
    """Shares drawn as bars: non-finite ones count as zero (the tooltip still shows them)."""
    return float(value) if math.isfinite(value) else 0.0


def _bin_order(column: ColumnDrift, histogram: Histogram) -> list[int]:
    """Numeric bins keep their order; categories go most common first (over both samples)."""
    indices = list(range(len(histogram.labels)))
    if column.kind == "numeric" or histogram.edges:
        return indices
    return sorted(indices, key=lambda i: -(_share(histogram.reference[i]) + _share(histogram.current[i])))


def _nice_top(largest: float) -> tuple[float, float]:
    """The y-axis maximum and tick step: a round step, about four ticks, covering ``largest``."""
    if largest <= 0:
        return 1.0, 0.25
    raw = largest / 4
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw * (1 - 1e-9))
    return step * math.ceil(largest / step - 1e-9), step


def _truncate(label: str) -> str:
    return label if len(label) <= _LABEL_CHARS else label[:_LABEL_CHARS - 1] + "\u2026"


def _histogram_svg(column: ColumnDrift, histogram: Histogram) -> str:
    _check_histogram(column.name, histogram)
    order = _bin_order(column, histogram)
    labels = [str(histogram.labels[i]) for i in order]
    reference = [float(histogram.reference[i]) for i in order]
    current = [float(histogram.current[i]) for i in order]
    count = len(labels)
    step = max(1, math.ceil(count / _MAX_TICK_LABELS))
    slots = max(count, _MIN_SLOTS)
    plot_width = _WIDTH - _LEFT - _RIGHT
    spacing = plot_width / slots * step
    rotated = max((len(_truncate(label)) for label in labels), default=0) * _CHAR_WIDTH > spacing - 6
    plot_height = _HEIGHT - _TOP - (_BOTTOM_ROTATED if rotated else _BOTTOM_FLAT)
    top, tick = _nice_top(max((_share(v) for v in reference + current), default=0.0))
    numeric = column.kind == "numeric" or bool(histogram.edges)
    label = (f"Histogram of {column.name}: reference and current share of values in each of {count} "
             f"{'bins' if numeric else 'categories'}")
    parts = [f'<svg class="chart" role="img" aria-label="{_e(label)}" viewBox="0 0 {_WIDTH} {_HEIGHT}">',
             _y_axis(top, tick, plot_height),
             _bars(labels, reference, current, top, slots, plot_width, plot_height),
             _x_axis(labels, step, slots, plot_width, plot_height, rotated, numeric),
             _legend(), "</svg>"]
    return "\n".join(parts)


def _y_axis(top: float, tick: float, plot_height: float) -> str:
    ys = [_TOP + plot_height - plot_height * i * tick / top for i in range(round(top / tick) + 1)]
    grid = "".join(f"M{_LEFT} {y:.1f}H{_WIDTH - _RIGHT}" for y in ys)
    ticks = "".join(f'<text x="{_LEFT - 6}" y="{y + 4:.1f}">{_e(_pct(i * tick))}</text>' for i, y in enumerate(ys))
    middle = _TOP + plot_height / 2
    return (f'<path class="grid" d="{grid}"/><g text-anchor="end">{ticks}</g>'
            f'<text x="14" y="{middle:.1f}" text-anchor="middle" transform="rotate(-90 14 {middle:.1f})">'
            "share of non-missing values</text>")


def _bars(labels: Sequence[str], reference: Sequence[float], current: Sequence[float], top: float, slots: int,
          plot_width: float, plot_height: float) -> str:
    """Bars in their own integer coordinates, stretched to the plot, one tooltip per bin.

    The y axis is flipped so that bars stand on y=0 and need no ``y`` attribute; with the short attributes this
    keeps a page of 25 charts of 50 bins near 260 KB (about 150 bytes a bin, most of it the tooltip).
    """
    offset = (slots - len(labels)) * _BAR_UNITS // 2
    half = _BAR_UNITS * 2 // 5

    def rect(css: str, x: int, share: float) -> str:
        # Reference bars take the default fill and empty bars the default height: fewer bytes per bar.
        height = min(_BAR_HEIGHT_UNITS, max(0, round(_share(share) / top * _BAR_HEIGHT_UNITS)))
        return f'<rect{css} x="{x}" width="{half}"' + (f' height="{height}"/>' if height else "/>")

    parts = [f'<svg class="bars" x="{_LEFT}" y="{_TOP}" width="{plot_width}" height="{plot_height:.0f}" '
             f'viewBox="0 0 {slots * _BAR_UNITS} {_BAR_HEIGHT_UNITS}" preserveAspectRatio="none">'
             f'<g transform="matrix(1 0 0 -1 0 {_BAR_HEIGHT_UNITS})">']
    for i, (label, ref, cur) in enumerate(zip(labels, reference, current, strict=True)):
        x = offset + i * _BAR_UNITS + _BAR_UNITS // 10
        parts.append(f"<g><title>{_e(label)}: reference {_e(_pct(ref))}, current {_e(_pct(cur))}</title>"
                     + rect("", x, ref) + rect(' class="c"', x + half, cur) + "</g>")
    parts.append("</g></svg>")
    return "\n".join(parts)


def _x_axis(labels: Sequence[str], step: int, slots: int, plot_width: float, plot_height: float, rotated: bool,
            numeric: bool) -> str:
    """Base line, one tick label every ``step`` bins (full text as a tooltip when cut), and the axis title."""
    base = _TOP + plot_height
    offset = (slots - len(labels)) / 2
    ticks, marks = [], []
    for i in range(0, len(labels), step):
        x = _LEFT + (offset + i + 0.5) * plot_width / slots
        marks.append(f"M{x:.1f} {base:.1f}v4")
        shown = _truncate(labels[i])
        hint = f"<title>{_e(labels[i])}</title>" if shown != labels[i] else ""
        place = (f'transform="translate({x:.1f} {base + 12:.1f}) rotate(-35)"' if rotated
                 else f'x="{x:.1f}" y="{base + 15:.1f}"')
        ticks.append(f'<text class="tick" {place}>{hint}{_e(shown)}</text>')
    axis_title = "value range (bin order)" if numeric else "category (most common first)"
    return (f'<path class="axis" d="M{_LEFT} {_TOP}V{base:.1f}H{_WIDTH - _RIGHT}{"".join(marks)}"/>'
            f'<g text-anchor="{"end" if rotated else "middle"}">' + "".join(ticks) + "</g>"
            f'<text x="{_LEFT + plot_width / 2:.1f}" y="{_HEIGHT - 4}" text-anchor="middle">{axis_title}</text>')


def _legend() -> str:
    x = _WIDTH - _RIGHT - 160
    return (f'<g class="legend"><rect class="r" x="{x}" y="8" width="11" height="11"/>'
            f'<text x="{x + 16}" y="18">reference</text>'
            f'<rect class="c" x="{x + 90}" y="8" width="11" height="11"/>'
            f'<text x="{x + 106}" y="18">current</text></g>')
