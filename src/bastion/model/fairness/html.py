"""Self-contained HTML for ``bastion test fairness`` and ``bastion data audit``: inline CSS and SVG, no script,
nothing fetched.

The pages are read from the reports' ``to_dict()`` output (the stable JSON contract), so absent optional parts are
left out. Plots come first, tables after: per-group bars of the rates with bootstrap whiskers and a four-fifths
reference, calibration curves by group, before/after bars of each mitigation; for the audit, representation against
the reference, positive label rate by group and proxy strength. Every data-derived string is escaped. With many
groups the bar charts show the largest (``MAX_PLOTTED``) and say so; the tables list them all.

The SVG helpers here (``Panel``, ``panel_chart``, ``grouped_bars``) also draw the explanation report's charts.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bastion.model.fairness.render import (
    CLASSIFICATION_COLUMNS,
    HEADLINE,
    MITIGATION_METRICS,
    REGRESSION_COLUMNS,
    REGRESSION_HEADLINE,
    VERSUS_METRICS,
    audit_flags,
    clip,
    finite,
    group_label,
    largest,
    number,
    short_label,
    value_text,
)
from bastion.model.html import page
from bastion.reports.html_text import escape_text as _e

if TYPE_CHECKING:
    from bastion.model.fairness.audit import AuditReport
    from bastion.model.fairness.report import FairnessReport
    from bastion.model.fairness.run import FairnessRun

MAX_PLOTTED = 40
"""Rows a bar chart draws at most (the largest groups, or the strongest proxies)."""
LABEL_PX = 210
"""Width of the row labels of a bar chart, in pixels."""
MAX_CURVES = 8
"""Calibration curves drawn at most (the largest groups)."""
MAX_WARNINGS = 30
"""Warnings listed before the rest are counted."""
CHAR_PX = 6.1
"""Approximate width of one character of the 11px chart font, for cutting labels to fit."""
DASH = "\u2013"
"""Shown for a missing or undefined number."""
BLUE, RED, GREY, GREEN = "#1f77b4", "#d62728", "#9aa3ad", "#2ca02c"
PALETTE = (BLUE, "#ff7f0e", GREEN, RED, "#9467bd", "#8c564b", "#e377c2", "#17becf")
"""Colours of series and curves, in order."""
RATE_PANELS = (("selection_rate", "selection rate"), ("tpr", "true positive rate"), ("fpr", "false positive rate"),
               ("precision", "precision"))
"""Per-group rates drawn as bars (classification)."""
ERROR_PANELS = (("mean_absolute_error", "mean absolute error"), ("root_mean_squared_error", "RMSE"),
                ("mean_error", "mean error (signed)"), ("mean_prediction", "mean prediction"))
"""Per-group errors drawn as bars (regression)."""
_BOX = 'style="border:1px solid #dde;border-radius:6px;padding:.4em 1em;margin:1em 0;background:#fafbfc"'
_SMALL = 'style="font-size:10px"'


def fmt(value: object, digits: int = 3) -> str:
    """A number for the page; an en dash for ``None``."""
    return number(value, digits, empty=DASH)


# ---- SVG building blocks ----


@dataclass(frozen=True)
class Panel:
    """One column of horizontal bars in a ``panel_chart``, one bar per row."""

    title: str
    """Shown above the panel."""
    values: Sequence[float | None]
    """One value per row; ``None`` draws a dash."""
    intervals: Sequence[object] = field(default=())
    """Per row, ``(low, high)`` drawn as a whisker, or ``None``; empty for no whiskers."""
    domain: tuple[float, float] | None = None
    """The axis range; ``None``: from the values and intervals, always including 0."""
    references: Sequence[tuple[float, str]] = field(default=())
    """Dashed vertical lines (value, label)."""
    alerts: Sequence[bool] = field(default=())
    """Rows whose bar is drawn in red."""
    colour: str = BLUE
    """Bar colour."""


def panel_chart(labels: Sequence[str], panels: Sequence[Panel], *, aria: str, label_width: int = LABEL_PX,
                panel_width: int = 160, row: int = 18, short: Sequence[str] = ()) -> str:
    """Rows of horizontal bars, one row per label and one panel (column) per measure, sharing the row labels.

    ``short``: the labels as shown, when shorter forms than ``labels`` (kept for the tooltips) are wanted.
    """
    gap, bottom = 26, 22
    top = 26 + 11 * max([len(p.references) for p in panels] + [1])  # one line per reference label
    width = label_width + len(panels) * (panel_width + gap)
    height = top + row * len(labels) + bottom
    out = [f'<svg width="{width}" height="{height}" role="img" aria-label="{_e(aria)}">']
    out += [f'<rect x="0" y="{top + i * row}" width="{width}" height="{row}" fill="#f6f7f9"/>'
            for i in range(0, len(labels), 2)]
    out += [row_label(label, label_width - 8, top + i * row + row / 2 + 4, shown=short[i] if i < len(short) else "")
            for i, label in enumerate(labels)]
    for index, panel in enumerate(panels):
        x0 = label_width + index * (panel_width + gap)
        out.append(_panel(panel, labels, x0, panel_width, top, row))
    out.append("</svg>")
    return "".join(out)


def row_label(label: str, x: float, y: float, colour: str = "#333", shown: str = "") -> str:
    """Right-aligned chart text ending at ``x``: ``shown`` (or ``label``) cut to fit, the full label as tooltip."""
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="end" style="fill:{colour}"><title>{_e(label)}</title>'
            f'{_e(clip(shown or label, label_chars(x)))}</text>')


def label_chars(width: float) -> int:
    """Characters of chart text that fit in ``width`` pixels."""
    return max(int((width - 4) / CHAR_PX), 4)


def _domain(panel: Panel) -> tuple[float, float]:
    if panel.domain is not None:
        return panel.domain
    points = [0.0, *(v for v in panel.values if v is not None), *(r for r, _ in panel.references)]
    points += [x for pair in panel.intervals for x in _pair(pair) if x is not None]
    low, high = min(points), max(points)
    return (low, high) if high > low else (low, low + 1.0)


def _pair(pair: object) -> tuple[float | None, float | None]:
    if not isinstance(pair, Sequence) or isinstance(pair, str) or len(pair) != 2:
        return None, None
    return finite(pair[0]), finite(pair[1])


def ticks(low: float, high: float, count: int = 4) -> list[float]:
    """About ``count`` round tick values spanning [low, high]."""
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = magnitude * next(m for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step - 1e-9)
    return [round(k * step, 12) for k in range(first, math.floor(high / step + 1e-9) + 1)]


def _panel(panel: Panel, labels: Sequence[str], x0: float, width: float, top: float, row: float) -> str:
    low, high = _domain(panel)
    bottom = top + row * len(labels)

    def x(value: float) -> float:
        return x0 + width * (min(max(value, low), high) - low) / (high - low)

    out = [f'<text x="{x0 + width / 2:.1f}" y="12" text-anchor="middle" style="font-weight:600">'
           f'{_e(panel.title)}</text>']
    for tick in ticks(low, high):
        out.append(f'<line x1="{x(tick):.1f}" x2="{x(tick):.1f}" y1="{top}" y2="{bottom}" stroke="#e4e7ec"/>'
                   f'<text x="{x(tick):.1f}" y="{bottom + 14}" text-anchor="middle" {_SMALL}>{tick:g}</text>')
    zero = x(0.0)
    for i, label in enumerate(labels):
        out.append(_bar(panel, i, label, zero, x, top + i * row, row))
    out.append(f'<line x1="{zero:.1f}" x2="{zero:.1f}" y1="{top}" y2="{bottom}" stroke="#8a939e"/>')
    for k, (value, text) in enumerate(panel.references):
        colour = ("#b00020", "#555")[k % 2]
        out.append(f'<line x1="{x(value):.1f}" x2="{x(value):.1f}" y1="{top - 4 - 11 * k}" y2="{bottom}" '
                   f'stroke="{colour}" stroke-dasharray="4 3"><title>{_e(text)}: {fmt(value)}</title></line>'
                   f'<text x="{x(value):.1f}" y="{top - 7 - 11 * k}" text-anchor="middle" '
                   f'style="font-size:10px;fill:{colour}">{_e(text)}</text>')
    return "".join(out)


def _bar(panel: Panel, i: int, label: str, zero: float, x: Callable[[float], float], y: float, row: float) -> str:
    value = panel.values[i]
    low, high = _pair(panel.intervals[i]) if i < len(panel.intervals) else (None, None)
    span = f" [{fmt(low)}, {fmt(high)}]" if low is not None and high is not None else ""
    tip = f"<title>{_e(label)}: {_e(panel.title)} {fmt(value)}{span}</title>"
    if value is None:
        return f'<text x="{zero + 3:.1f}" y="{y + row / 2 + 4:.1f}" fill="#667">{DASH}{tip}</text>'
    end = x(value)
    colour = RED if i < len(panel.alerts) and panel.alerts[i] else panel.colour
    out = [f'<rect x="{min(zero, end):.1f}" y="{y + 3:.1f}" width="{max(abs(end - zero), 0.8):.1f}" '
           f'height="{row - 6:.1f}" fill="{colour}" fill-opacity="0.85">{tip}</rect>']
    if low is not None and high is not None:
        mid, a, b = y + row / 2, x(low), x(high)
        out.append(f'<path d="M{a:.1f} {mid:.1f}H{b:.1f}M{a:.1f} {mid - 4:.1f}V{mid + 4:.1f}M{b:.1f} {mid - 4:.1f}'
                   f'V{mid + 4:.1f}" stroke="#222" stroke-width="1.2" fill="none" class="whisker">{tip}</path>')
    return "".join(out)


def grouped_bars(labels: Sequence[str], series: Sequence[tuple[str, Sequence[float | None], str]], *, aria: str,
                 domain: tuple[float, float] | None = None, alerts: Sequence[bool] = (),
                 show: Callable[[float | None], str] = fmt, label_width: int = LABEL_PX, plot_width: int = 380,
                 short: Sequence[str] = ()) -> str:
    """Rows with one thin bar per series (a legend on top): before/after, data share/reference share.

    ``short``: the labels as shown, when shorter forms than ``labels`` (kept for the tooltips) are wanted.
    """
    bar, top, bottom = 9, 30, 22
    row = bar * len(series) + 8
    values = [v for _, vs, _ in series for v in vs if v is not None]
    low, high = domain or (min([0.0, *values]), max([0.0, *values]))
    high = high if high > low else low + 1.0
    width, height = label_width + plot_width + 70, top + row * len(labels) + bottom

    def x(value: float) -> float:
        return label_width + plot_width * (min(max(value, low), high) - low) / (high - low)

    out = [f'<svg width="{width}" height="{height}" role="img" aria-label="{_e(aria)}">']
    for k, (name, _, colour) in enumerate(series):
        out.append(f'<rect x="{label_width + 140 * k}" y="6" width="10" height="10" fill="{colour}"/>'
                   f'<text x="{label_width + 140 * k + 14}" y="15">{_e(clip(name, 20))}</text>')
    for tick in ticks(low, high):
        out.append(f'<line x1="{x(tick):.1f}" x2="{x(tick):.1f}" y1="{top}" y2="{height - bottom}" stroke="#e4e7ec"/>'
                   f'<text x="{x(tick):.1f}" y="{height - bottom + 14}" text-anchor="middle" {_SMALL}>{tick:g}</text>')
    for i, label in enumerate(labels):
        y = top + i * row
        flagged = i < len(alerts) and alerts[i]
        if i % 2 == 0:
            out.append(f'<rect x="0" y="{y}" width="{width}" height="{row}" fill="#f6f7f9"/>')
        out.append(row_label(label, label_width - 8, y + row / 2 + 4, RED if flagged else "#333",
                              short[i] if i < len(short) else ""))
        for k, (name, vs, colour) in enumerate(series):
            value, by = vs[i], y + 4 + k * bar
            tip = f"<title>{_e(label)}: {_e(name)} {show(value)}</title>"
            if value is not None:
                start, length = min(x(0.0), x(value)), max(abs(x(value) - x(0.0)), 0.8)
                out.append(f'<rect x="{start:.1f}" y="{by}" width="{length:.1f}" height="{bar - 1}" fill="{colour}">'
                           f'{tip}</rect>')
            out.append(f'<text x="{max(x(0.0), x(value or 0.0)) + 4:.1f}" y="{by + bar - 1}" {_SMALL}>'
                       f'{show(value)}</text>')
    out.append(f'<line x1="{x(0.0):.1f}" x2="{x(0.0):.1f}" y1="{top}" y2="{height - bottom}" stroke="#8a939e"/>')
    out.append("</svg>")
    return "".join(out)


def calibration_chart(curves: Sequence[tuple[str, str, Mapping[str, Any]]], size: int = 300) -> str:
    """Reliability curves (observed positive rate against mean score per bin), one per group, with the diagonal.

    ``curves``: (label, label as shown, the ``curve`` of the group's calibration JSON) per group.
    """
    left, top, legend = 46, 12, 230
    width, height = left + size + legend, top + size + 40

    def px(v: float) -> float:
        return left + size * v

    def py(v: float) -> float:
        return top + size * (1 - v)

    out = [f'<svg width="{width}" height="{height}" role="img" aria-label="calibration by group">']
    for tick in (0, 0.25, 0.5, 0.75, 1):
        out.append(f'<line x1="{px(0)}" x2="{px(1)}" y1="{py(tick):.1f}" y2="{py(tick):.1f}" stroke="#e4e7ec"/>'
                   f'<line x1="{px(tick):.1f}" x2="{px(tick):.1f}" y1="{py(0)}" y2="{py(1)}" stroke="#e4e7ec"/>'
                   f'<text x="{left - 6}" y="{py(tick) + 4:.1f}" text-anchor="end">{tick:g}</text>'
                   f'<text x="{px(tick):.1f}" y="{py(0) + 16}" text-anchor="middle">{tick:g}</text>')
    out.append(f'<line x1="{px(0)}" y1="{py(0)}" x2="{px(1)}" y2="{py(1)}" stroke="#8a939e" stroke-dasharray="5 4">'
               f'<title>perfect calibration</title></line>'
               f'<text x="{px(0.5)}" y="{height - 6}" text-anchor="middle">mean score in bin</text>'
               f'<text transform="translate(12 {py(0.5)}) rotate(-90)" text-anchor="middle">observed positive rate'
               f'</text>')
    for k, (label, shown, curve) in enumerate(curves):
        colour = PALETTE[k % len(PALETTE)]
        points = [(s, o, n) for s, o, n in zip(curve.get("mean_score") or [], curve.get("observed") or [],
                                               curve.get("count") or [], strict=False)
                  if finite(s) is not None and finite(o) is not None]
        path = " ".join(f"{px(s):.1f},{py(o):.1f}" for s, o, _ in points)
        out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.8" points="{path}"/>')
        most = max([finite(n) or 0.0 for _, _, n in points] + [1.0])
        out += [f'<circle cx="{px(s):.1f}" cy="{py(o):.1f}" r="{2 + 3 * math.sqrt((finite(n) or 0.0) / most):.1f}" '
                f'fill="{colour}"><title>{_e(label)}: mean score {fmt(s)}, observed {fmt(o)}, {fmt(n)} rows</title>'
                f'</circle>' for s, o, n in points]
        out.append(f'<rect x="{px(1) + 16}" y="{top + 16 * k}" width="10" height="10" fill="{colour}"/>'
                   + _legend_text(label, shown, px(1) + 30, top + 9 + 16 * k, legend - 34))
    out.append("</svg>")
    return "".join(out)


def _legend_text(label: str, shown: str, x: float, y: float, width: float) -> str:
    return f'<text x="{x:.1f}" y="{y}"><title>{_e(label)}</title>{_e(clip(shown, label_chars(width)))}</text>'


def html_table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A table; ``head`` is plain text (escaped here), the cells are HTML already escaped by the caller."""
    if not rows:
        return "<p class=muted>none</p>"
    header = "".join(f"<th>{_e(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{header}</tr>{body}</table>"


def with_interval(value: object, pair: object) -> str:
    """A value with its interval in small grey text (HTML)."""
    low, high = _pair(pair)
    span = "" if low is None or high is None else f' <span class=muted>[{fmt(low)}, {fmt(high)}]</span>'
    return fmt(value) + span


def warnings_html(warnings: Sequence[object], limit: int = MAX_WARNINGS) -> str:
    """Warnings as paragraphs, at most ``limit``, then how many more."""
    parts = [f"<p class=warn>{_e(w)}</p>" for w in warnings[:limit]]
    if len(warnings) > limit:
        parts.append(f"<p class=muted>{len(warnings) - limit} more warnings in the JSON report.</p>")
    return "".join(parts)


def box(html: str) -> str:
    """A framed box (the verdict, the checks)."""
    return f"<div {_BOX}>{html}</div>"


def _capped(shown: int, total: int, what: str) -> str:
    if shown >= total:
        return ""
    return f"<p class=muted>The {shown} largest of {total:,} {what} are plotted; the table lists them all.</p>"


# ---- fairness ----


def fairness_html(run: FairnessRun | FairnessReport, title: str = "Bastion fairness report") -> str:
    """The fairness report: verdict, group rate bars with intervals, disparities, calibration curves, the tables,
    comparisons with the privileged group, and each mitigation before and after."""
    data = run.to_dict()
    groups = list(data.get("groups") or [])
    classification = data.get("task", "classification") == "classification"
    parts = [_summary(data), box(_verdict(data, classification)), warnings_html(data.get("warnings") or [])]
    if groups:
        parts.append(_group_charts(data, groups, classification))
        parts.append(_disparity_chart(data, classification))
        parts.append(_calibration(groups))
        parts.append(_group_table(data, groups, classification))
    parts.append(_metrics_table(data))
    parts.append(_versus(data.get("versus_privileged")))
    parts.append(_mitigations(data.get("mitigations") or []))
    parts.append(_bootstrap_note(data))
    return page(title, "".join(parts))


def _summary(data: Mapping[str, Any]) -> str:
    model, source = data.get("model"), data.get("predictions")
    what = f"Model <b>{_e(model)}</b>" if model else f"Predictions from <b>{_e(source or 'a column')}</b>"
    task = data.get("task", "classification")
    positive = f", positive label <b>{_e(data.get('positive'))}</b>" if task == "classification" else ""
    sensitive = ", ".join(_e(s) for s in data.get("sensitive") or [])
    return (f"<p>{what}: {fmt(data.get('rows', 0))} rows, {_e(task)}{positive}; sensitive <b>{sensitive}</b>, "
            f"{len(data.get('groups') or []):,} groups{' (weighted)' if data.get('weighted') else ''}.</p>")


def _verdict(data: Mapping[str, Any], classification: bool) -> str:
    metrics, intervals = data.get("metrics") or {}, data.get("intervals") or {}
    out = []
    four = data.get("four_fifths_rule")
    if isinstance(four, Mapping):
        passed = four.get("passed")
        word = ("<b style='color:#2a7a2a'>passed</b>" if passed is True else "<b class=bad>failed</b>"
                if passed is False else "<b>undefined</b> (nobody was selected)")
        out.append(f"<p>Four-fifths rule {word}: demographic parity ratio "
                   f"{with_interval(four.get('ratio'), intervals.get('demographic_parity_ratio'))} "
                   f"(threshold {fmt(four.get('threshold', 0.8), 2)}).</p>")
    key = "selection_rate" if classification else "mean_absolute_error"
    known = [(v, group_label(g.get("group"))) for g in data.get("groups") or []
             if (v := finite(g.get(key))) is not None]
    if len(known) >= 2:
        low, high = min(known, key=lambda p: p[0]), max(known, key=lambda p: p[0])
        out.append(f"<p>{_e(key.replace('_', ' ')).capitalize()}: lowest {fmt(low[0])} for <b>{_e(low[1])}</b>, "
                   f"highest {fmt(high[0])} for <b>{_e(high[1])}</b>.</p>")
    names = [n for n in (HEADLINE if classification else REGRESSION_HEADLINE) if finite(metrics.get(n)) is not None]
    if classification:
        names = sorted(names, key=lambda n: -(finite(metrics[n]) or 0.0))[:3]
    if names:
        items = "".join(f"<li>{_e(n)} {with_interval(metrics[n], intervals.get(n))}</li>" for n in names)
        out.append(f"<p>{'Largest disparities' if classification else 'Disparities'}:</p><ul>{items}</ul>")
    return "".join(out) or "<p>No groups to compare.</p>"


def _group_charts(data: Mapping[str, Any], groups: Sequence[Mapping[str, Any]], classification: bool) -> str:
    chosen = largest([g.get("size") for g in groups], MAX_PLOTTED)
    shown = [groups[i] for i in chosen]
    labels = [group_label(g.get("group")) for g in shown]
    short = [short_label(g.get("group"), label_chars(LABEL_PX - 8)) for g in shown]
    panels = []
    for key, name in RATE_PANELS if classification else ERROR_PANELS:
        values = [finite(g.get(key)) for g in shown]
        intervals = [(g.get("intervals") or {}).get(key) for g in shown]
        panel = Panel(name, values, intervals, (0.0, 1.0) if classification else None)
        if key == "selection_rate":
            top = max([v for g in groups if (v := finite(g.get(key))) is not None], default=None)
            if top:
                line = (data.get("four_fifths_rule") or {}).get("threshold", 0.8) * top
                panel = Panel(name, values, intervals, (0.0, 1.0), ((line, "4/5 of highest"),),
                              [v is not None and v < line for v in values])
        panels.append(panel)
    head = "Rates by group" if classification else "Errors by group"
    note = (" Red bars fall below four-fifths of the highest selection rate (the dashed line)."
            if classification else "")
    return (f"<h2>{head}</h2><p class=muted>{_e(_interval_words(data))}{note}</p>"
            + panel_chart(labels, panels, aria=head.lower(), short=short) + _capped(len(shown), len(groups), "groups"))


def _interval_words(data: Mapping[str, Any]) -> str:
    boot = data.get("bootstrap") or {}
    if not boot.get("resamples"):
        return "No bootstrap intervals were computed."
    level = finite(boot.get("level")) or 0.95
    return f"Whiskers: {level:.0%} percentile bootstrap intervals from {boot['resamples']} resamples."


def _disparity_chart(data: Mapping[str, Any], classification: bool) -> str:
    metrics, intervals = data.get("metrics") or {}, data.get("intervals") or {}
    names = [n for n in HEADLINE if finite(metrics.get(n)) is not None]
    if not classification or not names:  # regression disparities have different units: the table has them
        return ""
    panel = Panel("largest gap between groups (0 = parity)", [finite(metrics[n]) for n in names],
                  [intervals.get(n) for n in names], (0.0, 1.0))
    return "<h2>Disparities</h2>" + panel_chart(names, [panel], aria="disparities", label_width=270,
                                                 panel_width=300)


def _calibration(groups: Sequence[Mapping[str, Any]]) -> str:
    calibrated = [i for i, g in enumerate(groups) if isinstance((g.get("calibration") or {}).get("curve"), Mapping)]
    if not calibrated:
        return ""
    chosen = [calibrated[i] for i in largest([groups[i].get("size") for i in calibrated], MAX_CURVES)]
    curves = [(group_label(groups[i].get("group")), short_label(groups[i].get("group"), label_chars(196)),
               groups[i]["calibration"]["curve"]) for i in chosen]
    capped = "" if len(chosen) == len(calibrated) else (
        f" The {len(chosen)} largest of {len(calibrated):,} groups are drawn; the table lists each group's ECE.")
    return ("<h2>Calibration by group</h2><p class=muted>Observed positive rate against the mean score in each bin; "
            f"a calibrated model follows the dashed diagonal.{capped}</p>" + calibration_chart(curves))


def _group_table(data: Mapping[str, Any], groups: Sequence[Mapping[str, Any]], classification: bool) -> str:
    columns = CLASSIFICATION_COLUMNS if classification else REGRESSION_COLUMNS
    calibrated = any(isinstance(g.get("calibration"), Mapping) for g in groups)
    head = ["group", "size", *(k.replace("_", " ") for k, _ in columns), *(["ECE", "Brier"] if calibrated else [])]
    rows = []
    for g in groups:
        iv = g.get("intervals") or {}
        cells = [_e(group_label(g.get("group"))), fmt(g.get("size"))]
        cells += [with_interval(g.get(k), iv.get(k)) for k, _ in columns]
        if calibrated:
            cal = g.get("calibration") or {}
            cells += [with_interval(cal.get("ece"), iv.get("ece")), with_interval(cal.get("brier"), iv.get("brier"))]
        rows.append(cells)
    return "<h2>Groups</h2>" + html_table(head, rows)


def _metrics_table(data: Mapping[str, Any]) -> str:
    metrics, intervals = data.get("metrics") or {}, data.get("intervals") or {}
    rows = [[_e(n), fmt(v), _interval_cell(intervals.get(n))] for n, v in metrics.items()]
    return "<h2>All metrics</h2><p class=muted>Fairlearn's names.</p>" + html_table(["metric", "value", "interval"],
                                                                                   rows)


def _interval_cell(pair: object) -> str:
    low, high = _pair(pair)
    return DASH if low is None or high is None else f"[{fmt(low)}, {fmt(high)}]"


def _versus(versus: object) -> str:
    if not isinstance(versus, Mapping):
        return ""
    aggregate, intervals = versus.get("aggregate") or {}, versus.get("intervals") or {}
    rows = [["all other rows", fmt(aggregate.get("size")),
             *(with_interval(aggregate.get(k), intervals.get(k)) for k, _ in VERSUS_METRICS)]]
    rows += [[_e(group_label(g.get("group"))), fmt(g.get("size")), *(fmt(g.get(k)) for k, _ in VERSUS_METRICS)]
             for g in versus.get("groups") or []]
    every = "".join(f"<tr><td>{_e(k)}</td><td>{with_interval(v, intervals.get(k))}</td></tr>"
                    for k, v in aggregate.items() if k != "size")
    return (f"<h2>Against the privileged group</h2><p>Privileged: <b>{_e(group_label(versus.get('privileged')))}</b>"
            f" ({fmt(versus.get('privileged_rows'))} rows). AIF360's signed metrics: differences are unprivileged "
            f"minus privileged, disparate impact their ratio of selection rates.</p>"
            + html_table(["compared", "size", *(h for _, h in VERSUS_METRICS)], rows)
            + f"<details><summary>Every metric, all other rows</summary><table>{every}</table></details>")


def _mitigations(mitigations: Sequence[Mapping[str, Any]]) -> str:
    if not mitigations:
        return ""
    parts = ["<h2>Mitigations</h2><p class=muted>Each model is judged on the same held-out rows before (grey) and "
             "after (blue) the mitigation. Accuracy should stay high; differences should shrink and ratios grow "
             "towards 1.</p>"]
    for item in mitigations:
        before, after = _flat(item.get("before")), _flat(item.get("after"))
        names = [k for k, _ in MITIGATION_METRICS]
        parts.append(f"<h3>{_e(item.get('method'))} <span class=muted>({_e(item.get('constraint'))}; "
                     f"{fmt(item.get('train_rows'))} training rows, {fmt(item.get('test_rows'))} test rows)</span>"
                     f"</h3>")
        parts.append(grouped_bars([h for _, h in MITIGATION_METRICS],
                                  [("before", [finite(before.get(k)) for k in names], GREY),
                                   ("after", [finite(after.get(k)) for k in names], BLUE)],
                                  aria=f"mitigation {item.get('method')}", domain=(0.0, 1.0)))
        change = item.get("change") or {}
        keys = [k for k in before if k in after]
        rows = [[_e(k), fmt(before.get(k)), fmt(after.get(k)), _signed(change.get(k))] for k in keys]
        parts.append("<details><summary>Every metric before and after</summary>"
                     + html_table(["metric", "before", "after", "change"], rows) + "</details>")
        parts.append(warnings_html(item.get("warnings") or []))
    return "".join(parts)


def _signed(value: object) -> str:
    x = finite(value)
    return DASH if x is None else ("+" if x >= 0 else "") + fmt(x)


def _flat(evaluation: object) -> dict[str, Any]:
    if not isinstance(evaluation, Mapping):
        return {}
    return {**{k: v for k, v in evaluation.items() if k != "metrics"}, **(evaluation.get("metrics") or {})}


def _bootstrap_note(data: Mapping[str, Any]) -> str:
    boot = data.get("bootstrap") or {}
    if not boot.get("resamples"):
        return ""
    usable = boot.get("usable") or {}
    short = f"; metrics defined in fewer resamples: {_e(', '.join(f'{k} ({v})' for k, v in usable.items()))}" \
        if usable else ""
    return (f"<p class=muted>Bootstrap: {_e(boot.get('resamples'))} resamples, level {_e(boot.get('level'))}, "
            f"seed {_e(boot.get('seed'))}, method {_e(boot.get('method'))}{short}.</p>")


# ---- dataset audit ----


def audit_html(report: AuditReport, title: str = "Bastion dataset audit") -> str:
    """The dataset audit: flags, representation against the reference, positive label rate by group, proxy strength,
    recoverability, and the tables."""
    data = report.to_dict()
    target = data.get("target")
    sampled = (f" Proxy models ran on a seeded sample of {fmt(data.get('model_rows'))} rows."
               if data.get("sampled") else "")
    parts = [f"<p>{fmt(data.get('rows', 0))} rows; sensitive <b>{_e(', '.join(map(str, data.get('sensitive', []))))}"
             f"</b>; target <b>{_e(target) if target is not None else 'none'}</b>.{sampled}</p>"]
    flags = audit_flags(data)
    items = "".join(f"<li>{_e(f)}</li>" for f in flags)
    parts.append(box(f"<p><b class=bad>{len(flags)} flagged</b></p><ul>{items}</ul>" if flags
                     else "<p><b>Nothing flagged.</b></p>"))
    parts.append(warnings_html(data.get("warnings") or []))
    parts += [_representation(rep) for rep in data.get("representation") or []]
    parts.append(_intersections(data.get("intersections") or []))
    parts.append(_label_balance(data.get("label_balance")))
    parts.append(_proxies(data))
    return page(title, "".join(parts))


def _representation(rep: Mapping[str, Any]) -> str:
    groups = list(rep.get("groups") or [])
    if not groups:
        return ""
    chosen = largest([max(finite(g.get("count")) or 0.0, finite(g.get("reference")) or 0.0) for g in groups],
                     MAX_PLOTTED)
    shown = [groups[i] for i in chosen]
    referenced = any(g.get("reference") is not None for g in groups)
    series = [("share in the data", [finite(g.get("share")) for g in shown], BLUE)]
    if referenced:
        series.append(("reference share", [finite(g.get("reference")) for g in shown], GREY))
    alerts = [g.get("flag") in ("under_represented", "absent") for g in shown]
    p = rep.get("chi_square_p")
    words = (f" Chi-square goodness of fit against the reference: p = {fmt(p)}." if p is not None else "") + (
        f" {fmt(rep.get('missing'))} rows have no value." if rep.get("missing") else "")
    labels = [value_text(g.get("value")) for g in shown]
    rows = [[_e(value_text(g.get("value"))), fmt(g.get("count")), _percent(g.get("share")),
             _percent(g.get("reference")), fmt(g.get("ratio")), _flag(g.get("flag"))] for g in groups]
    return (f"<h2>Representation of {_e(rep.get('column'))}</h2>"
            f"<p class=muted>Share of rows per value{' against the reference population' if referenced else ''}; "
            f"flagged values in red.{_e(words)}</p>"
            + grouped_bars(labels, series, aria=f"representation of {rep.get('column')}", alerts=alerts,
                           show=_percent)
            + _capped(len(shown), len(groups), "values")
            + html_table(["value", "count", "share", "reference", "ratio", "flag"], rows))


def _percent(value: object) -> str:
    x = finite(value)
    return DASH if x is None else f"{100 * x:.1f}%"


def _flag(flag: object) -> str:
    return "" if not flag else f"<span class=bad>{_e(str(flag).replace('_', ' '))}</span>"


def _intersections(intersections: Sequence[Mapping[str, Any]]) -> str:
    if not intersections:
        return ""
    chosen = largest([i.get("count") for i in intersections], MAX_PLOTTED)
    shown = [intersections[i] for i in chosen]
    labels = [group_label(i.get("group")) for i in shown]
    short = [short_label(i.get("group"), label_chars(LABEL_PX - 8)) for i in shown]
    rows = [[_e(group_label(i.get("group"))), fmt(i.get("count")), _percent(i.get("share"))] for i in intersections]
    return ("<h2>Intersections</h2>"
            + grouped_bars(labels, [("share of rows", [finite(i.get("share")) for i in shown], BLUE)],
                           aria="intersections", show=_percent, short=short)
            + _capped(len(shown), len(intersections), "groups")
            + "<details><summary>Every intersection</summary>" + html_table(["group", "count", "share"], rows)
            + "</details>")


def _label_balance(balance: object) -> str:
    if not isinstance(balance, Mapping):
        return ""
    overall = finite(balance.get("positive_rate"))
    parts = [f"<h2>Label balance</h2><p>Target <b>{_e(balance.get('target'))}</b>, positive label "
             f"<b>{_e(balance.get('positive'))}</b> in {_percent(overall)} of {fmt(balance.get('rows'))} rows. "
             f"Demographic parity of the labels: difference {fmt(balance.get('demographic_parity_difference'))}, "
             f"ratio {fmt(balance.get('demographic_parity_ratio'))}. A model that fits these labels learns these "
             f"gaps.</p>"]
    for by in balance.get("by") or []:
        groups = list(by.get("groups") or [])
        chosen = largest([g.get("count") for g in groups], MAX_PLOTTED)
        shown = [groups[i] for i in chosen]
        rates = [finite(g.get("positive_rate")) for g in shown]
        top = max([v for g in groups if (v := finite(g.get("positive_rate"))) is not None], default=None)
        references = [(0.8 * top, "4/5 of highest")] if top else []
        references += [(overall, "overall")] if overall is not None else []
        alerts: list[bool] = []
        if top:
            alerts = [r is not None and r < 0.8 * top for r in rates]
        panels = [Panel("positive label rate", rates, (), (0.0, 1.0), references, alerts),
                  Panel("rows", [finite(g.get("count")) for g in shown], colour=GREY)]
        columns = " \u00d7 ".join(map(str, by.get("columns") or []))
        parts.append(f"<h3>By {_e(columns)} <span class=muted>(difference "
                     f"{fmt(by.get('demographic_parity_difference'))}, ratio "
                     f"{fmt(by.get('demographic_parity_ratio'))})</span></h3>"
                     + panel_chart([group_label(g.get("group")) for g in shown], panels,
                                   aria=f"label balance by {columns}",
                                   short=[short_label(g.get("group"), label_chars(LABEL_PX - 8)) for g in shown])
                     + _capped(len(shown), len(groups), "groups"))
    return "".join(parts)


def _proxies(data: Mapping[str, Any]) -> str:
    proxies = list(data.get("proxies") or [])
    parts = ["<h2>Proxy features</h2>"]
    if proxies:
        shown = proxies[:MAX_PLOTTED]
        labels = [f"{p.get('column')} \u2192 {p.get('sensitive')}" for p in shown]
        alerts = [bool(p.get("flag")) for p in shown]
        panels = [Panel("Cram\u00e9r's V", [finite(p.get("cramers_v")) for p in shown], (), (0.0, 1.0), (), alerts),
                  Panel("lift over chance", [finite(p.get("lift")) for p in shown], (), (0.0, 1.0), (), alerts),
                  Panel("normalised MI", [finite(p.get("mutual_information")) for p in shown], (), (0.0, 1.0), (),
                        alerts, GREY)]
        parts.append("<p class=muted>How strongly each column stands in for a sensitive column, strongest first; "
                     "flagged proxies in red.</p>" + panel_chart(labels, panels, aria="proxy strength"))
        if len(proxies) > len(shown):
            parts.append(f"<p class=muted>The {len(shown)} strongest of {len(proxies):,} pairs are plotted; the "
                         f"table lists them all.</p>")
        rows = [[_e(p.get("column")), _e(p.get("sensitive")), _e(p.get("kind")), fmt(p.get("cramers_v")),
                 fmt(p.get("mutual_information")), fmt(p.get("score")), _e(p.get("metric") or DASH),
                 fmt(p.get("chance")), fmt(p.get("lift")), _flag(p.get("flag"))] for p in proxies]
        parts.append(html_table(["column", "sensitive", "kind", "Cramér's V", "norm. MI", "score", "metric", "chance",
                                 "lift", "flag"], rows))
    else:
        parts.append("<p class=muted>No columns were compared.</p>")
    recover = data.get("recoverability") or {}
    if recover:
        rows = [[_e(name), fmt(r.get("score")), _e(r.get("metric")), fmt(r.get("chance")), fmt(r.get("lift")),
                 fmt(r.get("rows")), fmt(r.get("folds")), _e(", ".join(map(str, r.get("columns") or []))),
                 _flag(r.get("flag"))] for name, r in recover.items()]
        parts.append("<h3>Recoverable from all other columns together</h3><p class=muted>Dropping a sensitive column "
                     "does not blind a model that can recover it from the rest.</p>"
                     + html_table(["sensitive", "score", "metric", "chance", "lift", "rows", "folds", "columns",
                                   "flag"], rows))
    skipped = data.get("skipped") or []
    if skipped:
        parts.append("<p class=muted>Skipped: " + "; ".join(
            f"{_e(s.get('column'))} ({_e(s.get('reason'))})" for s in skipped) + ".</p>")
    return "".join(parts)
