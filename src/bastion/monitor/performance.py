"""Model performance: realised metrics when current labels exist, confidence-based estimation when they do not.

``PerformanceProfile`` is the mergeable reference state of a model's outputs. It holds counts and sums only, never
rows, so it can leave the zone where the reference data lives: build it with ``update`` on each partition, combine
partitions with ``merge``, store it with ``to_dict``.

- Classification: the confusion matrix over the classes (labels kept as text) and, when predicted probabilities
  are given, one-vs-rest calibration counts per class over ``n_bins`` uniform probability bins (rows, positives and
  the sum of the predicted probability per bin). The calibration map of a class is the weighted isotonic (PAV) fit
  of the positive rate over those bins, read by linear interpolation between bin means.
- Regression: the number of rows and the sums of the error (``y_pred - y_true``), its absolute value, its square
  and its fourth power, enough for MAE, RMSE and the variance of the absolute error.

``test_performance`` compares realised performance on labelled current data with the reference.
``estimate_performance`` estimates it without labels in the manner of NannyML's CBPE: current probabilities are
calibrated with the reference map and read as the chance that each row belongs to each class, which gives an
expected confusion matrix and every metric built on it.

Standard errors of confusion-matrix metrics use the delta method over the multinomial cell shares: for a metric
``m(Q)`` of the cell shares ``Q`` of ``n`` rows, ``Var m = (sum Q G^2 - (sum Q G)^2) / n`` with ``G = dm/dQ``. For
the estimate, ``Q`` is the expected confusion matrix, so the error is the spread of the realised metric over
samples of ``n`` rows from the current distribution when the calibration map holds (the map's own estimation
error is not included; it shrinks with the reference size).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Self

import numpy as np
from numpy.typing import ArrayLike, NDArray

from bastion.monitor.report import DatasetTest, check_header

CLASSIFICATION = "classification"
"""Task of a classifier: labels and, optionally, predicted probabilities."""
REGRESSION = "regression"
"""Task of a regressor: numeric targets and predictions."""
FORMAT = "bastion.performance-profile"
"""The ``format`` key of a serialised profile."""
VERSION = 1
"""The ``version`` key of a serialised profile."""
METRICS = ("accuracy", "precision", "recall", "f1", "macro_precision", "macro_recall", "macro_f1")
"""Classification metrics: ``precision``, ``recall`` and ``f1`` are of the positive class (binary profiles only)."""
PROBABILITY_SUM_TOLERANCE = 1e-3
"""How far a row of multiclass probabilities may sum from 1 (float32 softmax outputs drift by about 1e-6)."""
FEW_CALIBRATION_ROWS = 500
"""Below this many reference rows with probabilities, the estimate's message warns that the calibration map is thin."""


