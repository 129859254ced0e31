"""``FairnessTest``: group metrics, disparities, calibration and bootstrap intervals of a model's decisions.

``FairnessTest(positive=...).run(y_true, y_pred, sensitive)`` groups the rows by the sensitive column or columns
(intersectional groups), builds each group's confusion table (or regression sums) with one ``np.bincount``, and
reads every rate and disparity from it, with Fairlearn's names and conventions; with ``privileged`` it adds
AIF360's signed comparisons against the privileged group; with ``scores`` it adds calibration by group; with
``resamples`` it adds percentile bootstrap intervals to every number. ``FairnessReport.to_dict()`` is the JSON of
``bastion test fairness``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from bastion.model.fairness import metrics as m
from bastion.model.fairness.bootstrap import multinomial_tables, percentile_intervals, resampled_sums
from bastion.model.fairness.calibration import (
    STRATEGIES,
    CalibrationResult,
    GroupCalibration,
    bin_rows,
    calibration_by_group,
    calibration_columns,
    calibration_metrics,
    calibration_values,
    check_scores,
)
from bastion.model.fairness.groups import MAX_GROUPS, GroupIndex
from bastion.model.fairness.values import finite, json_value, plain

TASKS = ("auto", "classification", "regression")
"""Values of ``FairnessTest(task=...)``."""
FOUR_FIFTHS = 0.8
"""The four-fifths rule: the lowest group selection rate should be at least 80% of the highest."""
MANY_VALUES = 10
"""``task="auto"``: a numeric target with more distinct values than this is a regression target."""

Interval = tuple[float, float]


@dataclass(frozen=True)
class GroupResult:
    """One group's numbers."""

    group: dict[str, object]
    """Sensitive column -> value (plain Python scalars; ``None`` for missing)."""
    size: int
    """Rows in the group."""
    weight: float | None
    """Sum of the group's sample weights; ``None`` without weights."""
    values: dict[str, float]
    """Classification: ``selection_rate``, ``tpr``, ``fpr``, ``fnr``, ``tnr``, ``precision``, ``accuracy``,
    ``base_rate``; regression: ``mean_prediction``, ``mean_error``, ``mean_absolute_error``,
    ``mean_squared_error``, ``root_mean_squared_error``, ``r2``."""
    intervals: dict[str, Interval]
    """Value name (and ``ece``, ``brier`` with scores) -> bootstrap percentile interval."""
    calibration: GroupCalibration | None
    """Reliability curve, ECE and Brier score; ``None`` without scores."""

    def to_dict(self) -> dict[str, Any]:
        """The group's JSON: ``group``, ``size``, the values, ``calibration`` when present, ``intervals``."""
        out: dict[str, Any] = {"group": {k: json_value(v) for k, v in self.group.items()}, "size": self.size}
        if self.weight is not None:
            out["weight"] = finite(self.weight)
        out.update({name: finite(v) for name, v in self.values.items()})
        if self.calibration is not None:
            out["calibration"] = self.calibration.to_dict()
        out["intervals"] = {name: _pair(v) for name, v in self.intervals.items()}
        return out


@dataclass(frozen=True)
class Comparison:
    """AIF360 disparities of one group (or of every unprivileged row) against the privileged group."""

    group: dict[str, object] | None
    """The compared group; ``None`` for the aggregate (every row outside the privileged group)."""
    size: int
    """Rows compared with the privileged group."""
    metrics: dict[str, float]
    """AIF360 name -> unprivileged minus (or over) privileged."""

    def to_dict(self) -> dict[str, Any]:
        """JSON: ``group`` (when one), ``size`` and the metrics."""
        out: dict[str, Any] = {} if self.group is None else {
            "group": {k: json_value(v) for k, v in self.group.items()}}
        out["size"] = self.size
        out.update({name: finite(v) for name, v in self.metrics.items()})
        return out


