"""``bastion test fairness``, ``bastion data audit`` and ``bastion explain`` (over bastion.model.fairness / explain).

Exit codes: 0 done (and every ``--fail-on`` condition holds), 1 a ``--fail-on`` condition failed (or, for
``data audit --fail-on-flags``, a group or proxy was flagged), 2 bad input or a model the load gate refused.
"""

from __future__ import annotations

import logging
import operator
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from bastion.cli.modeltest import FORMATS, _emit, _split

data_app = typer.Typer(name="data", help="Audit a dataset: representation, label balance, proxy features.",
                       no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)

_CONDITION = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(<=|>=|<|>)\s*([-+0-9.eE]+)\s*$")
_OPERATORS: dict[str, Callable[[float, float], bool]] = {"<": operator.lt, "<=": operator.le, ">": operator.gt,
                                                          ">=": operator.ge}
_MODEL_HELP = "Model file: scikit-learn pickle/joblib/skops (pipelines on raw columns too), ONNX, TorchScript. " \
              "Scanned before it is loaded."
_UNSAFE_HELP = "Load the model even if the model-file scan finds something (dangerous; recorded)."


def _stop(command: str, message: object) -> typer.Exit:
    """Exit 2 after ``bastion <command>: <message>`` on stderr."""
    typer.echo(f"bastion {command}: {message}", err=True)
    return typer.Exit(2)


def _errors() -> tuple[type[BaseException], ...]:
    from bastion.data.files import DataError
    from bastion.model.base import ModelError

    return (DataError, ModelError, ValueError, OSError, ImportError)


def _read(verb: str, data: Path) -> Any:
    from bastion.model.tabular import read_frame

    logging.basicConfig(level=logging.WARNING, format="bastion: %(message)s")
    try:
        return read_frame(data)
    except _errors() as exc:
        raise _stop(verb, exc) from None


def _model(verb: str, model: Path, features: list[str], allow_unsafe: bool) -> Any:
    from bastion.model.tabular import load_tabular
    from bastion.supplychain.gate import UnsafeLoadError

    try:
        return load_tabular(model, features=features or None, allow_unsafe=allow_unsafe)
    except UnsafeLoadError as exc:
        raise _stop(verb, f"{exc}\n(override with --allow-unsafe-load, which is logged)") from None
    except _errors() as exc:
        raise _stop(verb, exc) from None


def _pairs(values: list[str] | None) -> dict[str, str]:
    """``COL=VALUE`` items (comma separated or repeated) as a dict."""
    pairs = {}
    for item in _split(values):
        column, sep, value = item.partition("=")
        if not sep or not column.strip():
            raise ValueError(f"--privileged takes COLUMN=VALUE, got {item!r}")
        pairs[column.strip()] = value.strip()
    return pairs


def parse_bins(values: list[str] | None) -> dict[str, list[float]]:
    """``age=25,45`` items (one per column) as {column: edges}; ``ValueError`` naming a bad one."""
    bins = {}
    for item in values or []:
        column, sep, edges = item.partition("=")
        try:
            cuts = [float(e) for e in edges.split(",") if e.strip()]
        except ValueError:
            cuts = []
        if not sep or not column.strip() or not cuts:
            raise ValueError(f"--bin takes COLUMN=EDGE[,EDGE...], e.g. age=25,45; got {item!r}")
        bins[column.strip()] = cuts
    return bins


def parse_conditions(values: list[str] | None) -> list[tuple[str, str, float]]:
    """``demographic_parity_ratio>=0.8`` items as (metric, operator, threshold); ``ValueError`` naming a bad one."""
    conditions = []
    for item in _split(values):
        match = _CONDITION.match(item)
        if match is None:
            raise ValueError(f"--fail-on takes METRIC<=NUMBER (or <, >, >=), e.g. demographic_parity_ratio>=0.8; "
                             f"got {item!r}")
        name, op, number = match.groups()
        try:
            conditions.append((name, op, float(number)))
        except ValueError:
            raise ValueError(f"--fail-on {item!r}: {number!r} is not a number") from None
    return conditions