class PerformanceProfile:
    """Reference state of a model's outputs: confusion and calibration counts, or error sums. No rows are kept.

    ``classes`` fixes the class labels and their order, which is the order of the probability columns. Without it
    the classes are those seen, sorted (numbers numerically, text alphabetically: scikit-learn's ``classes_`` for
    labels of one type); for binary data the positive class is then the second one. Pass ``classes`` when a
    partition may miss a class, or when probabilities are given for classes whose sorted order is not the model's.
    Labels are compared as text, with integral numbers written without a decimal point (``1.0`` is ``"1"``).
    """

    def __init__(self, task: str = CLASSIFICATION, *, classes: Sequence[Any] | None = None, n_bins: int = 50) -> None:
        if task not in (CLASSIFICATION, REGRESSION):
            raise ValueError(f"PerformanceProfile: task must be {CLASSIFICATION!r} or {REGRESSION!r}, got {task!r}")
        if isinstance(n_bins, bool) or not isinstance(n_bins, int) or not 2 <= n_bins <= 10_000:
            raise ValueError(f"PerformanceProfile: n_bins must be an integer in [2, 10000], got {n_bins!r}")
        if classes is not None and task == REGRESSION:
            raise ValueError("PerformanceProfile: classes apply to classification only")
        self.task = task
        self.n_bins = n_bins
        self._classes: list[str] = [] if classes is None else _class_list(classes)
        self._fixed = classes is not None
        k = len(self._classes)
        self._confusion = np.zeros((k, k), dtype=np.int64)
        self._clear_calibration()
        self._sums = np.zeros(4, dtype=np.float64)  # error, |error|, error^2, error^4
        self._n_regression = 0

    # ----------------------------------------------------------------- reading

    @property
    def classes(self) -> tuple[str, ...]:
        """Class labels in probability-column order (empty for regression)."""
        return tuple(self._classes)

    @property
    def classes_fixed(self) -> bool:
        """True when the classes were given (unknown labels raise) rather than inferred (new labels extend them)."""
        return self._fixed

    @property
    def binary(self) -> bool:
        """True for a classifier with exactly two classes (the second is the positive class)."""
        return self.task == CLASSIFICATION and len(self._classes) == 2

    @property
    def n(self) -> int:
        """Rows seen."""
        return int(self._confusion.sum()) if self.task == CLASSIFICATION else self._n_regression

    @property
    def confusion(self) -> NDArray[np.int64]:
        """Confusion counts, rows the true class and columns the predicted one (scikit-learn's layout); a copy."""
        return self._confusion.copy()

    @property
    def calibration_rows(self) -> int:
        """Rows that came with predicted probabilities."""
        return int(self._cal_total[0].sum()) if self._classes else 0

    @property
    def has_calibration(self) -> bool:
        """True when some rows came with probabilities, so ``calibrate`` and ``estimate_performance`` work."""
        return self.calibration_rows > 0

    def metrics(self) -> dict[str, float]:
        """Realised reference metrics: see ``METRICS`` (classification) or ``mae``, ``rmse``, ``bias``."""
        if self.n == 0:
            raise ValueError("PerformanceProfile.metrics: the profile is empty")
        if self.task == REGRESSION:
            return _regression_metrics(self._n_regression, self._sums)
        return confusion_metrics(self._confusion, binary=self.binary)

    def calibration_error(self) -> float:
        """Expected calibration error of the reference probabilities over the bins (raw, before the map).

        Binary: of the positive class. Multiclass: the mean over classes of each one-vs-rest error.
        """
        self._require_calibration("calibration_error")
        gaps = np.abs(self._cal_proba - self._cal_positive).sum(axis=1) / self.calibration_rows
        return float(gaps[1]) if self.binary else float(gaps.mean())

    def calibrate(self, proba: ArrayLike) -> NDArray[np.float64]:
        """Calibrated probabilities, one column per class (binary 1-D input gives two columns).

        Binary: the positive class goes through its map and the negative is the complement. Multiclass: each
        column goes through its class's map and rows are renormalised to sum to 1 (a row mapped to all zeros keeps
        its input).
        """
        self._require_calibration("calibrate")
        matrix = _proba_matrix(proba, None, len(self._classes), "proba")
        if self.binary:
            x, y = self._calibration_map(1)
            positive = np.interp(matrix[:, 1], x, y)
            return np.column_stack([1.0 - positive, positive])
        out = np.empty_like(matrix)
        for index in range(len(self._classes)):
            x, y = self._calibration_map(index)
            out[:, index] = np.interp(matrix[:, index], x, y)
        sums = out.sum(axis=1, keepdims=True)
        empty = sums[:, 0] <= 0
        out[empty] = matrix[empty]
        sums[empty] = 1.0
        calibrated: NDArray[np.float64] = out / sums
        return calibrated

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PerformanceProfile) and self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"PerformanceProfile(task={self.task!r}, n={self.n}, classes={len(self._classes)})"

    # ---------------------------------------------------------------- building

    def update(self, y_true: ArrayLike, y_pred: ArrayLike, proba: ArrayLike | None = None) -> Self:
        """Count one batch in place and return the profile; a batch that fails validation leaves it unchanged.

        ``proba`` (classification only): binary, the probability of the positive class (1-D) or two columns;
        multiclass, ``n x classes`` in ``classes`` order. Values must lie in [0, 1]; multiclass rows sum to 1.
        """
        if self.task == REGRESSION:
            if proba is not None:
                raise ValueError("PerformanceProfile.update: proba applies to classification only")
            self._update_regression(y_true, y_pred)
        else:
            self._update_classification(y_true, y_pred, proba)
        return self

    def merge(self, other: PerformanceProfile) -> PerformanceProfile:
        """A new profile holding both (neither input changes). Settings must match; inferred classes are united."""
        if not isinstance(other, PerformanceProfile):
            raise TypeError(f"PerformanceProfile.merge: expected a PerformanceProfile, got {type(other).__name__}")
        if (self.task, self.n_bins) != (other.task, other.n_bins):
            raise ValueError(f"PerformanceProfile.merge: settings differ (task, n_bins): {(self.task, self.n_bins)} "
                             f"vs {(other.task, other.n_bins)}")
        merged = PerformanceProfile.from_dict(self.to_dict())
        if self.task == REGRESSION:
            merged._n_regression += other._n_regression
            merged._sums += other._sums
            return merged
        merged._fixed = self._fixed or other._fixed
        merged._adopt_classes(_merged_classes(self, other), "PerformanceProfile.merge")
        right = PerformanceProfile.from_dict(other.to_dict())
        right._adopt_classes(merged._classes, "PerformanceProfile.merge")
        merged._confusion += right._confusion
        merged._cal_total += right._cal_total
        merged._cal_positive += right._cal_positive
        merged._cal_proba += right._cal_proba
        return merged

    def _update_regression(self, y_true: ArrayLike, y_pred: ArrayLike) -> None:
        truth = _finite_vector(y_true, "y_true")
        predicted = _finite_vector(y_pred, "y_pred")
        _same_length(truth, predicted, "y_true", "y_pred")
        error = predicted - truth
        square = error * error
        self._sums += np.array([error.sum(), np.abs(error).sum(), square.sum(), (square * square).sum()])
        self._n_regression += int(error.size)

    def _update_classification(self, y_true: ArrayLike, y_pred: ArrayLike, proba: ArrayLike | None) -> None:
        truth_codes, truth_labels = _label_codes(y_true, "y_true")
        pred_codes, pred_labels = _label_codes(y_pred, "y_pred")
        _same_length(truth_codes, pred_codes, "y_true", "y_pred")
        classes = self._classes_after(truth_labels + pred_labels)
        k = len(classes)
        matrix = None if proba is None else _proba_matrix(proba, truth_codes.size, k, "proba")
        truth = _class_indices(truth_codes, truth_labels, classes, "y_true")
        predicted = _class_indices(pred_codes, pred_labels, classes, "y_pred")
        # Everything is validated: from here on the profile changes.
        self._adopt_classes(classes, "PerformanceProfile.update")
        self._confusion += np.bincount(truth * k + predicted, minlength=k * k).reshape(k, k)
        if matrix is not None:
            self._count_calibration(matrix, truth)

    def _count_calibration(self, matrix: NDArray[np.float64], truth: NDArray[np.intp]) -> None:
        # One contiguous column at a time: several times faster than binning the whole matrix at once.
        bins = self.n_bins
        for index, column in enumerate(np.ascontiguousarray(matrix.T)):
            cells = _bin_of(column, bins)
            self._cal_total[index] += np.bincount(cells, minlength=bins)
            self._cal_proba[index] += np.bincount(cells, weights=column, minlength=bins)
        own = _bin_of(matrix[np.arange(truth.size), truth], bins) + truth * bins
        self._cal_positive += np.bincount(own, minlength=self._cal_positive.size).reshape(self._cal_positive.shape)

    def _classes_after(self, labels: list[str]) -> list[str]:
        """The classes once ``labels`` are counted: unchanged when fixed (unknown labels raise later)."""
        if self._fixed:
            return self._classes
        new = set(labels) - set(self._classes)
        if not new:
            return self._classes
        if self.has_calibration:
            raise ValueError(f"PerformanceProfile.update: new labels {_sample(new)} after probabilities were "
                             "counted would change the probability columns; pass classes= to the profile")
        return sorted(set(self._classes) | new, key=_class_key)

    def _adopt_classes(self, classes: list[str], where: str) -> None:
        """Re-index the counts onto ``classes`` (a superset of the current ones)."""
        if classes == self._classes:
            return
        if self.has_calibration:
            raise ValueError(f"{where}: classes differ ({self._classes} vs {classes}) and probabilities were "
                             "counted; pass the same classes= to every profile")
        position = np.array([classes.index(label) for label in self._classes], dtype=np.intp)
        k = len(classes)
        confusion = np.zeros((k, k), dtype=np.int64)
        confusion[np.ix_(position, position)] = self._confusion
        self._classes = list(classes)
        self._confusion = confusion
        self._clear_calibration()

    def _clear_calibration(self) -> None:
        shape = (len(self._classes), self.n_bins)
        self._cal_total = np.zeros(shape, dtype=np.int64)
        self._cal_positive = np.zeros(shape, dtype=np.int64)
        self._cal_proba = np.zeros(shape, dtype=np.float64)

    def _require_calibration(self, where: str) -> None:
        if self.task != CLASSIFICATION or not self.has_calibration:
            raise ValueError(f"PerformanceProfile.{where}: the profile has no probabilities; "
                             "update it with proba= on the reference")

    def _calibration_map(self, index: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Points (mean predicted probability, isotonic positive rate) over the class's non-empty bins."""
        total = self._cal_total[index]
        used = total > 0
        weight = total[used].astype(np.float64)
        x = self._cal_proba[index][used] / weight
        rate = self._cal_positive[index][used] / weight
        return x, isotonic(rate, weight)

    # ------------------------------------------------------------ serialising

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types only; ``from_dict`` reads it back."""
        data: dict[str, Any] = {"format": FORMAT, "version": VERSION, "task": self.task, "n_bins": self.n_bins}
        if self.task == REGRESSION:
            data.update(n=self._n_regression, sum_error=float(self._sums[0]), sum_abs_error=float(self._sums[1]),
                        sum_squared_error=float(self._sums[2]), sum_fourth_power_error=float(self._sums[3]))
            return data
        data.update(classes=list(self._classes), classes_fixed=self._fixed, confusion=self._confusion.tolist())
        if self.has_calibration:
            data["calibration"] = {"total": self._cal_total.tolist(), "positives": self._cal_positive.tolist(),
                                   "sum_proba": self._cal_proba.tolist()}
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PerformanceProfile:
        """Read ``to_dict`` output; a missing or malformed key raises ValueError naming it."""
        check_header(data, "performance profile", FORMAT, VERSION)
        task, n_bins = _key(data, "task", str), _key(data, "n_bins", int)
        if task == REGRESSION:
            profile = cls(task, n_bins=n_bins)
            profile._n_regression = _count(data, "n")
            sums = [_key(data, key, float) for key in
                    ("sum_error", "sum_abs_error", "sum_squared_error", "sum_fourth_power_error")]
            if min(sums[1:]) < 0:
                raise ValueError("performance profile: 'sum_abs_error', 'sum_squared_error' and "
                                 "'sum_fourth_power_error' must be non-negative")
            profile._sums = np.array(sums, dtype=np.float64)
            return profile
        profile = cls(task, n_bins=n_bins)
        profile._classes = _stored_classes(data)
        profile._fixed = _key(data, "classes_fixed", bool)
        k = len(profile._classes)
        if profile._fixed and k < 2:
            raise ValueError(f"performance profile: 'classes' must hold at least two labels when fixed, got {k}")
        profile._confusion = _int_matrix(data.get("confusion"), "confusion", (k, k))
        profile._clear_calibration()
        calibration = data.get("calibration")
        if calibration is not None:
            profile._read_calibration(calibration)
        return profile

    def _read_calibration(self, calibration: Any) -> None:
        if not isinstance(calibration, Mapping):
            raise ValueError("performance profile: 'calibration' must be a mapping")
        shape = (len(self._classes), self.n_bins)
        total = _int_matrix(calibration.get("total"), "calibration.total", shape)
        positive = _int_matrix(calibration.get("positives"), "calibration.positives", shape)
        proba = _float_matrix(calibration.get("sum_proba"), "calibration.sum_proba", shape)
        if (positive > total).any() or (proba > total + 1e-6 * (1 + total)).any() or (proba < 0).any():
            raise ValueError("performance profile: 'calibration' counts are inconsistent "
                             "(positives or sum_proba outside [0, total])")
        if len(set(total.sum(axis=1).tolist())) > 1:
            raise ValueError("performance profile: 'calibration.total' must count the same rows for every class")
        self._cal_total, self._cal_positive, self._cal_proba = total, positive, proba


# --------------------------------------------------------------------------- tests


def test_performance(profile: PerformanceProfile, y_true: ArrayLike, y_pred: ArrayLike, alpha: float = 0.05,
                     *, min_effect: float = 0.0) -> DatasetTest:
    """Realised performance on labelled current data against the reference (``name="performance"``).

    Classification: one-sided two-proportion z-test that accuracy dropped (pooled variance); ``statistic`` is z,
    ``effect_size`` the drop in accuracy (reference minus current). Regression: one-sided Welch t-test that the mean
    absolute error grew; ``statistic`` is t, ``effect_size`` the relative MAE increase. ``drift`` when the p-value
    is below ``alpha`` and the effect reaches ``min_effect``. Current labels unknown to the profile raise.
    """
    _check_alpha(alpha)
    if profile.n == 0:
        raise ValueError("test_performance: the reference profile is empty")
    current = (PerformanceProfile(REGRESSION) if profile.task == REGRESSION
               else PerformanceProfile(classes=profile.classes, n_bins=profile.n_bins))
    current.update(y_true, y_pred)
    if current.n == 0:
        return DatasetTest("performance", None, None, None, None, False, {}, "no current rows to test")
    if profile.task == REGRESSION:
        statistic, p_value, effect, details = _mae_test(profile, current)
    else:
        statistic, p_value, effect, details = _accuracy_test(profile, current)
    drift = p_value < alpha and effect >= min_effect
    return DatasetTest("performance", statistic, p_value, None, effect, drift, details)


test_performance.__test__ = False  # type: ignore[attr-defined]  # a library function, not a pytest test


def estimate_performance(profile: PerformanceProfile, y_pred: ArrayLike, proba: ArrayLike, *,
                         metric: str = "accuracy", sigmas: float = 3.0, max_calibration_error: float = 0.1
                         ) -> DatasetTest:
    """Label-free performance estimate for a classifier (``name="estimated_performance"``), after NannyML's CBPE.

    Current probabilities are calibrated with the reference map; the calibrated probability that row ``i`` is of
    class ``d`` fills cell (``d``, predicted class of ``i``) of an expected confusion matrix. Binary: expected TP is
    the sum of ``p`` over predicted positives, FP the sum of ``1 - p`` over them, and so on. Multiclass: expected
    accuracy is the mean calibrated probability of the predicted class. Every metric of ``METRICS`` is estimated,
    with its standard error (module docstring).

    Alarm rule (a threshold, so ``p_value`` is None): ``drift`` when the reference realised ``metric`` minus the
    estimate exceeds ``sigmas`` standard errors of that difference, ``sqrt(se_estimate^2 + se_reference^2)``.
    ``statistic`` is that difference in standard errors, ``effect_size`` the difference itself. ``message`` warns
    when the reference calibration error exceeds ``max_calibration_error`` or the map rests on few rows. The method
    assumes the chance of a class given the model's score is as in the reference (covariate shift only): under
    concept drift the estimate is wrong.
    """
    if profile.task != CLASSIFICATION:
        raise ValueError("estimate_performance: needs a classification profile")
    profile._require_calibration("estimate_performance")
    available = METRICS if profile.binary else tuple(name for name in METRICS if "_" in name or name == "accuracy")
    if metric not in available:
        raise ValueError(f"estimate_performance: metric must be one of {available}, got {metric!r}")
    if not sigmas > 0:
        raise ValueError(f"estimate_performance: sigmas must be positive, got {sigmas!r}")
    classes = list(profile.classes)
    codes, labels = _label_codes(y_pred, "y_pred")
    matrix = _proba_matrix(proba, codes.size, len(classes), "proba")
    predicted = _class_indices(codes, labels, classes, "y_pred")
    if predicted.size == 0:
        return DatasetTest("estimated_performance", None, None, None, None, False, {}, "no current rows to estimate")
    expected = expected_confusion(profile.calibrate(matrix), predicted)
    estimated = confusion_metrics(expected, binary=profile.binary)
    errors = {name: metric_standard_error(expected, name, binary=profile.binary) for name in estimated}
    reference = profile.metrics()
    reference_error = metric_standard_error(profile._confusion, metric, binary=profile.binary)
    spread = math.hypot(errors[metric], reference_error)
    drop = reference[metric] - estimated[metric]
    statistic = drop / spread if spread > 0 else (math.inf if drop > 0 else 0.0)
    ece = profile.calibration_error()
    details = {"metric": metric, "rule": f"alarm when reference - estimate > {sigmas:g} standard errors",
               "reference": reference, "estimated": estimated, "standard_error": errors,
               "reference_standard_error": reference_error, "threshold": reference[metric] - sigmas * spread,
               "reference_calibration_error": ece, "calibration_rows": profile.calibration_rows,
               "reference_rows": profile.n, "current_rows": int(predicted.size), "classes": classes,
               "expected_confusion": expected.tolist()}
    return DatasetTest("estimated_performance", statistic, None, None, drop, statistic > sigmas, details,
                       _calibration_warning(profile, ece, max_calibration_error))


# --------------------------------------------------------------------------- metrics


def confusion_metrics(counts: ArrayLike, *, binary: bool) -> dict[str, float]:
    """Metrics of a (possibly expected, fractional) confusion matrix, rows true and columns predicted.

    Macro averages run over the classes present in the truth or the predictions, and a ratio with an empty
    denominator counts as 0, as scikit-learn does by default. ``binary`` adds the positive (second) class's
    ``precision``, ``recall`` and ``f1``.
    """
    shares = _shares(counts)
    names = METRICS if binary else ("accuracy", "macro_precision", "macro_recall", "macro_f1")
    return {name: _metric(shares, name)[0] for name in names}


def metric_standard_error(counts: ArrayLike, metric: str, *, binary: bool) -> float:
    """Delta-method standard error of ``metric`` on a sample of ``counts.sum()`` rows with these cell shares."""
    if metric in ("precision", "recall", "f1") and not binary:
        raise ValueError(f"metric_standard_error: {metric!r} needs a binary confusion matrix")
    matrix = np.asarray(counts, dtype=np.float64)
    n = float(matrix.sum())
    if n <= 0:
        return math.nan
    shares = matrix / n
    gradient = _metric(shares, metric)[1]
    mean = float((shares * gradient).sum())
    variance = float((shares * gradient * gradient).sum()) - mean * mean
    return math.sqrt(max(variance, 0.0) / n)


def expected_confusion(calibrated: NDArray[np.float64], predicted: NDArray[np.intp]) -> NDArray[np.float64]:
    """Expected confusion matrix (rows true, columns predicted) from calibrated class probabilities."""
    k = calibrated.shape[1]
    columns = [np.bincount(predicted, weights=calibrated[:, index], minlength=k) for index in range(k)]
    return np.vstack(columns)


def isotonic(values: NDArray[np.float64], weights: NDArray[np.float64]) -> NDArray[np.float64]:
    """Weighted least-squares non-decreasing fit (pool adjacent violators)."""
    means: list[float] = []
    masses: list[float] = []
    lengths: list[int] = []
    for value, weight in zip(values.tolist(), weights.tolist(), strict=True):
        means.append(value)
        masses.append(weight)
        lengths.append(1)
        while len(means) > 1 and means[-2] > means[-1]:
            mass = masses[-2] + masses[-1]
            means[-2] = (means[-2] * masses[-2] + means[-1] * masses[-1]) / mass
            masses[-2] = mass
            lengths[-2] += lengths[-1]
            del means[-1], masses[-1], lengths[-1]
    return np.repeat(np.array(means, dtype=np.float64), lengths)


def _metric(shares: NDArray[np.float64], name: str) -> tuple[float, NDArray[np.float64]]:
    """A metric of cell shares and its gradient with respect to them."""
    k = shares.shape[0]
    if name == "accuracy":
        return float(np.trace(shares)), np.eye(k)
    hits, truth, predicted = np.diag(shares), shares.sum(axis=1), shares.sum(axis=0)
    if name.startswith("macro_"):
        present = (truth + predicted) > 0
        weight = present / max(int(present.sum()), 1)
        name = name.removeprefix("macro_")
    else:
        weight = np.zeros(k)
        weight[-1] = 1.0  # the positive class of a binary profile
    denominator = {"precision": predicted, "recall": truth, "f1": (truth + predicted) / 2}[name]
    safe = np.where(denominator > 0, denominator, 1.0)
    weight = np.where(denominator > 0, weight, 0.0)
    value = float((weight * hits / safe).sum())
    slope = -weight * hits / safe**2  # d(hits/denominator)/d(denominator)
    gradient = np.diag(weight / safe)
    if name in ("precision", "f1"):
        gradient += slope[None, :] * (0.5 if name == "f1" else 1.0)  # predicted_c sums column c
    if name in ("recall", "f1"):
        gradient += slope[:, None] * (0.5 if name == "f1" else 1.0)  # truth_c sums row c
    return value, gradient


def _shares(counts: ArrayLike) -> NDArray[np.float64]:
    matrix = np.asarray(counts, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"confusion matrix must be square, got shape {matrix.shape}")
    total = matrix.sum()
    if total <= 0:
        raise ValueError("confusion matrix is empty")
    shares: NDArray[np.float64] = matrix / total
    return shares


def _regression_metrics(n: int, sums: NDArray[np.float64]) -> dict[str, float]:
    return {"mae": float(sums[1] / n), "rmse": math.sqrt(sums[2] / n), "bias": float(sums[0] / n)}


def _abs_error_moments(profile: PerformanceProfile) -> tuple[int, float, float]:
    """Rows, mean and sample variance of the absolute error."""
    n, sums = profile._n_regression, profile._sums
    mean = float(sums[1] / n)
    variance = max(float(sums[2] - n * mean * mean), 0.0) / (n - 1) if n > 1 else math.nan
    return n, mean, variance


def _mae_test(profile: PerformanceProfile, current: PerformanceProfile
              ) -> tuple[float, float, float, dict[str, Any]]:
    from scipy import stats  # type: ignore[import-untyped, unused-ignore]

    n1, m1, v1 = _abs_error_moments(profile)
    n2, m2, v2 = _abs_error_moments(current)
    if n1 < 2 or n2 < 2:
        raise ValueError(f"test_performance: the Welch test needs at least 2 rows on each side, got {n1} and {n2}")
    a, b = v1 / n1, v2 / n2
    spread = math.sqrt(a + b)
    if spread > 0:
        statistic = (m2 - m1) / spread
        dof = (a + b) ** 2 / (a * a / (n1 - 1) + b * b / (n2 - 1))
        p_value = float(stats.t.sf(statistic, dof))
    else:
        statistic, p_value = 0.0, 1.0 if m2 <= m1 else 0.0
    effect = (m2 - m1) / m1 if m1 > 0 else (math.inf if m2 > 0 else 0.0)
    details = {"metric": "mae", "reference": profile.metrics(), "current": current.metrics(),
               "reference_rows": n1, "current_rows": n2}
    return statistic, p_value, effect, details


def _accuracy_test(profile: PerformanceProfile, current: PerformanceProfile
                   ) -> tuple[float, float, float, dict[str, Any]]:
    from scipy import stats  # type: ignore[import-untyped, unused-ignore]

    reference, realised = profile.metrics(), current.metrics()
    n1, n2 = profile.n, current.n
    a1, a2 = reference["accuracy"], realised["accuracy"]
    pooled = (a1 * n1 + a2 * n2) / (n1 + n2)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    statistic = (a1 - a2) / spread if spread > 0 else 0.0
    p_value = float(stats.norm.sf(statistic)) if spread > 0 else 1.0
    details = {"metric": "accuracy", "reference": reference, "current": realised,
               "reference_rows": n1, "current_rows": n2, "confusion": current._confusion.tolist(),
               "classes": list(profile.classes)}
    return statistic, p_value, a1 - a2, details


def _calibration_warning(profile: PerformanceProfile, ece: float, limit: float) -> str | None:
    notes = []
    if ece > limit:
        notes.append(f"the reference probabilities are poorly calibrated (ECE {ece:.3f} > {limit:g}); the estimate "
                     "relies on the reference calibration map")
    if profile.calibration_rows < FEW_CALIBRATION_ROWS:
        notes.append(f"the calibration map rests on {profile.calibration_rows} reference rows")
    return "; ".join(notes) or None


def _check_alpha(alpha: float) -> None:
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha!r}")


# --------------------------------------------------------------------------- input checks


def _label_text(value: Any) -> str:
    """Labels as text: integral numbers without a decimal point so 1, 1.0 and "1" meet."""
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _class_key(label: str) -> tuple[int, float, str]:
    """Sort numbers numerically before text alphabetically."""
    try:
        number = float(label)
    except ValueError:
        return (1, 0.0, label)
    return (0, number, label) if math.isfinite(number) else (1, 0.0, label)


def _class_list(classes: Sequence[Any]) -> list[str]:
    if isinstance(classes, str | bytes | Mapping) or not hasattr(classes, "__iter__"):
        raise ValueError(f"classes must be a sequence of labels, got {type(classes).__name__}")
    labels = [_label_text(value) for value in classes]
    if len(labels) < 2 or len(set(labels)) != len(labels):
        raise ValueError(f"classes must hold at least two distinct labels, got {labels}")
    return labels


def _label_codes(values: ArrayLike, name: str) -> tuple[NDArray[np.intp], list[str]]:
    """Codes into the batch's distinct labels (hashed, not sorted: fast on millions of rows) and those labels."""
    import pandas as pd

    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    codes, uniques = pd.factorize(array)
    missing = int(np.count_nonzero(codes < 0))
    if missing:
        raise ValueError(f"{name} has {missing} missing labels (None or NaN)")
    return np.asarray(codes, dtype=np.intp), [_label_text(value) for value in uniques]


def _class_indices(codes: NDArray[np.intp], labels: list[str], classes: list[str], name: str) -> NDArray[np.intp]:
    position = {label: index for index, label in enumerate(classes)}
    unknown = [label for label in labels if label not in position]
    if unknown:
        raise ValueError(f"{name} has labels not among the profile's classes {classes}: {_sample(unknown)}")
    lookup = np.array([position[label] for label in labels], dtype=np.intp)
    return lookup[codes] if codes.size else codes


def _proba_matrix(proba: ArrayLike, rows: int | None, k: int, name: str) -> NDArray[np.float64]:
    """Probabilities as ``rows x k``; binary 1-D input is the positive class."""
    try:
        matrix = np.asarray(proba, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric: {exc}") from exc
    if matrix.ndim == 1:
        if k != 2:
            raise ValueError(f"{name} is 1-D (the positive class's probability), which needs two classes, but "
                             f"there are {k}; give one column per class, or pass classes= to the profile")
        matrix = np.column_stack([1.0 - matrix, matrix])
        flat = True
    elif matrix.ndim == 2 and matrix.shape[1] == k:
        flat = False
    else:
        raise ValueError(f"{name} must have one column per class ({k}), got shape {matrix.shape}")
    if rows is not None and matrix.shape[0] != rows:
        raise ValueError(f"{name} has {matrix.shape[0]} rows but the labels have {rows}")
    if matrix.size and not (matrix.min() >= 0.0 and matrix.max() <= 1.0):  # NaN fails both comparisons
        bad = int(np.count_nonzero((~np.isfinite(matrix) | (matrix < 0) | (matrix > 1)).any(axis=1)))
        raise ValueError(f"{name} has {bad} rows with probabilities that are NaN, infinite or outside [0, 1]")
    if not flat:
        off = int(np.count_nonzero(np.abs(matrix.sum(axis=1) - 1.0) > PROBABILITY_SUM_TOLERANCE))
        if off:
            raise ValueError(f"{name} has {off} rows whose probabilities do not sum to 1")
    return matrix


def _bin_of(values: NDArray[np.float64], bins: int) -> NDArray[np.intp]:
    """Index of the uniform probability bin of each value in [0, 1] (1 falls in the last bin)."""
    cells = (values * bins).astype(np.intp)
    np.minimum(cells, bins - 1, out=cells)
    return cells


def _finite_vector(values: ArrayLike, name: str) -> NDArray[np.float64]:
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric: {exc}") from exc
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    bad = int(np.count_nonzero(~np.isfinite(array)))
    if bad:
        raise ValueError(f"{name} has {bad} values that are NaN or infinite")
    return array


def _same_length(left: NDArray[Any], right: NDArray[Any], left_name: str, right_name: str) -> None:
    if left.shape[0] != right.shape[0]:
        raise ValueError(f"{left_name} has {left.shape[0]} rows but {right_name} has {right.shape[0]}")


def _sample(labels: Any, limit: int = 5) -> str:
    shown = sorted(labels, key=_class_key)
    more = f" and {len(shown) - limit} more" if len(shown) > limit else ""
    return ", ".join(repr(label) for label in shown[:limit]) + more


def _merged_classes(left: PerformanceProfile, right: PerformanceProfile) -> list[str]:
    for fixed, other in ((left, right), (right, left)):
        if fixed._fixed:
            extra = set(other._classes) - set(fixed._classes)
            if extra or (other._fixed and other._classes != fixed._classes):
                raise ValueError(f"PerformanceProfile.merge: classes differ: {left._classes} vs {right._classes}")
            return list(fixed._classes)
    return sorted(set(left._classes) | set(right._classes), key=_class_key)


# --------------------------------------------------------------------------- serialised values


def _key(data: Mapping[str, Any], key: str, kind: type) -> Any:
    value = data.get(key)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if kind is float and isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"performance profile: {key!r} must be finite, got {value!r}")
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise ValueError(f"performance profile: {key!r} must be {kind.__name__}, got {value!r}")
    return value


def _stored_classes(data: Mapping[str, Any]) -> list[str]:
    classes: list[Any] = _key(data, "classes", list)
    if any(not isinstance(label, str) for label in classes) or len(set(classes)) != len(classes):
        raise ValueError(f"performance profile: 'classes' must be distinct strings, got {classes!r}")
    return classes


def _count(data: Mapping[str, Any], key: str) -> int:
    value: int = _key(data, key, int)
    if value < 0:
        raise ValueError(f"performance profile: {key!r} must be non-negative, got {value}")
    return value


def _nested(value: Any, key: str, shape: tuple[int, int]) -> list[Any]:
    if not isinstance(value, list) or len(value) != shape[0] or any(
            not isinstance(row, list) or len(row) != shape[1] for row in value):
        raise ValueError(f"performance profile: {key!r} must be a {shape[0]} x {shape[1]} list of lists")
    return [item for row in value for item in row]


def _int_matrix(value: Any, key: str, shape: tuple[int, int]) -> NDArray[np.int64]:
    items = _nested(value, key, shape)
    if any(isinstance(item, bool) or not isinstance(item, int) or item < 0 for item in items):
        raise ValueError(f"performance profile: {key!r} must hold non-negative integers")
    return np.array(items, dtype=np.int64).reshape(shape)


def _float_matrix(value: Any, key: str, shape: tuple[int, int]) -> NDArray[np.float64]:
    items = _nested(value, key, shape)
    if any(isinstance(item, bool) or not isinstance(item, int | float) or not math.isfinite(item) for item in items):
        raise ValueError(f"performance profile: {key!r} must hold finite numbers")
    return np.array(items, dtype=np.float64).reshape(shape)
