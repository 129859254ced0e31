"""Plain-text table for ``bastion explain`` (JSON is ``to_dict``; HTML lives in ``bastion.model.explain.html``).

Read from ``ExplanationReport.to_dict()``, the stable JSON contract. It leads with the checks (SHAP additivity,
ranking stability across seeds) and the warnings, then the global importance (permutation importance beside mean
``|SHAP|``), then each local explanation as its contributions, largest first, and the rest.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from bastion.model.fairness.render import clip, finite, number, signed, text_table, warning_lines, wrap

if TYPE_CHECKING:
    from bastion.model.explain.report import ExplanationReport

FEATURE_WIDTH = 32
"""Characters of a feature name (or ``name = value``) shown."""
METHOD_NAMES = {"tree": "tree SHAP", "permutation": "permutation SHAP", "kernel": "kernel SHAP"}
"""How each SHAP method is named in the reports."""


def method_words(data: Mapping[str, Any]) -> str:
    """``tree SHAP (interventional, probability)`` for the report's method, perturbation and output space."""
    detail = ", ".join(str(data[k]) for k in ("perturbation", "space") if data.get(k))
    name = METHOD_NAMES.get(str(data.get("method")), f"{data.get('method')} SHAP")
    return f"{name} ({detail})" if detail else name


def stability_words(stability: object, what: str) -> str:
    """One sentence on a ranking's stability across seeds (or why it was not measured)."""
    if not isinstance(stability, Mapping):
        return f"{what} ranking stability: not measured"
    verdict = "stable" if stability.get("stable") else "UNSTABLE"
    seeds = ", ".join(str(s) for s in stability.get("seeds") or [])
    return (f"{what} ranking {verdict} across seeds {seeds}: min Spearman {number(stability.get('min_spearman'), 2)} "
            f"(needs {number(stability.get('spearman_threshold'), 2)}), min top-{stability.get('top_k')} Jaccard "
            f"{number(stability.get('min_top_jaccard'), 2)} (needs {number(stability.get('jaccard_threshold'), 2)})")


def additivity_words(checks: Mapping[str, Any]) -> str:
    """One sentence on the SHAP additivity check."""
    error, tolerance = checks.get("additivity_max_error"), checks.get("additivity_tolerance")
    verdict = "passed" if checks.get("additivity_ok") else "FAILED"
    return (f"additivity {verdict}: base value + SHAP values reproduce the output within "
            f"{number(error, 3)} (tolerance {number(tolerance, 3)})")


def importance_rows(data: Mapping[str, Any]) -> list[tuple[str, float | None, float | None, float | None]]:
    """(feature, permutation mean, its std, mean |SHAP|) per feature: by mean |SHAP| when it was computed, else by
    permutation importance; features only one of the two measured come after."""
    perm = {str(f.get("feature")): f for f in data.get("importance") or []}
    shap = {str(f.get("feature")): finite(f.get("mean_abs")) for f in data.get("shap") or []}
    order = list(dict.fromkeys([*shap, *perm]))
    return [(name, finite(perm.get(name, {}).get("mean")), finite(perm.get(name, {}).get("std")), shap.get(name))
            for name in order]


def contribution_label(item: Mapping[str, Any]) -> str:
    """``feature = value`` (``feature = (missing)`` when the row had none)."""
    value = item.get("value")
    return f"{item.get('feature')} = {'(missing)' if value is None else value}"


def explain_table(report: ExplanationReport, features: int = 30, local: int = 20) -> str:
    """The explanation report as text: checks, global importance (``features`` lines) and the first ``local``
    local explanations (JSON has them all)."""
    data = report.to_dict()
    checks = data.get("checks") or {}
    stability = checks.get("ranking_stability") or {}
    lines = wrap(f"model {data.get('model')}: {method_words(data)} explaining {data.get('output')}; rows explained "
                 f"locally: {len(data.get('rows') or [])}; {number(data.get('seconds'), 2)} s")
    lines += ["checks:", *wrap(f"  - {additivity_words(checks)}")]
    if data.get("importance_skipped"):
        lines += wrap(f"  - permutation importance skipped: {data['importance_skipped']}")
    else:
        lines += wrap(f"  - {stability_words(stability.get('importance'), 'permutation importance')}")
    if data.get("method") == "tree" and stability.get("shap") is None:
        lines.append("  - SHAP ranking: exact (tree SHAP), the same under any seed")
    else:
        lines += wrap(f"  - {stability_words(stability.get('shap'), 'SHAP')}")
    lines += warning_lines(data.get("warnings") or [])
    lines += [line for note in data.get("notes") or [] for line in wrap(f"note: {note}")]
    lines += ["", *_global_lines(data, features)]
    lines += _local_lines(data.get("local") or [], local)
    return "\n".join(lines) + "\n"


def _global_lines(data: Mapping[str, Any], limit: int) -> list[str]:
    rows = importance_rows(data)
    if not rows:
        return ["global importance: none computed"]
    scoring = data.get("importance_scoring")
    perm = f"permutation importance ({scoring} drop)" if scoring else "no permutation importance"
    shap_rows = data.get("shap_rows")
    asked = data.get("shap_rows_asked")
    sample = f"mean |SHAP| of {data.get('output')} over {number(shap_rows)} rows" + (
        f" (of {number(asked)} asked)" if asked is not None and asked != shap_rows else "")
    lines = wrap(f"global importance: {perm}; {sample}")
    perm_cols = any(mean is not None for _, mean, _, _ in rows)  # columns only for what was measured
    shap_cols = any(shap is not None for _, _, _, shap in rows)
    head = ["feature", *(["permutation", "std"] if perm_cols else []), *(["mean |SHAP|"] if shap_cols else [])]
    lines += text_table(head, [[clip(name, FEATURE_WIDTH), *([number(mean), number(std)] if perm_cols else []),
                                *([number(shap)] if shap_cols else [])] for name, mean, std, shap in rows[:limit]])
    if len(rows) > limit:
        lines.append(f"... {len(rows) - limit} more features (see --format json)")
    return lines


def _local_lines(records: Sequence[Mapping[str, Any]], limit: int) -> list[str]:
    lines = []
    for record in records[:limit]:
        lines += ["", f"row {record.get('row')}: prediction {record.get('prediction')!r}; {record.get('output')} = "
                      f"{number(record.get('value'))} (base value {number(record.get('base_value'))})"]
        rows = [[clip(contribution_label(c), FEATURE_WIDTH * 2), signed(c.get("contribution"))]
                for c in record.get("contributions") or []]
        rest = finite(record.get("rest"))
        if rest is not None and rest != 0.0:
            rows.append(["(all other features)", signed(rest)])
        lines += text_table(["feature = value", "contribution"], rows, indent="  ")
    if len(records) > limit:
        lines += ["", f"... {len(records) - limit} more local explanations (see --format json)"]
    return lines