@dataclass(frozen=True)
class PrivilegedResult:
    """AIF360-style comparisons against a privileged group, as ``ClassificationMetric`` computes them."""

    privileged: dict[str, object]
    """The privileged group as AIF360 names it: column -> value (columns not named take any value)."""
    privileged_rows: int
    """Rows in the privileged group."""
    aggregate: Comparison
    """Every row outside the privileged group against it (AIF360's unprivileged_groups: the complement)."""
    groups: tuple[Comparison, ...]
    """Each group outside the privileged group, alone, against it."""
    intervals: dict[str, Interval]
    """Aggregate metric -> bootstrap percentile interval."""

    def to_dict(self) -> dict[str, Any]:
        """JSON: ``privileged``, ``privileged_rows``, ``aggregate``, ``groups``, ``intervals``."""
        return {"privileged": {k: json_value(v) for k, v in self.privileged.items()},
                "privileged_rows": self.privileged_rows, "aggregate": self.aggregate.to_dict(),
                "groups": [g.to_dict() for g in self.groups],
                "intervals": {name: _pair(v) for name, v in self.intervals.items()}}


@dataclass(frozen=True)
class BootstrapSettings:
    """How the intervals were computed."""

    resamples: int
    """Resamples drawn (0: no intervals)."""
    level: float
    """Confidence level of the percentile intervals."""
    seed: int
    """Seed of ``numpy.random.default_rng``."""
    method: str
    """``multinomial`` (count tables drawn directly), ``rows`` (rows resampled) or ``none``."""
    usable: dict[str, int]
    """Metric -> resamples in which it was defined, for metrics where that is fewer than ``resamples``."""

    def to_dict(self) -> dict[str, Any]:
        """JSON: ``resamples``, ``level``, ``seed``, ``method`` and ``usable``."""
        return {"resamples": self.resamples, "level": self.level, "seed": self.seed, "method": self.method,
                "usable": dict(self.usable)}


@dataclass(frozen=True)
class FourFifths:
    """The four-fifths rule on selection rates."""

    ratio: float
    """``demographic_parity_ratio``: lowest over highest group selection rate (NaN when nobody is selected)."""
    passed: bool | None
    """``ratio >= 0.8``; ``None`` when the ratio is undefined."""

    def to_dict(self) -> dict[str, Any]:
        """JSON: ``ratio``, ``passed``, ``threshold``."""
        return {"ratio": finite(self.ratio), "passed": self.passed, "threshold": FOUR_FIFTHS}


@dataclass(frozen=True)
class FairnessReport:
    """Everything ``FairnessTest.run`` found."""

    task: str
    """``classification`` or ``regression``."""
    positive: object | None
    """The positive (favourable) label; ``None`` for regression."""
    sensitive: tuple[str, ...]
    """The sensitive columns."""
    rows: int
    """Rows judged."""
    weighted: bool
    """Whether sample weights were given."""
    groups: tuple[GroupResult, ...]
    """Per group, ordered by the sensitive values (missing last)."""
    metrics: dict[str, float]
    """Disparity name (Fairlearn's spelling) -> value."""
    intervals: dict[str, Interval]
    """Disparity name -> bootstrap percentile interval."""
    bootstrap: BootstrapSettings
    """How the intervals were computed."""
    calibration: CalibrationResult | None
    """Calibration settings and cross-group gaps; ``None`` without scores."""
    versus_privileged: PrivilegedResult | None
    """AIF360-style comparisons; ``None`` without ``privileged``."""
    four_fifths_rule: FourFifths | None
    """Verdict on ``demographic_parity_ratio``; ``None`` for regression."""
    warnings: tuple[str, ...]
    """Small groups, undefined rates, a failed four-fifths rule, resamples lacking a group."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON report (no NaN: undefined numbers are ``null``)."""
        return {
            "task": self.task, "positive": json_value(self.positive), "sensitive": list(self.sensitive),
            "rows": self.rows, "weighted": self.weighted, "groups": [g.to_dict() for g in self.groups],
            "metrics": {name: finite(v) for name, v in self.metrics.items()},
            "intervals": {name: _pair(v) for name, v in self.intervals.items()},
            "bootstrap": self.bootstrap.to_dict(),
            "calibration": None if self.calibration is None else self.calibration.to_dict(),
            "versus_privileged": None if self.versus_privileged is None else self.versus_privileged.to_dict(),
            "four_fifths_rule": None if self.four_fifths_rule is None else self.four_fifths_rule.to_dict(),
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True)
class _Prepared:
    """Validated inputs of one run."""

    index: GroupIndex
    """The group of every row."""
    weights: np.ndarray | None
    """Sample weights (n,), or ``None``."""
    task: str
    """``classification`` or ``regression``."""
    positive: object | None
    """The positive label as the data spells it; ``None`` for regression."""
    y_true: np.ndarray
    """Classification: True where the label is positive; regression: float64 values."""
    y_pred: np.ndarray
    """As ``y_true``, for the predictions."""
    scores: np.ndarray | None
    """Checked probabilities of the positive label, or ``None``."""


