"""Plain-text tables for ``bastion test fairness`` and ``bastion data audit`` (JSON is ``to_dict``; HTML lives in
``bastion.model.fairness.html``).

Both tables are read from the reports' ``to_dict()`` output, the stable JSON contract, so optional parts that are
absent (no scores, no target, no mitigations) are simply left out. Each table leads with the verdict (the
four-fifths rule, the largest disparities, flags and warnings), then the groups, then every metric, then the
mitigations before and after. Lines stay within 120 columns; long group labels are cut with an ellipsis.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bastion.model.fairness.audit import AuditReport
    from bastion.model.fairness.report import FairnessReport
    from bastion.model.fairness.run import FairnessRun

WIDTH = 120
"""Widest line a table aims for."""
LABEL_WIDTH = 30
"""Characters of a group label shown in a table column."""
MAX_WARNINGS = 20
"""Warnings listed before the rest are counted (JSON has them all)."""
HEADLINE = ("demographic_parity_difference", "equalized_odds_difference", "equal_opportunity_difference",
            "false_positive_rate_difference", "false_negative_rate_difference", "precision_score_difference",
            "accuracy_score_difference", "expected_calibration_error_difference")
"""Classification disparities (all in [0, 1]) that the verdict ranks to name the largest."""
REGRESSION_HEADLINE = ("mean_absolute_error_difference", "root_mean_squared_error_group_max", "mean_error_difference",
                       "mean_prediction_difference", "r2_score_group_min")
"""Regression disparities the verdict lists."""
CLASSIFICATION_COLUMNS = (("selection_rate", "select"), ("tpr", "tpr"), ("fpr", "fpr"), ("fnr", "fnr"),
                          ("precision", "prec."), ("accuracy", "acc."), ("base_rate", "base"))
"""Per-group values of a classification report, with their column headers."""
REGRESSION_COLUMNS = (("mean_prediction", "mean pred."), ("mean_error", "mean error"),
                      ("mean_absolute_error", "MAE"), ("root_mean_squared_error", "RMSE"), ("r2", "R2"))
"""Per-group values of a regression report, with their column headers."""
MITIGATION_METRICS = (("accuracy", "accuracy"), ("balanced_accuracy", "bal. acc."),
                      ("demographic_parity_difference", "DP diff."), ("demographic_parity_ratio", "DP ratio"),
                      ("equalized_odds_difference", "EO diff."), ("equal_opportunity_difference", "EOpp diff."))
"""Before/after numbers shown per mitigation (accuracy and the key disparities)."""
VERSUS_METRICS = (("statistical_parity_difference", "stat. parity"), ("disparate_impact", "disp. impact"),
                  ("equal_opportunity_difference", "equal opp."), ("average_odds_difference", "avg odds"),
                  ("false_discovery_rate_difference", "FDR"), ("error_rate_difference", "error rate"))
"""AIF360 comparisons shown against the privileged group."""


# ---- shared formatting (also used by the HTML renderers and the explanation table) ----


def finite(value: object) -> float | None:
    """``value`` as a float when it is a finite number, else ``None`` (booleans are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def number(value: object, digits: int = 3, empty: str = "-") -> str:
    """A number for display: fixed ``digits`` decimals in the usual range, scientific when tiny or huge, integers
    with thousands separators, ``empty`` for ``None`` and NaN."""
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    x = finite(value)
    if x is None:
        return empty
    if x == 0 or 1e-3 <= abs(x) < 1e5:
        return f"{x:.{digits}f}"
    return f"{x:.{digits}g}"


def signed(value: object, digits: int = 3, empty: str = "-") -> str:
    """``number`` with an explicit sign (``+0.120``, ``-0.031``)."""
    x = finite(value)
    return empty if x is None else ("+" if x >= 0 else "") + number(x, digits)


def interval(pair: object, digits: int = 3) -> str:
    """``[low, high]``, or ``""`` when the interval is absent or undefined."""
    if not isinstance(pair, Sequence) or isinstance(pair, str) or len(pair) != 2:
        return ""
    low, high = finite(pair[0]), finite(pair[1])
    if low is None or high is None:
        return ""
    return f"[{number(low, digits)}, {number(high, digits)}]"


def value_text(value: object) -> str:
    """A sensitive value as text: ``(missing)`` for ``None``."""
    return "(missing)" if value is None else str(value)


def group_label(group: object) -> str:
    """``{"sex": "Female", "race": "Black"}`` as ``sex=Female, race=Black``; ``(all rows)`` for no group."""
    if not isinstance(group, Mapping) or not group:
        return "(all rows)"
    return ", ".join(f"{column}={value_text(value)}" for column, value in group.items())


def short_label(group: object, width: int = LABEL_WIDTH) -> str:
    """``group_label`` within ``width`` characters: the longest values are cut first, so every column stays named
    and groups that differ in a later column stay apart."""
    if not isinstance(group, Mapping) or not group:
        return clip(group_label(group), width)
    values = {column: value_text(value) for column, value in group.items()}

    def text() -> str:
        return ", ".join(f"{column}={value}" for column, value in values.items())

    while len(text()) > width:
        column = max(values, key=lambda c: len(values[c]))
        if len(values[column]) <= 4:
            break
        values[column] = values[column][:len(values[column]) - 2] + "\u2026"
    return clip(text(), width)


def clip(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters, ending in an ellipsis when cut."""
    return text if len(text) <= width else text[:max(width - 1, 0)] + "\u2026"


def text_table(head: Sequence[str], rows: Iterable[Sequence[str]], indent: str = "",
               left: Collection[int] = (0,)) -> list[str]:
    """Fixed-width lines: the header, a rule, then the rows; the columns in ``left`` (text) are left-aligned, the
    others (numbers) right-aligned."""
    body = [list(row) for row in rows]
    widths = [max([len(h)] + [len(row[i]) for row in body if i < len(row)]) for i, h in enumerate(head)]

    def line(cells: Sequence[str]) -> str:
        parts = [c.ljust(w) if i in left else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=False))]
        return (indent + "  ".join(parts)).rstrip()

    header = line(head)
    return [header, indent + "-" * (len(header) - len(indent)), *(line(row) for row in body)]


def wrap(text: str, width: int = WIDTH) -> list[str]:
    """``text`` as lines of at most ``width`` characters, continuation lines indented."""
    return textwrap.wrap(text, width=width, subsequent_indent="    ", break_long_words=True) or [""]


def warning_lines(warnings: Sequence[object], limit: int = MAX_WARNINGS, prefix: str = "") -> list[str]:
    """``warning: ...`` lines (wrapped), at most ``limit`` warnings, then how many more there are."""
    lines = [line for w in warnings[:limit] for line in wrap(f"warning: {prefix}{w}")]
    if len(warnings) > limit:
        lines.append(f"... {len(warnings) - limit} more warnings (see --format json)")
    return lines


def largest(sizes: Sequence[object], limit: int) -> list[int]:
    """Positions of the ``limit`` largest sizes, in their original order."""
    order = sorted(range(len(sizes)), key=lambda i: -(finite(sizes[i]) or 0.0))
    return sorted(order[:limit])


# ---- fairness ----


def fairness_table(run: FairnessRun | FairnessReport, limit: int = 60) -> str:
    """The fairness report as text: verdict, per-group table (the ``limit`` largest groups), every metric with its
    interval, comparisons against the privileged group, and the mitigations before and after."""
    data = run.to_dict()
    lines = [*_fairness_header(data), *_fairness_verdict(data), "", *_group_lines(data, limit), "",
             *_metric_lines(data)]
    lines += _versus_lines(data.get("versus_privileged"))
    lines += _mitigation_lines(data.get("mitigations") or [])
    return "\n".join(lines) + "\n"


def _fairness_header(data: Mapping[str, Any]) -> list[str]:
    model = data.get("model")
    source = data.get("predictions")
    what = f"model {model}" if model else f"predictions from {source}" if source else "predictions"
    task = data.get("task", "classification")
    positive = "" if task != "classification" else f", positive label {data.get('positive')!r}"
    return [f"{what}: {number(data.get('rows', 0))} rows, {task}{positive}, sensitive "
            f"{', '.join(str(s) for s in data.get('sensitive', []))}, {len(data.get('groups', []))} groups"]


def _fairness_verdict(data: Mapping[str, Any]) -> list[str]:
    metrics, intervals = data.get("metrics") or {}, data.get("intervals") or {}
    lines = []
    four = data.get("four_fifths_rule")
    if isinstance(four, Mapping):
        passed = four.get("passed")
        verdict = "passed" if passed is True else "FAILED" if passed is False else "undefined (nobody selected)"
        ratio = " ".join(filter(None, [number(four.get("ratio")), interval(intervals.get("demographic_parity_ratio"))]))
        lines.append(f"four-fifths rule: {verdict}: demographic_parity_ratio {ratio} "
                     f"(threshold {four.get('threshold', 0.8)})")
    extremes = _extremes(data)
    if extremes:
        lines.append(extremes)
    names = HEADLINE if data.get("task", "classification") == "classification" else REGRESSION_HEADLINE
    shown = [n for n in names if finite(metrics.get(n)) is not None]
    if data.get("task", "classification") == "classification":
        shown = sorted(shown, key=lambda n: -(finite(metrics[n]) or 0.0))[:3]
        lines.append("largest disparities:")
    else:
        lines.append("disparities:")
    lines += [f"  {n:<40} {number(metrics[n]):>8} {interval(intervals.get(n))}".rstrip() for n in shown]
    return lines + warning_lines(data.get("warnings") or [])


def _extremes(data: Mapping[str, Any]) -> str:
    """The groups at either end of the selection rate (classification) or mean absolute error (regression)."""
    key, what = (("selection_rate", "selection rate") if data.get("task", "classification") == "classification"
                 else ("mean_absolute_error", "mean absolute error"))
    rated = [(finite(g.get(key)), group_label(g.get("group"))) for g in data.get("groups", [])]
    known = [(v, label) for v, label in rated if v is not None]
    if len(known) < 2:
        return ""
    low, high = min(known, key=lambda p: p[0]), max(known, key=lambda p: p[0])
    return f"{what}: lowest {number(low[0])} ({clip(low[1], 40)}), highest {number(high[0])} ({clip(high[1], 40)})"


def _group_lines(data: Mapping[str, Any], limit: int) -> list[str]:
    groups = list(data.get("groups") or [])
    columns = CLASSIFICATION_COLUMNS if data.get("task", "classification") == "classification" else REGRESSION_COLUMNS
    key = columns[0][0] if columns is CLASSIFICATION_COLUMNS else "mean_absolute_error"
    calibrated = any(isinstance(g.get("calibration"), Mapping) for g in groups)
    head = ["group", "size", *(h for _, h in columns)]
    head.insert(3 if key == "selection_rate" else 5, "interval")
    if calibrated:
        head += ["ECE", "Brier"]
    chosen = largest([g.get("size") for g in groups], limit)
    rows = []
    for i in chosen:
        g = groups[i]
        cells = [short_label(g.get("group")), number(g.get("size"))]
        cells += [number(g.get(name)) for name, _ in columns]
        cells.insert(3 if key == "selection_rate" else 5, interval((g.get("intervals") or {}).get(key)))
        if calibrated:
            cal = g.get("calibration") or {}
            cells += [number(cal.get("ece")), number(cal.get("brier"))]
        rows.append(cells)
    lines = [_interval_caption(data, f"groups ({len(groups)})")]
    lines += text_table(head, rows)
    if len(groups) > len(chosen):
        lines.append(f"... the {len(chosen)} largest of {len(groups)} groups shown (see --format json)")
    return lines


def _interval_caption(data: Mapping[str, Any], what: str) -> str:
    boot = data.get("bootstrap") or {}
    resamples = boot.get("resamples") or 0
    if not resamples:
        return f"{what}; no bootstrap intervals"
    level = finite(boot.get("level")) or 0.95
    return f"{what}; {level:.0%} bootstrap intervals from {resamples} resamples"


def _metric_lines(data: Mapping[str, Any]) -> list[str]:
    metrics, intervals = data.get("metrics") or {}, data.get("intervals") or {}
    if not metrics:
        return ["metrics: none"]
    names = max(len(n) for n in metrics)
    values = [number(v) for v in metrics.values()]
    spans = [interval(intervals.get(n)) for n in metrics]
    digits, span = max(len(v) for v in values), max(len(i) for i in spans)
    cells = [f"{n:<{names}} {v:>{digits}} {i:<{span}}" for n, v, i in zip(metrics, values, spans, strict=True)]
    per_line = 2 if 2 * len(cells[0]) + 3 <= WIDTH else 1  # two columns when they fit
    lines = ["metrics (Fairlearn's names)"]
    lines += [("   ".join(cells[i:i + per_line])).rstrip() for i in range(0, len(cells), per_line)]
    return lines


def _versus_lines(versus: object) -> list[str]:
    if not isinstance(versus, Mapping):
        return []
    aggregate = versus.get("aggregate") or {}
    intervals = versus.get("intervals") or {}
    lines = ["", f"against the privileged group {group_label(versus.get('privileged'))} "
             f"({number(versus.get('privileged_rows'))} rows), AIF360's signed metrics"]
    rows = [[f"{'all other rows':<{LABEL_WIDTH}}", number(aggregate.get("size")),
             *(number(aggregate.get(k)) for k, _ in VERSUS_METRICS)]]
    rows += [[short_label(g.get("group")), number(g.get("size")),
              *(number(g.get(k)) for k, _ in VERSUS_METRICS)] for g in versus.get("groups") or []]
    lines += text_table(["compared", "size", *(h for _, h in VERSUS_METRICS)], rows)
    lines.append("differences are unprivileged minus privileged; disparate impact is their ratio of selection rates")
    shown = [f"{h} {interval(intervals.get(k))}" for k, h in VERSUS_METRICS if interval(intervals.get(k))]
    if shown:
        lines += wrap("intervals (all other rows): " + "; ".join(shown))
    return lines


def _mitigation_lines(mitigations: Sequence[Mapping[str, Any]]) -> list[str]:
    if not mitigations:
        return []
    sizes = {item.get("test_rows") for item in mitigations}
    same = len(sizes) == 1
    where = f"the same {number(next(iter(sizes)))} held-out rows" if same else "held-out rows"
    lines = ["", f"mitigations (before -> after, on {where})"]
    rows = []
    for item in mitigations:
        before, after = _flat(item.get("before")), _flat(item.get("after"))
        rows.append([f"{item.get('method')} ({item.get('constraint')})",
                     *([] if same else [number(item.get("test_rows"))]),
                     *(f"{number(before.get(k))}->{number(after.get(k))}" for k, _ in MITIGATION_METRICS)])
    head = ["method (constraint)", *([] if same else ["test rows"]), *(h for _, h in MITIGATION_METRICS)]
    lines += text_table(head, rows)
    for item in mitigations:
        method = str(item.get("method"))
        for w in item.get("warnings") or []:
            text = str(w)
            lines += wrap(f"warning: {text if text.startswith(method) else f'{method}: {text}'}")
    return lines


def _flat(evaluation: object) -> dict[str, Any]:
    """An evaluation's accuracy, balanced accuracy, selection rate and fairness metrics in one mapping."""
    if not isinstance(evaluation, Mapping):
        return {}
    return {**{k: v for k, v in evaluation.items() if k != "metrics"}, **(evaluation.get("metrics") or {})}


# ---- dataset audit ----


def audit_table(report: AuditReport, limit: int = 60) -> str:
    """The dataset audit as text: flags and warnings, representation per column (against the reference), the
    intersections, label balance by group, proxies (``limit`` lines each) and recoverability."""
    data = report.to_dict()
    lines = [*_audit_header(data), *_audit_verdict(data)]
    for rep in data.get("representation") or []:
        lines += ["", *_representation_lines(rep)]
    lines += _intersection_lines(data.get("intersections") or [], limit)
    lines += _label_lines(data.get("label_balance"), limit)
    lines += _proxy_lines(data, limit)
    return "\n".join(lines) + "\n"


def _audit_header(data: Mapping[str, Any]) -> list[str]:
    target = data.get("target")
    sampled = (f"; proxy models on a sample of {number(data.get('model_rows'))} rows" if data.get("sampled") else "")
    return [f"dataset: {number(data.get('rows', 0))} rows, sensitive {', '.join(map(str, data.get('sensitive', [])))}"
            f", target {target if target is not None else '(none)'}{sampled}"]


def audit_flags(data: Mapping[str, Any]) -> list[str]:
    """What the audit flagged, one phrase each (also the HTML verdict)."""
    flags = []
    for rep in data.get("representation") or []:
        for g in rep.get("groups") or []:
            if g.get("flag") in ("under_represented", "absent"):
                flags.append(f"{rep.get('column')}={value_text(g.get('value'))} is {g['flag'].replace('_', '-')} "
                             f"(share {number(g.get('share'))}, reference {number(g.get('reference'))})")
    proxies = [p for p in data.get("proxies") or [] if p.get("flag")]
    flags += [f"{p.get('column')} is a proxy for {p.get('sensitive')} (Cramer's V {number(p.get('cramers_v'))}, "
              f"lift {number(p.get('lift'))})" for p in proxies]
    for name, rec in (data.get("recoverability") or {}).items():
        if rec.get("flag"):
            flags.append(f"{name} is recoverable from the other columns ({rec.get('metric')} {number(rec.get('score'))}"
                         f", chance {number(rec.get('chance'))})")
    return flags


def _audit_verdict(data: Mapping[str, Any]) -> list[str]:
    flags = audit_flags(data)
    lines = [f"flagged: {len(flags)}" if flags else "flagged: nothing"]
    lines += [line for f in flags[:MAX_WARNINGS] for line in wrap(f"  {f}")]
    if len(flags) > MAX_WARNINGS:
        lines.append(f"  ... {len(flags) - MAX_WARNINGS} more")
    balance = data.get("label_balance")
    if isinstance(balance, Mapping):
        ratio = finite(balance.get("demographic_parity_ratio"))
        rule = "" if ratio is None else " (below four-fifths)" if ratio < 0.8 else " (four-fifths met)"
        lines += wrap(f"labels: positive {balance.get('positive')!r} in {number(balance.get('positive_rate'))} of "
                      f"rows; demographic parity of the labels: difference "
                      f"{number(balance.get('demographic_parity_difference'))}, ratio {number(ratio)}{rule}")
    return lines + warning_lines(data.get("warnings") or [])


def _representation_lines(rep: Mapping[str, Any]) -> list[str]:
    groups = rep.get("groups") or []
    referenced = any(g.get("reference") is not None for g in groups)
    p = rep.get("chi_square_p")
    extra = (f"; chi-square p {number(p)}" if p is not None else "") + (
        f"; {number(rep.get('missing'))} rows missing" if rep.get("missing") else "")
    head = ["value", "count", "share", *(["reference", "ratio"] if referenced else []), "flag"]
    rows = [[clip(value_text(g.get("value")), LABEL_WIDTH), number(g.get("count")), number(g.get("share")),
             *([number(g.get("reference")), number(g.get("ratio"))] if referenced else []), g.get("flag") or ""]
            for g in groups]
    return [f"representation of {rep.get('column')}{extra}", *text_table(head, rows, left=(0, len(head) - 1))]


def _intersection_lines(intersections: Sequence[Mapping[str, Any]], limit: int) -> list[str]:
    if not intersections:
        return []
    chosen = largest([i.get("count") for i in intersections], limit)
    rows = [[short_label(intersections[i].get("group")), number(intersections[i].get("count")),
             number(intersections[i].get("share"))] for i in chosen]
    lines = ["", f"intersections ({len(intersections)})", *text_table(["group", "count", "share"], rows)]
    if len(intersections) > len(chosen):
        lines.append(f"... the {len(chosen)} largest of {len(intersections)} shown")
    return lines


def _label_lines(balance: object, limit: int) -> list[str]:
    if not isinstance(balance, Mapping):
        return []
    lines = []
    for by in balance.get("by") or []:
        groups = by.get("groups") or []
        chosen = largest([g.get("count") for g in groups], limit)
        rows = [[short_label(groups[i].get("group")), number(groups[i].get("count")),
                 number(groups[i].get("positives")), number(groups[i].get("positive_rate"))] for i in chosen]
        lines += ["", *wrap(f"label balance by {' x '.join(map(str, by.get('columns', [])))} (target "
                            f"{balance.get('target')}, positive {balance.get('positive')!r}): difference "
                            f"{number(by.get('demographic_parity_difference'))}, "
                            f"ratio {number(by.get('demographic_parity_ratio'))}")]
        lines += text_table(["group", "rows", "positives", "positive rate"], rows)
        if len(groups) > len(chosen):
            lines.append(f"... the {len(chosen)} largest of {len(groups)} groups shown")
    return lines


def _proxy_lines(data: Mapping[str, Any], limit: int) -> list[str]:
    proxies = data.get("proxies") or []
    lines = ["", f"proxies ({len(proxies)} column/attribute pairs, strongest first)"]
    if proxies:
        rows = [[clip(str(p.get("column")), 24), clip(str(p.get("sensitive")), 16), str(p.get("kind", "")),
                 number(p.get("cramers_v")), number(p.get("mutual_information")), number(p.get("lift")),
                 number(p.get("score")), number(p.get("chance")), str(p.get("metric") or ""), p.get("flag") or ""]
                for p in proxies[:limit]]
        lines += text_table(["column", "sensitive", "kind", "Cramer's V", "norm. MI", "lift", "score", "chance",
                             "metric", "flag"], rows, left=(0, 1, 2, 8, 9))
        if len(proxies) > limit:
            lines.append(f"... {len(proxies) - limit} more (see --format json)")
    recover = data.get("recoverability") or {}
    if recover:
        rows = [[clip(str(name), 24), number(r.get("lift")), number(r.get("score")), number(r.get("chance")),
                 str(r.get("metric") or ""), number(r.get("rows")), number(len(r.get("columns") or [])),
                 r.get("flag") or ""] for name, r in recover.items()]
        lines += ["", "recoverability from all other columns together",
                  *text_table(["sensitive", "lift", "score", "chance", "metric", "rows", "columns", "flag"], rows,
                              left=(0, 4, 7))]
    skipped = data.get("skipped") or []
    if skipped:
        lines += ["", "skipped: " + "; ".join(f"{s.get('column')} ({s.get('reason')})" for s in skipped[:limit])]
    return lines
