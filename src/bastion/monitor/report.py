"""What a drift test returns: per-column results, multivariate and model-level tests, and the dataset verdict.

Plain frozen dataclasses with ``to_dict`` for JSON; the table and HTML renderers read the same objects.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


def _number(value: float | None) -> float | None:
    """JSON-safe float: NaN and infinities become None (JSON has no spelling for them)."""
    if value is None or not math.isfinite(value):
        return None
    return float(value)


@dataclass(frozen=True)
class Histogram:
    """Reference and current shares over the same bins, for plots."""

    labels: tuple[str, ...]
    """One label per bin: a category, or a numeric range such as ``[0.5, 1.2)``."""
    reference: tuple[float, ...]
    """Share of reference values in each bin (sums to 1 over the non-missing values)."""
    current: tuple[float, ...]
    """Share of current values in each bin."""
    edges: tuple[float, ...] = ()
    """For numeric columns, the ``len(labels) + 1`` bin boundaries (outer ones are the observed min and max)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        data: dict[str, Any] = {"labels": list(self.labels), "reference": [_number(v) for v in self.reference],
                                "current": [_number(v) for v in self.current]}
        if self.edges:
            data["edges"] = [_number(v) for v in self.edges]
        return data


@dataclass(frozen=True)
class ColumnDrift:
    """The drift test of one column."""

    name: str
    """Column name."""
    kind: str
    """``numeric``, ``categorical``, or ``unusable`` when the column cannot be tested (see ``message``)."""
    test: str
    """The test behind the verdict: ``ks`` (Kolmogorov-Smirnov), ``chi2`` (two-sample chi-square), ``missing``
    (only the missing-value rate could be compared), ``schema`` (the column is missing or changed type), ``none``."""
    statistic: float | None
    """The test statistic (KS distance D, or chi-square); None when no test ran."""
    p_value: float | None
    """The test's own p-value, before family-wise correction."""
    p_adjusted: float | None
    """The p-value after correction across every test of the run (Holm or Benjamini-Hochberg)."""
    effect_size: float | None
    """Size of the change: Wasserstein distance over the reference standard deviation (numeric), Jensen-Shannon
    distance (categorical)."""
    drift: bool
    """True when the corrected p-value is below alpha (and the effect reaches ``min_effect`` when one is set), or
    when the schema changed."""
    role: str = "feature"
    """``feature``, ``prediction``, ``target``, ``probability`` or ``latency``."""
    metrics: Mapping[str, float] = field(default_factory=dict)
    """Further distances: ``psi``, ``jensen_shannon``, ``wasserstein_normed``, ``missing_p_value`` ..."""
    reference_missing: float = 0.0
    """Share of missing (null or NaN) values in the reference."""
    current_missing: float = 0.0
    """Share of missing values in the current data."""
    message: str | None = None
    """Why the column could not be tested fully (all null, mixed types, infinities, ...), else None."""
    histogram: Histogram | None = None
    """Reference and current distributions for plots, when the column was tested."""

    def to_dict(self) -> dict[str, Any]:
        """JSON form, keys in the order the issue's schema lists them."""
        data: dict[str, Any] = {
            "name": self.name, "test": self.test, "statistic": _number(self.statistic),
            "p_value": _number(self.p_value), "effect_size": _number(self.effect_size), "drift": self.drift,
            "p_adjusted": _number(self.p_adjusted), "kind": self.kind, "role": self.role,
            "metrics": {key: _number(value) for key, value in self.metrics.items()},
            "reference_missing": _number(self.reference_missing), "current_missing": _number(self.current_missing),
        }
        if self.message:
            data["message"] = self.message
        if self.histogram is not None:
            data["histogram"] = self.histogram.to_dict()
        return data


@dataclass(frozen=True)
class DatasetTest:
    """A test over the dataset as a whole (multivariate drift) or over the model (performance, latency)."""

    name: str
    """``pca_reconstruction``, ``domain_classifier``, ``performance``, ``estimated_performance``, ``latency`` ..."""
    statistic: float | None
    """The test statistic (KS distance of reconstruction errors, AUC, a metric's drop ...)."""
    p_value: float | None
    """The test's own p-value, or None for a threshold rule (estimated performance)."""
    p_adjusted: float | None
    """After correction with the column tests, or None when the test is not part of the family."""
    effect_size: float | None
    """Size of the change, in the unit ``details`` names."""
    drift: bool
    """True when this test alarms."""
    details: Mapping[str, Any] = field(default_factory=dict)
    """Test-specific numbers (reference and current metric values, top features of the domain classifier ...)."""
    message: str | None = None
    """Why the test could not run or ran partly, else None."""

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        data: dict[str, Any] = {"name": self.name, "statistic": _number(self.statistic),
                                "p_value": _number(self.p_value), "p_adjusted": _number(self.p_adjusted),
                                "effect_size": _number(self.effect_size), "drift": self.drift,
                                "details": _json_safe(dict(self.details))}
        if self.message:
            data["message"] = self.message
        return data


@dataclass(frozen=True)
class DriftReport:
    """The result of ``DriftMonitor.test``: the verdict and every test behind it."""

    drift: bool
    """True when any corrected test found drift (columns, schema, multivariate or model tests)."""
    alpha: float
    """Family-wise error rate (Holm) or false discovery rate (Benjamini-Hochberg) the verdict controls."""
    correction: str
    """``holm``, ``bh`` or ``none``."""
    reference_rows: int
    """Rows in the reference the profile was fitted on."""
    current_rows: int
    """Rows in the current data."""
    columns: tuple[ColumnDrift, ...]
    """One entry per column of the reference or the current data, in reference order then new columns."""
    dataset_tests: tuple[DatasetTest, ...] = ()
    """Multivariate and model-level tests."""
    warnings: tuple[str, ...] = ()
    """Things the user should know that are not drift (small samples, columns only in the current data ...)."""

    @property
    def drifted_columns(self) -> tuple[str, ...]:
        """Names of the columns whose test found drift."""
        return tuple(column.name for column in self.columns if column.drift)

    def to_dict(self) -> dict[str, Any]:
        """JSON form: ``{"drift", "columns": [...], "dataset_tests": [...], ...}``."""
        return {"drift": self.drift, "alpha": self.alpha, "correction": self.correction,
                "reference_rows": self.reference_rows, "current_rows": self.current_rows,
                "drifted_columns": list(self.drifted_columns),
                "columns": [column.to_dict() for column in self.columns],
                "dataset_tests": [test.to_dict() for test in self.dataset_tests],
                "warnings": list(self.warnings)}


def _json_safe(value: Any) -> Any:
    """Details may hold NumPy scalars, tuples and non-finite floats: make them JSON values."""
    if isinstance(value, Mapping):
        return {str(key): _json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(item) for item in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if number.is_integer() and not isinstance(value, float) and abs(number) < 2**53:
        return int(number)
    return _number(number)


def check_header(data: Any, what: str, fmt: str, version: int) -> None:
    """Raise ValueError unless ``data`` is a mapping stamped with ``fmt`` and ``version`` (for ``from_dict``)."""
    if not isinstance(data, Mapping):
        raise ValueError(f"{what}: expected a mapping, got {type(data).__name__}")
    if data.get("format") != fmt or data.get("version") != version:
        raise ValueError(f"{what}: 'format'/'version' must be {fmt!r}/{version}, got "
                         f"{data.get('format')!r}/{data.get('version')!r}")