class FairnessTest:
    """Group fairness of a classifier's or regressor's outputs over one or several sensitive columns.

    ``positive``: the favourable label (default: the greater of two labels in sorted order, e.g. 1, ``'>50K'``,
    True; with more than two labels it is required, and the test is that label against the rest).
    ``min_group_size``: groups with fewer rows are named in the warnings. ``resamples``, ``level``, ``seed``:
    percentile bootstrap intervals (0 resamples: none). ``calibration_bins`` and ``calibration_strategy``
    (``uniform`` or ``quantile``): reliability curves when scores are given. ``privileged``: column -> value of
    the privileged group (``{"sex": "Male"}``), for AIF360's signed comparisons. ``task``: ``auto``,
    ``classification`` or ``regression`` (``auto``: a numeric target with many distinct values, or with fractional
    predictions, is regression). ``max_groups``: refuse more groups than this (a continuous column).
    """

    def __init__(self, *, positive: object | None = None, min_group_size: int = 30, resamples: int = 100,
                 level: float = 0.95, seed: int = 0, calibration_bins: int = 10, calibration_strategy: str = "uniform",
                 privileged: Mapping[str, object] | None = None, task: str = "auto",
                 max_groups: int = MAX_GROUPS) -> None:
        _check_int("min_group_size", min_group_size, 0)
        _check_int("resamples", resamples, 0)
        _check_int("seed", seed, 0)
        _check_int("calibration_bins", calibration_bins, 1)
        _check_int("max_groups", max_groups, 1)
        if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0.0 < float(level) < 1.0:
            raise ValueError(f"level must be a number between 0 and 1 (e.g. 0.95), got {level!r}")
        if calibration_strategy not in STRATEGIES:
            raise ValueError(f"calibration_strategy must be one of {', '.join(STRATEGIES)}, "
                             f"got {calibration_strategy!r}")
        if task not in TASKS:
            raise ValueError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
        if privileged is not None and (not isinstance(privileged, Mapping) or not privileged):
            raise ValueError(f"privileged must be a non-empty mapping of column -> value, e.g. {{'sex': 'Male'}}, "
                             f"got {privileged!r}")
        self.positive = positive
        self.min_group_size = min_group_size
        self.resamples = resamples
        self.level = float(level)
        self.seed = seed
        self.calibration_bins = calibration_bins
        self.calibration_strategy = calibration_strategy
        self.privileged = None if privileged is None else dict(privileged)
        self.task = task
        self.max_groups = max_groups

    def run(self, y_true: Any, y_pred: Any, sensitive: Any, *, scores: Any = None,
            sample_weight: Any = None) -> FairnessReport:
        """Judge predictions ``y_pred`` against ``y_true`` for the groups of ``sensitive`` (a DataFrame, a mapping
        of column -> values, or one Series or array).

        ``scores``: probability of the positive label per row (calibration by group). ``sample_weight``: weights
        per row, applied to every rate and sum as Fairlearn's ``sample_params={"sample_weight": ...}`` does.
        ``ValueError`` naming the argument, column or row for bad input.
        """
        prepared = self._prepare(y_true, y_pred, sensitive, scores, sample_weight)
        if prepared.task == "regression":
            return self._regression(prepared)
        return self._classification(prepared)

    # -- inputs -----------------------------------------------------------------------------------------------------

    def _prepare(self, y_true: Any, y_pred: Any, sensitive: Any, scores: Any, sample_weight: Any) -> _Prepared:
        index = GroupIndex.from_columns(sensitive, max_groups=self.max_groups)
        rows = index.rows
        truth, pred = _labels("y_true", y_true, rows), _labels("y_pred", y_pred, rows)
        weights = None if sample_weight is None else _weights(sample_weight, rows)
        task = self._task(truth, pred)
        if task == "regression":
            if scores is not None:
                raise ValueError("scores: calibration is for classification, but the task is regression")
            if self.privileged is not None:
                raise ValueError("privileged: AIF360-style comparisons are for classification, but the task is "
                                 "regression")
            return _Prepared(index, weights, task, None, _numbers("y_true", truth), _numbers("y_pred", pred), None)
        positive = _positive(truth, pred, self.positive)
        t, p = _equals(truth, positive), _equals(pred, positive)
        checked = None if scores is None else check_scores(scores, rows)
        return _Prepared(index, weights, task, positive, t, p, checked)

    def _task(self, truth: np.ndarray, pred: np.ndarray) -> str:
        if self.task != "auto":
            return self.task
        if self.positive is not None or not (_numeric(truth) and _numeric(pred)):
            return "classification"
        import pandas as pd

        distinct = len(pd.unique(truth))
        fractional = pred.dtype.kind == "f" and bool(np.any(pred != np.round(pred)))
        if distinct > MANY_VALUES:
            return "regression"
        if fractional and distinct <= 2:
            raise ValueError("y_pred holds fractional values but y_true has two labels: give hard predictions (the "
                             "probabilities go to scores=), or task='regression'")
        return "regression" if fractional else "classification"

    # -- classification ---------------------------------------------------------------------------------------------

    def _classification(self, p: _Prepared) -> FairnessReport:
        index = p.index
        counts = m.confusion_counts(index.codes, p.y_true, p.y_pred, index.n_groups, p.weights)
        rates = m.group_rates(counts)
        metrics = _floats(m.classification_metrics(counts))
        calibration = None
        if p.scores is not None:
            calibration = calibration_by_group(index.codes, index.n_groups, p.y_true, p.scores,
                                               bins=self.calibration_bins, strategy=self.calibration_strategy,
                                               weights=p.weights)
            metrics.update(calibration.metrics)
        privileged_mask = None if self.privileged is None else self._privileged_mask(index)
        boot = _Boot(self.resamples, self.level, self.seed)
        if self.resamples:
            boot.classification(index, counts, p, privileged_mask)
            if p.scores is not None:
                boot.calibration(index, p, self.calibration_bins, self.calibration_strategy)
        versus = None if privileged_mask is None else self._versus(index, counts, privileged_mask, boot)
        ratio = metrics["demographic_parity_ratio"]
        four = FourFifths(ratio=ratio, passed=None if np.isnan(ratio) else bool(ratio >= FOUR_FIFTHS))
        groups = tuple(GroupResult(
            group=index.groups[g], size=int(index.sizes[g]),
            weight=None if p.weights is None else float(counts[g].sum()),
            values={name: float(v[g]) for name, v in rates.items()}, intervals=boot.group_intervals(g),
            calibration=None if calibration is None else calibration.groups[g]) for g in range(index.n_groups))
        notes = [*self._size_warnings(index), *_rate_warnings(index, counts, p.positive),
                 *_four_fifths_warning(index, rates["selection_rate"], four), *boot.warnings(index)]
        return FairnessReport(
            task="classification", positive=plain(p.positive), sensitive=index.columns, rows=index.rows,
            weighted=p.weights is not None, groups=groups, metrics=metrics, intervals=boot.metric_intervals(),
            bootstrap=boot.settings(), calibration=calibration, versus_privileged=versus, four_fifths_rule=four,
            warnings=tuple(notes))

    def _privileged_mask(self, index: GroupIndex) -> np.ndarray:
        assert self.privileged is not None
        mask = index.select(self.privileged)
        shown = ", ".join(f"{k}={v!r}" for k, v in self.privileged.items())
        if not mask.any():
            values = {c: sorted({str(g[c]) for g in index.groups})[:10] for c in self.privileged}
            raise ValueError(f"privileged: no rows have {shown} (values: {values})")
        if mask.all():
            raise ValueError(f"privileged: every row has {shown}, so there is no unprivileged group to compare")
        return mask

    def _versus(self, index: GroupIndex, counts: np.ndarray, mask: np.ndarray, boot: _Boot) -> PrivilegedResult:
        assert self.privileged is not None
        privileged = counts[mask].sum(axis=0)
        aggregate = Comparison(group=None, size=int(index.sizes[~mask].sum()),
                               metrics=_floats(m.privileged_comparison(counts[~mask].sum(axis=0), privileged)))
        each = tuple(Comparison(group=index.groups[g], size=int(index.sizes[g]),
                                metrics=_floats(m.privileged_comparison(counts[g], privileged)))
                     for g in np.flatnonzero(~mask).tolist())
        return PrivilegedResult(privileged={k: plain(v) for k, v in self.privileged.items()},
                                privileged_rows=int(index.sizes[mask].sum()), aggregate=aggregate, groups=each,
                                intervals=boot.versus_intervals())

    def _size_warnings(self, index: GroupIndex) -> list[str]:
        return [f"{index.label(g)} has {int(index.sizes[g])} rows (< {self.min_group_size})"
                for g in range(index.n_groups) if index.sizes[g] < self.min_group_size]

    # -- regression -------------------------------------------------------------------------------------------------

    def _regression(self, p: _Prepared) -> FairnessReport:
        index = p.index
        sums = m.regression_sums(index.codes, p.y_true, p.y_pred, index.n_groups, p.weights)
        values = m.regression_values(sums)
        metrics = _floats(m.regression_metrics(sums))
        boot = _Boot(self.resamples, self.level, self.seed)
        if self.resamples:
            boot.regression(index, p)
        shown = [name for name in m.REGRESSION_VALUES if name != "count"]
        groups = tuple(GroupResult(
            group=index.groups[g], size=int(index.sizes[g]),
            weight=None if p.weights is None else float(sums[g, 0]),
            values={name: float(values[name][g]) for name in shown}, intervals=boot.group_intervals(g),
            calibration=None) for g in range(index.n_groups))
        return FairnessReport(
            task="regression", positive=None, sensitive=index.columns, rows=index.rows,
            weighted=p.weights is not None, groups=groups, metrics=metrics, intervals=boot.metric_intervals(),
            bootstrap=boot.settings(), calibration=None, versus_privileged=None, four_fifths_rule=None,
            warnings=tuple([*self._size_warnings(index), *boot.warnings(index)]))