def failed_conditions(metrics: dict[str, Any], conditions: list[tuple[str, str, float]]) -> list[str]:
    """The conditions that do not hold (a metric that is missing or undefined fails); ``ValueError`` for a name
    the report does not have at all."""
    failed = []
    for name, op, threshold in conditions:
        if name not in metrics:
            raise ValueError(f"--fail-on: no metric {name!r}; the report has {sorted(metrics)[:12]}")
        value = metrics[name]
        if value is None or not _OPERATORS[op](float(value), threshold):
            failed.append(f"{name} = {value} (required {op} {threshold:g})")
    return failed


def _render(report: Any, fmt: str, html: Callable[[Any], str], table: Callable[[Any], str]) -> str:
    import json

    if fmt == "json":
        return json.dumps(report.to_dict(), indent=2, allow_nan=False) + "\n"
    return html(report) if fmt == "html" else table(report)


def fairness_command(
    data: Path = typer.Option(..., "--data", "-d", help="CSV, TSV, Parquet or JSON Lines with features, target "
                              "and sensitive columns."),
    target: str = typer.Option(..., "--target", "-t", help="The true label (or value, for regression) column."),
    sensitive: list[str] = typer.Option(..., "--sensitive", "-s", help="Sensitive columns, comma separated; "
                                        "several give intersectional groups."),
    model: Path | None = typer.Option(None, "--model", "-m", help=_MODEL_HELP),
    prediction: str | None = typer.Option(None, "--prediction", help="Judge logged decisions in this column "
                                          "instead of a model."),
    score: str | None = typer.Option(None, "--score", help="With --prediction: the positive-class probability "
                                     "column (calibration by group)."),
    positive: str | None = typer.Option(None, "--positive", help="The favourable label (default: the greater of "
                                        "two labels, e.g. 1 or '>50K')."),
    privileged: list[str] | None = typer.Option(None, "--privileged", help="COL=VALUE: also report AIF360-style "
                                                "metrics against this group."),
    bins: list[str] | None = typer.Option(None, "--bin", help="COL=EDGES: cut a numeric sensitive column into "
                                          "groups, e.g. age=25,45 (repeat per column)."),
    features: list[str] | None = typer.Option(None, "--features", help="Columns the model takes (default: the "
                                              "model's own names, else all but target and sensitive)."),
    min_group_size: int = typer.Option(30, "--min-group-size", min=1, help="Warn about groups smaller than this."),
    resamples: int = typer.Option(100, "--resamples", min=0, help="Bootstrap resamples for intervals (0: none)."),
    level: float = typer.Option(0.95, "--level", help="Confidence level of the intervals."),
    mitigate: list[str] | None = typer.Option(None, "--mitigate", help="Try mitigations, comma separated: "
                                              "reweighing, threshold, exponentiated_gradient (refits the model)."),
    constraint: str = typer.Option("demographic_parity", "--constraint", help="What threshold and "
                                   "exponentiated_gradient equalise: demographic_parity or equalized_odds."),
    seed: int = typer.Option(0, "--seed", help="Seed for the bootstrap and mitigations."),
    fail_on: list[str] | None = typer.Option(None, "--fail-on", help="Exit 1 unless this holds, e.g. "
                                             "demographic_parity_ratio>=0.8 (repeat or comma separate)."),
    fmt: str = typer.Option("table", "--format", "-f", help="table, json or html."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write the report here (atomically)."),
    allow_unsafe_load: bool = typer.Option(False, "--allow-unsafe-load", help=_UNSAFE_HELP),
) -> None:
    """Group metrics and disparities of a model's decisions, with bootstrap intervals and optional mitigations.

    JSON: {"groups": [{"group": {COL: VALUE}, "size", "selection_rate", "tpr", "fpr", ...}], "metrics":
    {"demographic_parity_difference", "demographic_parity_ratio", "equalized_odds_difference", ...},
    "intervals": {...}, "mitigations": [...]}.
    """
    from bastion.model.fairness.html import fairness_html
    from bastion.model.fairness.render import fairness_table
    from bastion.model.fairness.run import run_fairness

    verb = "test fairness"
    if fmt not in FORMATS:
        raise _stop(verb, f"--format must be one of {', '.join(FORMATS)}")
    if model is None and prediction is None:
        raise _stop(verb, "give --model, or --prediction with a column of logged decisions")
    try:
        conditions = parse_conditions(fail_on)
    except ValueError as exc:
        raise _stop(verb, exc) from None
    frame = _read(verb, data)
    tabular = None if model is None else _model(verb, model, _split(features), allow_unsafe_load)
    settings = {"min_group_size": min_group_size, "resamples": resamples, "level": level, "seed": seed}
    try:
        result = run_fairness(frame, target, _split(sensitive), model=tabular,
                              prediction=None if tabular is not None else prediction, score=score,
                              positive=positive, privileged=_pairs(privileged), mitigate=_split(mitigate),
                              constraint=constraint, bins=parse_bins(bins), settings=settings)
        failed = failed_conditions(result.report.to_dict()["metrics"], conditions)
    except _errors() as exc:
        raise _stop(verb, exc) from None
    _emit(_render(result, fmt, fairness_html, fairness_table), output)
    if failed:
        typer.echo(f"bastion {verb}: failed: " + "; ".join(failed), err=True)
        raise typer.Exit(1)


@data_app.command("audit")
def audit_command(
    data: Path = typer.Argument(..., help="CSV, TSV, Parquet or JSON Lines."),
    sensitive: list[str] = typer.Option(..., "--sensitive", "-s", help="Sensitive columns, comma separated."),
    target: str | None = typer.Option(None, "--target", "-t", help="Label column: label balance by group."),
    positive: str | None = typer.Option(None, "--positive", help="The favourable label (default: the greater of "
                                        "two labels)."),
    reference: Path | None = typer.Option(None, "--reference", help="Population shares to compare with: JSON "
                                          "{COL: {VALUE: share}} or CSV column,value,share."),
    bins: list[str] | None = typer.Option(None, "--bin", help="COL=EDGES: cut a numeric sensitive column into "
                                          "groups, e.g. age=25,45 (repeat per column)."),
    min_group_size: int = typer.Option(30, "--min-group-size", min=1, help="Warn about groups smaller than this."),
    seed: int = typer.Option(0, "--seed", help="Seed for the proxy models' sample and folds."),
    fail_on_flags: bool = typer.Option(False, "--fail-on-flags", help="Exit 1 when a group is under-represented "
                                       "or absent, or a proxy feature is found."),
    fmt: str = typer.Option("table", "--format", "-f", help="table, json or html."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write the report here (atomically)."),
) -> None:
    """Representation of groups (against a reference population), label balance by group, and proxy features.

    No model is needed. JSON: {"representation": [...], "label_balance": {...}, "proxies": [...],
    "recoverability": {...}, "warnings": [...]}.
    """
    from bastion.model.fairness.audit import DatasetAudit, load_reference
    from bastion.model.fairness.html import audit_html
    from bastion.model.fairness.render import audit_table
    from bastion.model.fairness.run import group_frame, match_value

    verb = "data audit"
    if fmt not in FORMATS:
        raise _stop(verb, f"--format must be one of {', '.join(FORMATS)}")
    frame = _read(verb, data)
    try:
        shares = None if reference is None else load_reference(reference)
        columns = _split(sensitive)
        cuts = parse_bins(bins)
        if cuts:
            binned = group_frame(frame, columns, cuts)
            frame = frame.assign(**{col: binned[col] for col in cuts})
        label = None
        if positive is not None:
            if target is None:
                raise ValueError("--positive needs --target")
            label = match_value(positive, frame[target].to_numpy(), f"--positive (column {target!r})")
        report = DatasetAudit(reference=shares, positive=label, min_group_size=min_group_size, seed=seed).run(
            frame, columns, target=target)
    except _errors() as exc:
        raise _stop(verb, exc) from None
    _emit(_render(report, fmt, audit_html, audit_table), output)
    if fail_on_flags and report.flagged:
        raise typer.Exit(1)


def explain_command(
    model: Path = typer.Option(..., "--model", "-m", help=_MODEL_HELP),
    data: Path = typer.Option(..., "--data", "-d", help="CSV, TSV, Parquet or JSON Lines with the model's columns."),
    target: str | None = typer.Option(None, "--target", "-t", help="True labels: adds permutation importance."),
    rows: str | None = typer.Option(None, "--rows", help="Rows to explain one by one, e.g. 0,5,10-20 "
                                    "(default: the first 10)."),
    method: str = typer.Option("auto", "--method", help="auto, tree (TreeSHAP), permutation or kernel."),
    features: list[str] | None = typer.Option(None, "--features", help="Columns the model takes (default: the "
                                              "model's own names, else all but target)."),
    background: int = typer.Option(100, "--background", min=1, help="Background rows for model-agnostic SHAP."),
    seeds: int = typer.Option(3, "--seeds", min=1, help="Seeds for the ranking-stability check."),
    top: int = typer.Option(10, "--top", min=1, help="Features per local explanation."),
    time_budget: float | None = typer.Option(None, "--time-budget", help="Seconds for model-agnostic SHAP; "
                                             "rows left when it is spent are reported."),
    workers: int = typer.Option(1, "--workers", min=1, help="Processes for model-agnostic SHAP."),
    seed: int = typer.Option(0, "--seed", help="Seed for sampling and permutations."),
    fmt: str = typer.Option("table", "--format", "-f", help="table, json or html."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write the report here (atomically)."),
    allow_unsafe_load: bool = typer.Option(False, "--allow-unsafe-load", help=_UNSAFE_HELP),
) -> None:
    """Global importance (permutation, mean |SHAP|) and per-decision explanations, checked for additivity.

    JSON: {"importance": [...], "shap": [...], "local": [{"row", "prediction", "value", "base_value",
    "contributions", ...}], "checks": {...}}.
    """
    from bastion.model.explain.html import explain_html
    from bastion.model.explain.render import explain_table
    from bastion.model.explain.report import ExplainTest

    verb = "explain"
    if fmt not in FORMATS:
        raise _stop(verb, f"--format must be one of {', '.join(FORMATS)}")
    frame = _read(verb, data)
    tabular = _model(verb, model, _split(features), allow_unsafe_load)
    try:
        chosen = None if rows is None else parse_rows(rows, len(frame))
        tabular.bind([str(c) for c in frame.columns], exclude=[target] if target else [])
        y = None if target is None else frame[target].to_numpy() if target in frame.columns else _no_target(target)
        report = ExplainTest(method=method, rows=chosen, background=background, seeds=seeds, top=top,
                             time_budget=time_budget, workers=workers, seed=seed).run(tabular, frame, y)
    except _errors() as exc:
        raise _stop(verb, exc) from None
    _emit(_render(report, fmt, explain_html, explain_table), output)


def _no_target(target: str) -> Any:
    raise ValueError(f"no target column {target!r} in the data")


def parse_rows(text: str, count: int) -> list[int]:
    """``"0,5,10-20"`` -> row indices (ranges inclusive), each checked against ``count`` rows."""
    chosen: list[int] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        low, dash, high = part.partition("-")
        try:
            first, last = int(low), int(high) if dash else int(low)
        except ValueError:
            raise ValueError(f"--rows takes whole numbers and ranges such as 0,5,10-20; got {part!r}") from None
        if first < 0 or last < first:
            raise ValueError(f"--rows {part!r}: rows count from 0 and ranges go upwards")
        if last >= count:
            raise ValueError(f"--rows {part!r}: the data has {count} rows (0 to {count - 1})")
        chosen.extend(range(first, last + 1))
    if not chosen:
        raise ValueError("--rows names no rows")
    return list(dict.fromkeys(chosen))
