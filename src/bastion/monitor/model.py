"""Model-level monitoring inside a drift run: realised and estimated performance, and latency.

The roles come from the monitor's options: ``target`` (labels), ``prediction``, ``probability`` (one column for a
binary model, one per class in class order otherwise) and ``latency`` (seconds). The task is classification when
probabilities are given or the target is not a floating-point column, regression otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from bastion.monitor.latency import LatencyProfile, test_latency
from bastion.monitor.performance import (
    CLASSIFICATION,
    REGRESSION,
    PerformanceProfile,
    estimate_performance,
    test_performance,
)
from bastion.monitor.report import DatasetTest


@dataclass(frozen=True)
class Roles:
    """Which columns play which part; picklable."""

    target: str | None = None
    """True labels (or values, for regression)."""
    prediction: str | None = None
    """The model's predicted label or value."""
    probability: tuple[str, ...] = ()
    """Predicted probabilities."""
    latency: str | None = None
    """Response time in seconds."""

    @classmethod
    def of(cls, roles: dict[str, str]) -> Roles:
        """From a column -> role mapping."""
        by_role: dict[str, Any] = {"probability": tuple(c for c, r in roles.items() if r == "probability")}
        for role in ("target", "prediction", "latency"):
            by_role[role] = next((column for column, value in roles.items() if value == role), None)
        return cls(**by_role)

    def columns(self) -> tuple[str, ...]:
        """Every column with a model role."""
        named = (self.target, self.prediction, self.latency)
        return tuple(name for name in named if name is not None) + self.probability


@dataclass
class ModelState:
    """Reference model states built batch by batch and merged across partitions."""

    performance: PerformanceProfile | None = None
    latency: LatencyProfile | None = None

    def update(self, batch: Any, roles: Roles) -> None:
        """Count one batch of reference rows."""
        if roles.target is not None and (roles.prediction is not None or roles.probability):
            y_true = _values(batch.column(roles.target))
            proba = _probabilities(batch, roles.probability)
            y_pred = predictions(batch, roles, self.performance, proba)
            if self.performance is None:
                self.performance = PerformanceProfile(_task(batch, roles))
            self.performance.update(y_true, y_pred, proba)
        if roles.latency is not None:
            self.latency = self.latency or LatencyProfile()
            self.latency.update(_float_values(batch.column(roles.latency)))

    def merge(self, other: ModelState) -> ModelState:
        """Both partitions' states."""
        performance = (self.performance.merge(other.performance) if self.performance and other.performance
                       else self.performance or other.performance)
        latency = (self.latency.merge(other.latency) if self.latency and other.latency
                   else self.latency or other.latency)
        return ModelState(performance, latency)

    def to_dict(self) -> dict[str, Any]:
        """JSON form for the profile file."""
        data: dict[str, Any] = {}
        if self.performance is not None:
            data["performance"] = self.performance.to_dict()
        if self.latency is not None:
            data["latency"] = self.latency.to_dict()
        return data


def _task(batch: Any, roles: Roles) -> str:
    import pyarrow.types as types

    if roles.probability:
        return CLASSIFICATION
    assert roles.target is not None
    return REGRESSION if types.is_floating(batch.schema.field(roles.target).type) else CLASSIFICATION


def _values(array: Any) -> NDArray[Any]:
    return np.asarray(array.to_numpy(zero_copy_only=False))


def _float_values(array: Any) -> NDArray[np.float64]:
    from bastion.monitor.columns import numeric_values

    return numeric_values(array)


def _probabilities(batch: Any, columns: tuple[str, ...]) -> NDArray[np.float64] | None:
    if not columns:
        return None
    matrix = np.column_stack([_float_values(batch.column(name)) for name in columns])
    return matrix[:, 0] if matrix.shape[1] == 1 else matrix


def predictions(batch: Any, roles: Roles, performance: PerformanceProfile | None,
                proba: NDArray[np.float64] | None) -> NDArray[Any]:
    """The prediction column, or the class the probabilities favour when there is none."""
    if roles.prediction is not None:
        return _values(batch.column(roles.prediction))
    assert proba is not None
    if proba.ndim == 1:
        classes = performance.classes if performance is not None and performance.binary else ("0", "1")
        return np.where(proba >= 0.5, classes[1], classes[0])
    classes = performance.classes if performance is not None else tuple(str(i) for i in range(proba.shape[1]))
    return np.asarray(np.asarray(classes, dtype=object)[np.argmax(proba, axis=1)])


def model_tests(reference: dict[str, Any], roles: Roles, table: Any, alpha: float) -> list[DatasetTest]:
    """Performance (with labels), estimated performance (with probabilities) and latency tests of current data."""
    tests: list[DatasetTest] = []
    names = set(table.column_names) if table is not None else set()
    if "performance" in reference:
        profile = PerformanceProfile.from_dict(reference["performance"])
        proba = _probabilities(table, roles.probability) if set(roles.probability) <= names else None
        y_pred = None
        if roles.prediction in names:
            y_pred = _values(table.column(roles.prediction))
        elif proba is not None:  # no prediction column in the current data: the class the probabilities favour
            y_pred = predictions(table, Roles(probability=roles.probability), profile, proba)
        if y_pred is not None and roles.target in names:
            tests.append(test_performance(profile, _values(table.column(roles.target)), y_pred, alpha))
        if y_pred is not None and proba is not None and profile.has_calibration:
            tests.append(estimate_performance(profile, y_pred, proba))
    if "latency" in reference and roles.latency in names:
        assert roles.latency is not None
        profile_latency = LatencyProfile.from_dict(reference["latency"])
        tests.append(test_latency(profile_latency, _float_values(table.column(roles.latency)), alpha))
    return tests