class _Boot:
    """The bootstrap of one run: draws resamples, keeps their values, and turns them into intervals."""

    def __init__(self, resamples: int, level: float, seed: int) -> None:
        self.resamples, self.level, self.seed = resamples, level, seed
        self.rng = np.random.default_rng(seed)
        self.method = "none"
        self.per_group: dict[str, np.ndarray] = {}
        self.metrics: dict[str, np.ndarray] = {}
        self.versus: dict[str, np.ndarray] = {}
        self.incomplete = np.zeros(0, dtype=bool)
        self.absent = np.zeros((0, 0), dtype=bool)

    def classification(self, index: GroupIndex, counts: np.ndarray, p: _Prepared, mask: np.ndarray | None) -> None:
        """Resampled confusion tables: drawn directly (multinomial) without weights, else by resampling rows."""
        if p.weights is None:
            self.method = "multinomial"
            tables = multinomial_tables(counts, self.resamples, self.rng)
        else:
            self.method = "rows"
            keys = index.codes * 4 + (p.y_true.astype(np.int64) * 2 + p.y_pred)
            tables = resampled_sums(keys, index.n_groups * 4, p.weights[:, None], self.resamples, self.rng)
            tables = tables.reshape(self.resamples, index.n_groups, 4)
        self._present(tables.sum(axis=-1) > 0)
        self.per_group.update(m.group_rates(tables))
        self._keep_metrics(m.classification_metrics(tables), self.incomplete)
        if mask is not None:
            self.versus = m.privileged_comparison(tables[:, ~mask].sum(axis=1), tables[:, mask].sum(axis=1))

    def calibration(self, index: GroupIndex, p: _Prepared, bins: int, strategy: str) -> None:
        """Resampled (group, bin) tables for ECE and Brier intervals (bins fixed at the full data's edges)."""
        assert p.scores is not None
        ids, _ = bin_rows(index.codes, p.scores, index.n_groups, bins, strategy)
        columns = calibration_columns(p.y_true, p.scores, p.weights)
        tables = resampled_sums(index.codes * bins + ids, index.n_groups * bins, columns, self.resamples, self.rng)
        tables = tables.reshape(self.resamples, index.n_groups, bins, columns.shape[1])
        values = calibration_values(tables)
        self.per_group.update({"ece": values["ece"], "brier": values["brier"]})
        # its own resamples: a group can be absent here and not in the count tables' draws, or the reverse
        lacking = (tables[..., 0].sum(axis=-1) <= 0).any(axis=-1)
        self._keep_metrics(calibration_metrics(tables), lacking)

    def regression(self, index: GroupIndex, p: _Prepared) -> None:
        """Resampled regression sums (rows resampled), spreads measured about the full data's group means."""
        self.method = "rows"
        centers = m.group_means(index.codes, p.y_true, index.n_groups, p.weights)
        columns = m.regression_columns(p.y_true, p.y_pred, p.weights, centers[index.codes])
        tables = resampled_sums(index.codes, index.n_groups, columns, self.resamples, self.rng)
        self._present(tables[..., 1] > 0)
        values = m.regression_values(tables)
        self.per_group.update({k: v for k, v in values.items() if k != "count"})
        self._keep_metrics(m.regression_metrics(tables), self.incomplete)

    def _present(self, present: np.ndarray) -> None:
        self.absent = ~present
        self.incomplete = np.asarray(self.absent.any(axis=-1))

    def _keep_metrics(self, values: Mapping[str, np.ndarray], lacking: np.ndarray) -> None:
        """Disparities over groups are undefined in a resample that lacks a group (``lacking``, (B,))."""
        self.metrics.update({k: np.where(lacking, np.nan, v) for k, v in values.items()})

    def group_intervals(self, group: int) -> dict[str, Interval]:
        """Value name -> interval for one group."""
        return {name: iv for name, values in self.per_group.items()
                if (iv := self._interval(values[:, group])) is not None}

    def metric_intervals(self) -> dict[str, Interval]:
        """Metric name -> interval."""
        return {name: iv for name, values in self.metrics.items() if (iv := self._interval(values)) is not None}

    def versus_intervals(self) -> dict[str, Interval]:
        """AIF360 aggregate metric -> interval."""
        return {name: iv for name, values in self.versus.items() if (iv := self._interval(values)) is not None}

    def _interval(self, samples: np.ndarray) -> Interval | None:
        lower, upper, _ = percentile_intervals(samples, self.level)
        if not np.isfinite(lower) or not np.isfinite(upper):
            return None
        return float(lower), float(upper)

    def settings(self) -> BootstrapSettings:
        """Resamples, level, seed, method, and the metrics defined in fewer than every resample."""
        usable = {name: int(np.isfinite(v).sum()) for name, v in self.metrics.items()}
        return BootstrapSettings(resamples=self.resamples, level=self.level, seed=self.seed, method=self.method,
                                 usable={k: n for k, n in usable.items() if n < self.resamples})

    def warnings(self, index: GroupIndex) -> list[str]:
        """Resamples that lacked a group, naming the group missing most often."""
        if not self.incomplete.any():
            return []
        worst = int(np.argmax(self.absent.sum(axis=0)))
        lacking = int(self.incomplete.sum())
        return [f"bootstrap: {lacking} of {self.resamples} resamples lacked a group ({index.label(worst)} in "
                f"{int(self.absent[:, worst].sum())}); the disparities' intervals use the other "
                f"{self.resamples - lacking}"]


