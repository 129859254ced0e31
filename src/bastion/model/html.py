"""Self-contained HTML for model test reports: inline CSS and SVG, no script, nothing fetched."""

from __future__ import annotations

from collections.abc import Sequence

from bastion.model.poisoning.audit import PoisoningReport
from bastion.model.robustness import AttackResult, RobustnessReport
from bastion.reports.html_text import escape_text as _e

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:70em;color:#1d232a;padding:0 1em}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:2em}
table{border-collapse:collapse;margin:.5em 0}td,th{padding:.25em .7em;border-bottom:1px solid #dde;text-align:right}
th{background:#f3f5f8}td:first-child,th:first-child{text-align:left}
.warn{color:#8a5300}.bad{color:#b00020;font-weight:600}.muted{color:#667}
svg text{font:11px system-ui,sans-serif;fill:#333}
"""
_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2")


def _num(value: float | None, digits: int = 4) -> str:
    return "&ndash;" if value is None else f"{value:.{digits}g}"


def page(title: str, body: str) -> str:
    """A complete HTML document."""
    return (f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>{_e(title)}</title>"
            f"<style>{_CSS}</style></head><body><h1>{_e(title)}</h1>{body}</body></html>\n")


def robustness_html(report: RobustnessReport, title: str = "Bastion robustness report") -> str:
    """The report: summary, one accuracy-under-attack curve per norm, and the full table."""
    parts = [f"<p>Model <b>{_e(report.model)}</b>, {report.samples:,} samples, clean accuracy "
             f"<b>{report.clean_accuracy:.3f}</b>.</p>"]
    parts += [f'<p class=warn>{_e(w)}</p>' for w in report.warnings]
    for norm in sorted({row.norm for row in report.attacks}):
        rows = [r for r in report.attacks if r.norm == norm and r.eps is not None]
        if rows:
            parts.append(f"<h2>Accuracy under attack, {_e(_norm_label(norm))}</h2>")
            parts.append(_curve(rows, report.clean_accuracy))
    parts.append("<h2>All results</h2>" + _table(report.attacks))
    parts.append("<p class=muted>Budgets are in input units, in each attack's own norm. Minimum-norm attacks run "
                 "once and are read at every budget; their last line has no budget.</p>")
    return page(title, "".join(parts))


def _norm_label(norm: str) -> str:
    return {"inf": "L\u221e norm", "2": "L2 norm", "0": "L0 (features changed)", "edits": "character edits"}.get(
        norm, norm)


def _table(rows: Sequence[AttackResult]) -> str:
    head = ("<tr><th>attack</th><th>norm</th><th>budget</th><th>accuracy under attack</th><th>success rate</th>"
            "<th>median perturbation</th><th>queries</th><th>seconds</th></tr>")
    body = "".join(
        f"<tr><td>{_e(r.name)}</td><td>{_e(r.norm)}</td><td>{'minimum' if r.eps is None else _num(r.eps)}</td>"
        f"<td>{r.accuracy_under_attack:.3f}</td><td>{r.success_rate:.3f}</td><td>{_num(r.median_perturbation)}</td>"
        f"<td>{r.queries:,}</td><td>{r.seconds:.2f}</td></tr>" for r in rows)
    return f"<table>{head}{body}</table>"


def _curve(rows: Sequence[AttackResult], clean: float, width: int = 560, height: int = 260) -> str:
    """Lines of accuracy (0..1, y) against budget (x, linear from 0), one per attack, with the clean level."""
    left, right, top, bottom = 48, 150, 12, 36
    budgets = sorted({float(r.eps) for r in rows if r.eps is not None})
    x_max = budgets[-1] or 1.0
    plot_w, plot_h = width - left - right, height - top - bottom

    def px(eps: float) -> float:
        return left + plot_w * eps / x_max

    def py(acc: float) -> float:
        return top + plot_h * (1 - acc)

    out = [f'<svg width="{width}" height="{height}" role="img" aria-label="accuracy under attack">']
    for tick in (0, 0.25, 0.5, 0.75, 1):
        out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{py(tick):.1f}" y2="{py(tick):.1f}" stroke="#e4e7ec"/>'
                   f'<text x="{left - 6}" y="{py(tick) + 4:.1f}" text-anchor="end">{tick:g}</text>')
    for eps in budgets:
        out.append(f'<text x="{px(eps):.1f}" y="{height - bottom + 16}" text-anchor="middle">{eps:.3g}</text>')
    out.append(f'<text x="{left + plot_w / 2}" y="{height - 4}" text-anchor="middle">budget</text>')
    out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{py(clean):.1f}" y2="{py(clean):.1f}" '
               f'stroke="#999" stroke-dasharray="4 3"/>')
    for index, name in enumerate(dict.fromkeys(r.name for r in rows)):
        colour = _COLOURS[index % len(_COLOURS)]
        points = [(0.0, clean)] + sorted((float(r.eps), r.accuracy_under_attack) for r in rows
                                         if r.name == name and r.eps is not None)
        path = " ".join(f"{px(e):.1f},{py(a):.1f}" for e, a in points)
        out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{path}"/>')
        out += [f'<circle cx="{px(e):.1f}" cy="{py(a):.1f}" r="3" fill="{colour}"/>' for e, a in points[1:]]
        out.append(f'<rect x="{left + plot_w + 14}" y="{top + 16 * index}" width="10" height="10" fill="{colour}"/>'
                   f'<text x="{left + plot_w + 30}" y="{top + 9 + 16 * index}">{_e(name)}</text>')
    out.append("</svg>")
    return "".join(out)


def poisoning_html(report: PoisoningReport, title: str = "Bastion poisoning report", limit: int = 500) -> str:
    """Label issues and the backdoor analysis: class suspicion bars, then the suspect rows (``limit`` each)."""
    parts = [f"<p>Model <b>{_e(report.model)}</b>, {report.samples:,} rows.</p>"]
    parts += [f"<p class=warn>{_e(w)}</p>" for w in report.warnings]
    backdoor = report.backdoor
    if backdoor is not None:
        verdict = ("no class stands out" if backdoor.suspected_class is None
                   else f"class <span class=bad>{_e(backdoor.suspected_class)}</span> is suspected")
        parts.append(f"<h2>Backdoor</h2><p>{verdict}; layers {_e(', '.join(backdoor.layers))}; "
                     f"{len(backdoor.suspects):,} suspect rows.</p>")
        parts.append(_bars(backdoor.class_scores, backdoor.suspected_class))
        parts.append(_rows_table(("row", "score"), [(r, f"{s:.3f}") for r, s in backdoor.suspects[:limit]]))
    parts.append(f"<h2>Label issues ({len(report.label_issues):,})</h2>")
    parts.append(_rows_table(("row", "given", "suggested", "score"),
                             [(i.row, i.given, i.suggested, f"{i.score:.3f}") for i in report.label_issues[:limit]]))
    return page(title, "".join(parts))


def _rows_table(head: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    if not rows:
        return "<p class=muted>none</p>"
    header = "".join(f"<th>{_e(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{_e(v)}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><tr>{header}</tr>{body}</table>"


def _bars(scores: dict[str, float], suspected: object, width: int = 560) -> str:
    """Horizontal bars of per-class suspicion, the suspected class in red."""
    if not scores:
        return ""
    top = max(max(scores.values()), 1e-12)
    height, label_w = 18, 90
    out = [f'<svg width="{width}" height="{height * len(scores) + 6}" role="img" aria-label="class scores">']
    for index, (label, score) in enumerate(scores.items()):
        y = index * height + 2
        length = (width - label_w - 60) * max(score, 0.0) / top
        colour = "#b00020" if str(label) == str(suspected) else "#1f77b4"
        out.append(f'<text x="{label_w - 6}" y="{y + 12}" text-anchor="end">{_e(label)}</text>'
                   f'<rect x="{label_w}" y="{y}" width="{length:.1f}" height="{height - 5}" fill="{colour}"/>'
                   f'<text x="{label_w + length + 4:.1f}" y="{y + 12}">{score:.2f}</text>')
    out.append("</svg>")
    return "".join(out)
