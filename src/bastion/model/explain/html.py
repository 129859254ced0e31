"""Self-contained HTML for ``bastion explain``: inline CSS and SVG, no script, nothing fetched.

Read from ``ExplanationReport.to_dict()``. The page opens with a box of checks (SHAP additivity, ranking stability
across seeds), then global importance bars (permutation importance with a one-standard-deviation whisker beside mean
``|SHAP|``), then one waterfall per local explanation: from the base value, each kept feature's contribution (red
raises the output, blue lowers it), the rest folded into one bar, ending at the explained output.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from bastion.model.explain.render import (
    additivity_words,
    contribution_label,
    importance_rows,
    method_words,
    stability_words,
)
from bastion.model.fairness.html import (
    BLUE,
    DASH,
    GREY,
    LABEL_PX,
    RED,
    Panel,
    box,
    fmt,
    html_table,
    panel_chart,
    row_label,
    ticks,
    warnings_html,
)
from bastion.model.fairness.render import finite, signed
from bastion.model.html import page
from bastion.reports.html_text import escape_text as _e

if TYPE_CHECKING:
    from bastion.model.explain.report import ExplanationReport

MAX_FEATURES = 30
"""Features drawn in the global importance chart (the most important)."""
MAX_WATERFALLS = 20
"""Local explanations drawn as waterfalls; the table lists them all."""


def explain_html(report: ExplanationReport, title: str = "Bastion explanation report") -> str:
    """The explanation report: checks, global importance bars, one waterfall per local explanation, and tables."""
    data = report.to_dict()
    parts = [f"<p>Model <b>{_e(data.get('model'))}</b>, explained with {_e(method_words(data))}: "
             f"<b>{_e(data.get('output'))}</b>. {len(data.get('rows') or [])} rows explained locally in "
             f"{fmt(data.get('seconds'), 2)} s.</p>"]
    parts.append(box(_checks(data)))
    parts.append(warnings_html(data.get("warnings") or []))
    parts += [f"<p class=muted>{_e(note)}</p>" for note in data.get("notes") or []]
    parts.append(_global(data))
    parts.append(_local(data.get("local") or []))
    return page(title, "".join(parts))


def _checks(data: Mapping[str, Any]) -> str:
    checks = data.get("checks") or {}
    stability = checks.get("ranking_stability") or {}
    ok = bool(checks.get("additivity_ok"))
    items = [f"<li>{_mark(ok)} {_e(additivity_words(checks))}</li>"]
    imp = stability.get("importance")
    items.append(f"<li>{_mark(_stable(imp))} {_e(stability_words(imp, 'Permutation importance'))}"
                 + ("" if imp is not None else f" <span class=muted>({_e(_why_no_importance(data))})</span>")
                 + "</li>")
    shap = stability.get("shap")
    if data.get("method") == "tree" and shap is None:
        items.append(f"<li>{_mark(True)} SHAP ranking: exact (tree SHAP), the same under any seed</li>")
    else:
        items.append(f"<li>{_mark(_stable(shap))} {_e(stability_words(shap, 'SHAP'))}</li>")
    return f"<p><b>Checks</b></p><ul style='list-style:none;padding-left:.5em'>{''.join(items)}</ul>"


def _why_no_importance(data: Mapping[str, Any]) -> str:
    if data.get("importance_skipped"):
        return str(data["importance_skipped"])
    return "permutation importance was not computed" if not data.get("importance") else "a single seed"


def _stable(stability: object) -> bool | None:
    return None if not isinstance(stability, Mapping) else bool(stability.get("stable"))


def _mark(ok: bool | None) -> str:
    if ok is None:
        return f"<span class=muted>{DASH}</span>"
    return "<b style='color:#2a7a2a'>\u2713</b>" if ok else "<b class=bad>\u2717</b>"


def _global(data: Mapping[str, Any]) -> str:
    rows = importance_rows(data)
    if not rows:
        return "<h2>Global importance</h2><p class=muted>No global importance was computed.</p>"
    shown = rows[:MAX_FEATURES]
    labels = [name for name, _, _, _ in shown]
    panels = []
    if any(mean is not None for _, mean, _, _ in shown):
        whiskers = [None if mean is None or std is None else (mean - std, mean + std) for _, mean, std, _ in shown]
        panels.append(Panel(f"permutation importance ({data.get('importance_scoring') or 'score'} drop)",
                            [mean for _, mean, _, _ in shown], whiskers))
    if any(shap is not None for _, _, _, shap in shown):
        panels.append(Panel(f"mean |SHAP| of {data.get('output')}", [shap for _, _, _, shap in shown],
                            colour="#ff7f0e"))
    notes = []
    if data.get("importance_skipped"):
        notes.append(f"Permutation importance skipped: {data['importance_skipped']}.")
    elif panels and len(panels) > 1:
        notes.append("Whiskers: one standard deviation over shuffles and seeds.")
    asked = data.get("shap_rows_asked")
    notes.append(f"Mean |SHAP| over {fmt(data.get('shap_rows'))} rows"
                 + (f" of {fmt(asked)} asked (time budget)." if asked is not None and asked != data.get("shap_rows")
                    else "."))
    if len(rows) > len(shown):
        notes.append(f"The {len(shown)} most important of {len(rows):,} features are drawn; the table lists them all.")
    table = html_table(["feature", "permutation importance", "std", "mean |SHAP|"],
                       [[_e(name), fmt(mean), fmt(std), fmt(shap)] for name, mean, std, shap in rows])
    return ("<h2>Global importance</h2>" + f"<p class=muted>{_e(' '.join(notes))}</p>"
            + (panel_chart(labels, panels, aria="global importance", panel_width=240) if panels else "")
            + "<details><summary>Every feature</summary>" + table + "</details>")


def _local(records: Sequence[Mapping[str, Any]]) -> str:
    if not records:
        return "<h2>Local explanations</h2><p class=muted>No rows were explained locally.</p>"
    parts = ["<h2>Local explanations</h2><p class=muted>Each bar moves the output from the base value (dashed) to "
             "the row's output (solid): red raises it, blue lowers it.</p>"]
    for record in records[:MAX_WATERFALLS]:
        parts.append(f"<h3>Row {_e(record.get('row'))} <span class=muted>prediction {_e(record.get('prediction'))};"
                     f" {_e(record.get('output'))} = {fmt(record.get('value'))}, base value "
                     f"{fmt(record.get('base_value'))}</span></h3>" + waterfall(record))
    if len(records) > MAX_WATERFALLS:
        parts.append(f"<p class=muted>The first {MAX_WATERFALLS} of {len(records):,} explanations are drawn; the "
                     f"table lists them all.</p>")
    rows = [[_e(r.get("row")), _e(r.get("prediction")), _e(r.get("output")), fmt(r.get("value")),
             fmt(r.get("base_value")), _e(", ".join(f"{c.get('feature')} {signed(c.get('contribution'))}"
                                                    for c in (r.get("contributions") or [])[:3])),
             signed(r.get("rest"), empty=DASH)] for r in records]
    parts.append("<details><summary>Every local explanation</summary>"
                 + html_table(["row", "prediction", "output", "value", "base value", "largest contributions", "rest"],
                              rows) + "</details>")
    return "".join(parts)


def waterfall(record: Mapping[str, Any], plot_width: int = 360, row: int = 20) -> str:
    """One local explanation: a bar per kept contribution (and one for the rest) from the base value to the output."""
    steps = [(contribution_label(c), finite(c.get("contribution")) or 0.0) for c in record.get("contributions") or []]
    rest = finite(record.get("rest"))
    if rest is not None and rest != 0.0:
        steps.append(("(all other features)", rest))
    base = finite(record.get("base_value")) or 0.0
    value = finite(record.get("value"))
    totals = [base]
    for _, amount in steps:
        totals.append(totals[-1] + amount)
    low, high = min(totals + [value if value is not None else base]), max(totals + [value if value is not None
                                                                                    else base])
    pad = (high - low) * 0.05 or 0.05
    low, high = low - pad, high + pad
    left, top, bottom = LABEL_PX, 8, 24
    width, height = left + plot_width + 80, top + row * max(len(steps), 1) + bottom

    def x(v: float) -> float:
        return left + plot_width * (v - low) / (high - low)

    out = [f'<svg width="{width}" height="{height}" role="img" aria-label="local explanation of row '
           f'{_e(record.get("row"))}">']
    for tick in ticks(low, high):
        out.append(f'<line x1="{x(tick):.1f}" x2="{x(tick):.1f}" y1="{top}" y2="{height - bottom}" stroke="#e4e7ec"/>'
                   f'<text x="{x(tick):.1f}" y="{height - bottom + 14}" text-anchor="middle" '
                   f'style="font-size:10px">{tick:g}</text>')
    for i, (label, amount) in enumerate(steps):
        y, start, end = top + i * row, totals[i], totals[i + 1]
        colour = RED if amount > 0 else BLUE if amount < 0 else GREY
        tip = f"<title>{_e(label)}: {signed(amount, 4)} (from {fmt(start, 4)} to {fmt(end, 4)})</title>"
        if i % 2 == 0:
            out.append(f'<rect x="0" y="{y}" width="{width}" height="{row}" fill="#f6f7f9"/>')
        out.append(row_label(label, left - 8, y + row / 2 + 4))
        out.append(f'<rect x="{min(x(start), x(end)):.1f}" y="{y + 3}" width="{max(abs(x(end) - x(start)), 1.0):.1f}"'
                   f' height="{row - 6}" fill="{colour}">{tip}</rect>'
                   f'<text x="{max(x(start), x(end)) + 4:.1f}" y="{y + row / 2 + 4}" style="font-size:10px">'
                   f'{signed(amount)}</text>')
        if i + 1 < len(steps):  # connector to the next step
            out.append(f'<line x1="{x(end):.1f}" x2="{x(end):.1f}" y1="{y + row - 3}" y2="{y + row + 3}" '
                       f'stroke="#555"/>')
    out.append(f'<line x1="{x(base):.1f}" x2="{x(base):.1f}" y1="{top}" y2="{height - bottom}" stroke="#555" '
               f'stroke-dasharray="4 3"><title>base value {fmt(base, 4)}</title></line>')
    if value is not None:
        out.append(f'<line x1="{x(value):.1f}" x2="{x(value):.1f}" y1="{top}" y2="{height - bottom}" stroke="#222" '
                   f'stroke-width="1.5"><title>{_e(record.get("output"))} = {fmt(value, 4)}</title></line>')
    out.append("</svg>")
    return "".join(out)