# -- helpers ------------------------------------------------------------------------------------------------------

def _check_int(name: str, value: object, least: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
        raise ValueError(f"{name} must be an integer >= {least}, got {value!r}")


def _labels(name: str, values: Any, rows: int) -> np.ndarray:
    """Labels or values as a 1-D array of ``rows``; ``ValueError`` naming the first missing row."""
    import pandas as pd

    if isinstance(values, (pd.Series, pd.Index)) or hasattr(values, "to_numpy"):
        array = values.to_numpy()
    else:
        array = np.asarray(values)
    if array.ndim != 1:
        if array.ndim == 2 and array.shape[1] == 1:
            array = array[:, 0]
        else:
            raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if len(array) != rows:
        raise ValueError(f"{name} has {len(array)} rows but the sensitive columns have {rows}")
    if array.dtype.kind in "fc" or array.dtype.kind == "O":
        missing = np.flatnonzero(pd.isna(array))
        if len(missing):
            raise ValueError(f"{name} is missing at row {int(missing[0])} ({len(missing)} rows): drop or fill those "
                             f"rows first")
    return np.asarray(array)


def _weights(values: Any, rows: int) -> np.ndarray:
    try:
        weights = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError("sample_weight must be numbers") from None
    if weights.ndim != 1 or len(weights) != rows:
        raise ValueError(f"sample_weight must hold one weight per row ({rows}), got shape {weights.shape}")
    bad = np.flatnonzero(~(np.isfinite(weights) & (weights >= 0)))
    if len(bad):
        raise ValueError(f"sample_weight at row {int(bad[0])} is {weights[bad[0]]!r}: weights must be finite and >= 0")
    if not weights.sum() > 0:
        raise ValueError("sample_weight: every weight is 0")
    return weights


def _numeric(values: np.ndarray) -> bool:
    return values.dtype.kind in "iuf"


def _numbers(name: str, values: np.ndarray) -> np.ndarray:
    try:
        out = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be numbers for a regression") from None
    bad = np.flatnonzero(~np.isfinite(out))
    if len(bad):
        raise ValueError(f"{name} at row {int(bad[0])} is {out[bad[0]]!r}: regression values must be finite")
    return out


def _unique(values: np.ndarray) -> list[object]:
    import pandas as pd

    return [plain(v) for v in pd.unique(values).tolist()]


def _positive(truth: np.ndarray, pred: np.ndarray, positive: object | None) -> object:
    """The positive label as a value of the data: the one given, or the greater of two labels."""
    labels = list(dict.fromkeys([*_unique(truth), *_unique(pred)]))
    if positive is not None:
        for label in labels:
            if _same_label(label, positive):
                return label
        raise ValueError(f"positive: {positive!r} is not a label of y_true or y_pred (labels: {_shown(labels)})")
    if len(labels) != 2:
        what = "one label" if len(labels) == 1 else f"{len(labels)} labels"
        raise ValueError(f"y_true and y_pred hold {what} ({_shown(labels)}): give positive=LABEL, the favourable "
                         f"label to judge against the rest")
    try:
        return sorted(labels)[-1]  # type: ignore[type-var]
    except TypeError:
        raise ValueError(f"labels {_shown(labels)} are of different types: give positive=LABEL") from None


def _same_label(label: object, positive: object) -> bool:
    try:
        return bool(label == positive)
    except (TypeError, ValueError):
        return False


def _shown(labels: list[object]) -> str:
    text = ", ".join(repr(v) for v in labels[:10])
    return text + (", ..." if len(labels) > 10 else "")


def _equals(values: np.ndarray, label: object) -> np.ndarray:
    """Rows equal to ``label`` (a value taken from the data itself, so the comparison is well typed)."""
    if values.dtype.kind == "O":
        return _object_equal(values, label)
    return np.asarray(values == label, dtype=bool)


def _object_equal(values: np.ndarray, label: object) -> np.ndarray:
    """Elementwise ``values == label`` for an object array (strings, mixed values)."""
    out = values == label
    if isinstance(out, np.ndarray):
        return out
    return np.array([_same_label(v, label) for v in values.tolist()], dtype=bool)


def _floats(values: Mapping[str, np.ndarray]) -> dict[str, float]:
    return {name: float(v) for name, v in values.items()}


def _rate_warnings(index: GroupIndex, counts: np.ndarray, positive: object) -> list[str]:
    """Groups where a rate's denominator is empty, so it is reported as 0 (Fairlearn's convention)."""
    notes = []
    empty = {"no positive labels": (counts[:, m.TP] + counts[:, m.FN]) == 0,
             "no negative labels": (counts[:, m.TN] + counts[:, m.FP]) == 0,
             "no positive predictions": (counts[:, m.TP] + counts[:, m.FP]) == 0}
    rates = {"no positive labels": "tpr and fnr", "no negative labels": "fpr and tnr",
             "no positive predictions": "precision"}
    weighed = counts.sum(axis=1) > 0
    for what, flags in empty.items():
        for g in np.flatnonzero(flags & weighed).tolist():
            verb = "are" if " and " in rates[what] else "is"
            notes.append(f"{index.label(g)} has {what} (positive = {positive!r}): its {rates[what]} "
                         f"{verb} reported as 0, as Fairlearn does")
    notes += [f"{index.label(g)} has a total sample weight of 0: its rates are undefined"
              for g in np.flatnonzero(~weighed).tolist()]
    return notes


def _four_fifths_warning(index: GroupIndex, selection: np.ndarray, four: FourFifths) -> list[str]:
    if four.passed is not False:
        return []
    low, high = int(np.nanargmin(selection)), int(np.nanargmax(selection))
    return [f"four-fifths rule failed: demographic_parity_ratio is {four.ratio:.3f} (< {FOUR_FIFTHS}): "
            f"{index.label(low)} is selected at {selection[low]:.3f}, {index.label(high)} at {selection[high]:.3f}"]





def _pair(interval: Interval) -> list[float | None]:
    return [finite(interval[0]), finite(interval[1])]
