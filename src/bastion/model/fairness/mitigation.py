"""Bias mitigations, each judged before and after on the same held-out rows.

- ``reweighing``: Kamiran & Calders' weights w(s, y) = P(s) P(y) / P(s, y) (``reweighing_weights``), which make the
  label independent of the group in the weighted training data; the model is refitted with them.
- ``threshold``: Fairlearn's ``ThresholdOptimizer`` on the fitted baseline (``prefit=True``): group-specific
  thresholds on its probabilities chosen under a parity constraint. It needs the sensitive attribute at prediction.
- ``exponentiated_gradient``: Fairlearn's ``ExponentiatedGradient``, a randomised mixture of models refitted with
  reweighted rows under a parity constraint.

Fairlearn's algorithms are called, not rewritten. ``Mitigation.run`` splits the table (stratified, seeded), fits a
plain baseline (a clone of the estimator) and the mitigated model on the training rows, and reports accuracy and
the fairness metrics of ``FairnessTest`` for both on the test rows. The target is reduced to positive-vs-rest
(1/0) for every model, as the reductions require. Sample weights reach a ``Pipeline``'s final step as
``step__sample_weight``, which is how scikit-learn's ``Pipeline.fit`` routes them (it refuses a bare
``sample_weight``) and what ``ExponentiatedGradient(sample_weight_name=...)`` passes.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from bastion.data.files import DataError
from bastion.model.fairness.groups import GroupIndex
from bastion.model.fairness.values import check_roles, finite, json_value, sorted_values, value_key
from bastion.model.tabular import TabularModel, require_columns

if TYPE_CHECKING:
    import pandas as pd

METHODS = ("reweighing", "threshold", "exponentiated_gradient")
"""Mitigation methods."""
THRESHOLD_CONSTRAINTS = ("demographic_parity", "equalized_odds", "true_positive_rate_parity",
                         "false_positive_rate_parity", "true_negative_rate_parity", "false_negative_rate_parity")
"""Constraints of Fairlearn's ``ThresholdOptimizer`` (``selection_rate_parity`` is ``demographic_parity``)."""
REDUCTION_CONSTRAINTS = ("demographic_parity", "equalized_odds", "true_positive_rate_parity",
                         "false_positive_rate_parity", "error_rate_parity")
"""Constraints of Fairlearn's ``ExponentiatedGradient``, by the names of its moments."""
OBJECTIVES = ("accuracy_score", "balanced_accuracy_score")
"""What ``ThresholdOptimizer`` maximises under its constraint."""


# ---- reweighing ----


def reweighing_weights(sensitive: Any, labels: Any, positive: object | None = None,
                       sample_weight: Any = None) -> np.ndarray:
    """Kamiran & Calders weights ``P(s) P(y) / P(s, y)`` per row, (n,) float64.

    ``sensitive``: a ``GroupIndex``, a DataFrame or mapping of columns (their intersection makes the groups) or one
    column. ``labels``: the target; with ``positive`` it is reduced to positive-vs-rest, otherwise each label is its
    own class. ``sample_weight``: instance weights that the probabilities are counted with and the result is
    multiplied by, as AIF360's ``Reweighing`` does with ``instance_weights``. ``ValueError`` naming the argument.
    """
    index = sensitive if isinstance(sensitive, GroupIndex) else GroupIndex.from_columns(sensitive)
    y = _label_codes(labels, index.rows, positive)
    w = np.ones(index.rows) if sample_weight is None else _weights(sample_weight, index.rows)
    k = int(y.max()) + 1
    n_s = np.bincount(index.codes, weights=w, minlength=index.n_groups)
    n_y = np.bincount(y, weights=w, minlength=k)
    n_sy = np.bincount(index.codes * k + y, weights=w, minlength=index.n_groups * k)[index.codes * k + y]
    n = w.sum()
    if n <= 0:
        raise ValueError("sample_weight: the weights sum to zero")
    with np.errstate(divide="ignore", invalid="ignore"):
        cell = n_y[y] * n_s[index.codes] / (n * n_sy)  # AIF360's order of operations: n_fav * n_p / (n * n_p_fav)
    return np.where(n_sy > 0, cell, 0.0) * w


def _label_codes(labels: Any, rows: int, positive: object | None) -> np.ndarray:
    import pandas as pd

    values = np.asarray(labels, dtype=object).ravel()
    if len(values) != rows:
        raise ValueError(f"labels: {len(values)} values for {rows} rows of sensitive groups")
    missing = np.flatnonzero(np.asarray(pd.isna(values), dtype=bool))
    if len(missing):
        raise ValueError(f"labels: missing at row {int(missing[0])} ({len(missing)} rows)")
    codes, uniques = pd.factorize(values, sort=False)
    if positive is None:
        return np.asarray(codes, dtype=np.int64)
    hits = np.array([value_key(u) == value_key(positive) for u in uniques], dtype=np.int64)
    if not hits.any():
        raise ValueError(f"positive: {positive!r} is not one of the labels")
    return np.asarray(hits[codes], dtype=np.int64)


def _weights(sample_weight: Any, rows: int) -> np.ndarray:
    try:
        w = np.asarray(sample_weight, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        raise ValueError("sample_weight: give numbers") from None
    if len(w) != rows:
        raise ValueError(f"sample_weight: {len(w)} values for {rows} rows")
    bad = np.flatnonzero(~np.isfinite(w) | (w < 0))
    if len(bad):
        raise ValueError(f"sample_weight: row {int(bad[0])} holds {w[bad[0]]!r}; weights are finite and >= 0")
    return w


# ---- results ----


@dataclass(frozen=True)
class Evaluation:
    """One model's numbers on the test rows."""

    accuracy: float
    """Share of test rows predicted right (positive-vs-rest)."""
    balanced_accuracy: float
    """Mean of the true positive and true negative rates."""
    selection_rate: float
    """Share of test rows predicted positive."""
    metrics: dict[str, float]
    """Fairness metrics of ``FairnessTest`` (Fairlearn's names), without bootstrap."""

    def to_dict(self) -> dict[str, Any]:
        """``{"accuracy", "balanced_accuracy", "selection_rate", "metrics"}`` (NaN as ``null``)."""
        return {"accuracy": finite(self.accuracy), "balanced_accuracy": finite(self.balanced_accuracy),
                "selection_rate": finite(self.selection_rate),
                "metrics": {k: finite(v) for k, v in self.metrics.items()}}


@dataclass(frozen=True)
class MitigationResult:
    """A mitigation's before and after on the same test rows."""

    method: str
    """``reweighing``, ``threshold`` or ``exponentiated_gradient``."""
    constraint: str
    """The parity constraint applied (reweighing equalises base rates: ``demographic_parity``)."""
    positive: object
    """The label counted as positive (the models predict it against the rest)."""
    features: tuple[str, ...]
    """Columns the models were fitted on."""
    sensitive: tuple[str, ...]
    """Sensitive columns (their intersection makes the groups)."""
    train_rows: int
    """Rows the models were fitted on."""
    test_rows: int
    """Rows they were judged on."""
    before: Evaluation
    """The baseline: a clone of the estimator fitted plainly."""
    after: Evaluation
    """The mitigated model."""
    warnings: tuple[str, ...] = field(default=())
    """Small groups in the test rows and other caveats."""
    baseline: Any = field(default=None, repr=False, compare=False)
    """The fitted baseline model."""
    model: Any = field(default=None, repr=False, compare=False)
    """The fitted mitigated model (Fairlearn's object for ``threshold`` and ``exponentiated_gradient``)."""

    @property
    def change(self) -> dict[str, float | None]:
        """after - before for accuracy, balanced accuracy, selection rate and each fairness metric."""
        before, after = self._flat(self.before), self._flat(self.after)
        return {k: None if finite(before[k]) is None or finite(after.get(k)) is None else after[k] - before[k]
                for k in before if k in after}

    @staticmethod
    def _flat(evaluation: Evaluation) -> dict[str, float]:
        return {"accuracy": evaluation.accuracy, "balanced_accuracy": evaluation.balanced_accuracy,
                "selection_rate": evaluation.selection_rate, **evaluation.metrics}

    def to_dict(self) -> dict[str, Any]:
        """``{"method", "constraint", "positive", "features", "sensitive", "train_rows", "test_rows", "before",
        "after", "change", "warnings"}``."""
        return {"method": self.method, "constraint": self.constraint, "positive": json_value(self.positive),
                "features": list(self.features), "sensitive": list(self.sensitive), "train_rows": self.train_rows,
                "test_rows": self.test_rows, "before": self.before.to_dict(), "after": self.after.to_dict(),
                "change": {k: finite(v) for k, v in self.change.items()}, "warnings": list(self.warnings)}


# ---- the mitigation ----


@dataclass(frozen=True)
class _Split:
    """The training and test rows of one run."""

    x_train: pd.DataFrame
    """Feature columns of the training rows."""
    x_test: pd.DataFrame
    """Feature columns of the test rows."""
    y_train: np.ndarray
    """1 for the positive label, else 0, on the training rows."""
    y_test: np.ndarray
    """The same on the test rows."""
    groups_train: np.ndarray
    """Intersectional group code of each training row (what Fairlearn gets as ``sensitive_features``)."""
    groups_test: np.ndarray
    """The same on the test rows."""
    sensitive_test: pd.DataFrame
    """The sensitive columns of the test rows, for ``FairnessTest``."""


class Mitigation:
    """Configure one mitigation; ``run`` fits the baseline and the mitigated model and compares them.

    ``constraint``: for ``threshold`` one of ``THRESHOLD_CONSTRAINTS``, for ``exponentiated_gradient`` one of
    ``REDUCTION_CONSTRAINTS``; reweighing takes any of them and always equalises base rates. ``test_size``: share of
    rows held out. ``positive``: the favourable label (default: the greater of two). ``eps`` and ``max_iter``:
    ``ExponentiatedGradient``'s allowed constraint violation and iterations. ``grid_size`` and ``objective``:
    ``ThresholdOptimizer``'s threshold grid and what it maximises. Estimator parameters named ``random_state``
    that are ``None`` are set to ``seed`` so that a run is repeatable.
    """

    def __init__(self, method: str, *, constraint: str = "demographic_parity", test_size: float = 0.3, seed: int = 0,
                 positive: object | None = None, eps: float = 0.01, max_iter: int = 50, grid_size: int = 1000,
                 objective: str = "accuracy_score", min_group_size: int = 30) -> None:
        if method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
        allowed = {"threshold": THRESHOLD_CONSTRAINTS, "exponentiated_gradient": REDUCTION_CONSTRAINTS}.get(
            method, tuple(dict.fromkeys(THRESHOLD_CONSTRAINTS + REDUCTION_CONSTRAINTS)))
        if constraint not in allowed:
            raise ValueError(f"constraint must be one of {', '.join(allowed)} for {method}, got {constraint!r}")
        if isinstance(test_size, bool) or not isinstance(test_size, (int, float)) or not 0 < test_size < 1:
            raise ValueError(f"test_size must be a number between 0 and 1, got {test_size!r}")
        if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not 0 < eps < 1:
            raise ValueError(f"eps must be a number between 0 and 1, got {eps!r}")
        if objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {', '.join(OBJECTIVES)}, got {objective!r}")
        for name, value, low in (("seed", seed, 0), ("max_iter", max_iter, 1), ("grid_size", grid_size, 2),
                                 ("min_group_size", min_group_size, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        self.method = method
        self.constraint = constraint
        self.test_size = float(test_size)
        self.seed = seed
        self.positive = positive
        self.eps = float(eps)
        self.max_iter = max_iter
        self.grid_size = grid_size
        self.objective = objective
        self.min_group_size = min_group_size

    def run(self, estimator: Any, frame: pd.DataFrame, target: str, sensitive: Sequence[str] | str, *,
            features: Sequence[str] | None = None) -> MitigationResult:
        """Fit and judge the baseline and the mitigated model on ``frame``.

        ``estimator``: a scikit-learn classifier or pipeline, fitted or not (it is cloned). ``features``: the
        columns it takes; by default its ``feature_names_in_``, else every column but the target and the sensitive
        ones (or every column but the target when that matches its ``n_features_in_``).
        """
        estimator = _sklearn_estimator(estimator, self.method)
        sensitive = [sensitive] if isinstance(sensitive, str) else [str(c) for c in sensitive]
        y, positive = self._target(frame, target, sensitive)
        columns = _features(estimator, frame, target, sensitive, features)
        split = self._split(frame, columns, y, sensitive)
        baseline = self._fit(estimator, split)
        model, predicted = self._mitigate(estimator, baseline, split)
        before, _ = self._evaluate(split, np.asarray(baseline.predict(split.x_test)).astype(np.int64))
        after, notes = self._evaluate(split, predicted)
        constraint = "demographic_parity" if self.method == "reweighing" else self.constraint
        return MitigationResult(method=self.method, constraint=constraint, positive=positive, features=columns,
                                sensitive=tuple(sensitive), train_rows=len(split.y_train),
                                test_rows=len(split.y_test), before=before, after=after,
                                warnings=tuple(self._notes() + notes), baseline=baseline, model=model)

    # ---- steps ----

    def _target(self, frame: Any, target: str, sensitive: list[str]) -> tuple[np.ndarray, object]:
        import pandas as pd

        if not isinstance(frame, pd.DataFrame):
            raise ValueError(f"frame: give a pandas DataFrame, not {type(frame).__name__}")
        check_roles(frame, target, sensitive)
        values = frame[target].to_numpy(dtype=object)
        empty = np.flatnonzero(np.asarray(pd.isna(values), dtype=bool))
        if len(empty):
            raise DataError(f"target column {target!r} is empty at row {int(empty[0])} ({len(empty)} rows)")
        labels = sorted_values(values)
        if self.positive is not None:
            match = [v for v in labels if value_key(v) == value_key(self.positive)]
            if not match:
                raise ValueError(f"positive: {self.positive!r} is not a label of {target!r} "
                                 f"(labels: {[str(v) for v in labels[:10]]})")
            positive = match[0]
        elif len(labels) == 2:
            positive = labels[1]
        else:
            raise ValueError(f"target column {target!r} has {len(labels)} label(s): mitigation needs two, or name the "
                             f"positive one (positive=...) to test it against the rest")
        codes, uniques = pd.factorize(values, sort=False)
        y = np.array([value_key(u) == value_key(positive) for u in uniques], dtype=np.int64)[codes]
        if y.min() == y.max():
            raise ValueError(f"target column {target!r}: every row is {'' if y[0] else 'not '}{positive!r}")
        return y, positive

    def _split(self, frame: pd.DataFrame, columns: tuple[str, ...], y: np.ndarray, sensitive: list[str]) -> _Split:
        from sklearn.model_selection import train_test_split

        index = GroupIndex.from_columns(frame[sensitive])
        rows = np.arange(len(frame))
        strata = index.codes * 2 + y
        cells = np.bincount(strata)
        if cells[cells > 0].min() < 2:
            strata = y  # a group x label cell of one row cannot be split: stratify by the label alone
        try:
            train, test = train_test_split(rows, test_size=self.test_size, random_state=self.seed, stratify=strata)
        except ValueError as exc:
            raise ValueError(f"test_size={self.test_size}: cannot split {len(frame)} rows into training and test "
                             f"rows holding both labels ({exc})") from None
        train, test = np.sort(train), np.sort(test)
        x = frame[list(columns)]
        return _Split(x_train=x.iloc[train], x_test=x.iloc[test], y_train=y[train], y_test=y[test],
                      groups_train=index.codes[train], groups_test=index.codes[test],
                      sensitive_test=frame[sensitive].iloc[test].reset_index(drop=True))

    def _fit(self, estimator: Any, split: _Split, sample_weight: np.ndarray | None = None) -> Any:
        from sklearn.base import clone

        model = _seeded(clone(estimator), self.seed)
        kwargs = {} if sample_weight is None else {_weight_name(estimator, self.method): sample_weight}
        try:
            model.fit(split.x_train, split.y_train, **kwargs)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{self.method}: fitting {type(estimator).__name__} failed: {_last_line(exc)}") from exc
        return model

    def _mitigate(self, estimator: Any, baseline: Any, split: _Split) -> tuple[Any, np.ndarray]:
        if self.method == "reweighing":
            weights = reweighing_weights(GroupIndex.from_columns(split.groups_train), split.y_train)
            model = self._fit(estimator, split, weights)
            return model, np.asarray(model.predict(split.x_test)).astype(np.int64)
        if self.method == "threshold":
            return self._threshold(baseline, split)
        return self._reduction(estimator, split)

    def _threshold(self, baseline: Any, split: _Split) -> tuple[Any, np.ndarray]:
        from fairlearn.postprocessing import ThresholdOptimizer

        method = next((m for m in ("predict_proba", "decision_function") if hasattr(baseline, m)), None)
        if method is None:
            raise ValueError(f"threshold: {type(baseline).__name__} gives no scores (predict_proba or "
                             f"decision_function) to set thresholds on")
        optimizer = ThresholdOptimizer(estimator=baseline, constraints=self.constraint, objective=self.objective,
                                       grid_size=self.grid_size, predict_method=method, prefit=True)
        try:
            with _quiet_fairlearn():
                optimizer.fit(split.x_train, split.y_train, sensitive_features=split.groups_train)
                predicted = optimizer.predict(split.x_test, sensitive_features=split.groups_test,
                                              random_state=self.seed)
        except ValueError as exc:
            raise ValueError(f"threshold: Fairlearn's ThresholdOptimizer failed: {_last_line(exc)}") from exc
        return optimizer, np.asarray(predicted).astype(np.int64)

    def _reduction(self, estimator: Any, split: _Split) -> tuple[Any, np.ndarray]:
        from fairlearn.reductions import ExponentiatedGradient
        from sklearn.base import clone

        reduction = ExponentiatedGradient(_seeded(clone(estimator), self.seed), constraints=_moment(self.constraint),
                                          eps=self.eps, max_iter=self.max_iter,
                                          sample_weight_name=_weight_name(estimator, self.method))
        try:
            with _quiet_fairlearn():
                reduction.fit(split.x_train, split.y_train, sensitive_features=split.groups_train)
                predicted = reduction.predict(split.x_test, random_state=self.seed)
        except ValueError as exc:
            raise ValueError(f"exponentiated_gradient: Fairlearn's ExponentiatedGradient failed: "
                             f"{_last_line(exc)}") from exc
        return reduction, np.asarray(predicted).astype(np.int64)

    def _evaluate(self, split: _Split, predicted: np.ndarray) -> tuple[Evaluation, list[str]]:
        from bastion.model.fairness.report import FairnessTest

        report = FairnessTest(positive=1, min_group_size=self.min_group_size, resamples=0, seed=self.seed,
                              task="classification").run(split.y_test, predicted, split.sensitive_test)
        y = split.y_test
        tpr = float(np.mean(predicted[y == 1] == 1))
        tnr = float(np.mean(predicted[y == 0] == 0))
        evaluation = Evaluation(accuracy=float(np.mean(predicted == y)), balanced_accuracy=(tpr + tnr) / 2,
                                selection_rate=float(np.mean(predicted)), metrics=dict(report.metrics))
        return evaluation, list(report.warnings)

    def _notes(self) -> list[str]:
        notes = []
        if self.method == "threshold":
            notes.append("threshold: the mitigated model reads the sensitive attribute at prediction time")
        if self.method in ("threshold", "exponentiated_gradient"):
            notes.append(f"{self.method}: predictions are randomised (seeded with {self.seed})")
        return notes


# ---- estimators ----


def _sklearn_estimator(estimator: Any, method: str) -> Any:
    """The scikit-learn classifier inside ``estimator``; ``ValueError`` for anything that cannot be refitted."""
    if isinstance(estimator, TabularModel):
        if estimator.estimator is None:
            raise ValueError(f"{method}: {estimator.name} is a torch or ONNX model, which cannot be refitted or "
                             f"re-thresholded here; mitigations need a scikit-learn classifier")
        estimator = estimator.estimator
    if not all(hasattr(estimator, a) for a in ("fit", "predict", "get_params")):
        raise ValueError(f"{method}: a {type(estimator).__name__} is not a scikit-learn estimator (fit, predict, "
                         f"get_params); mitigations refit the model, so they need one")
    from sklearn.base import is_regressor

    if is_regressor(estimator):
        raise ValueError(f"{method}: {type(estimator).__name__} is a regressor; mitigations are for classifiers")
    return estimator


def _weight_name(estimator: Any, method: str) -> str:
    """The ``fit`` keyword that carries sample weights (``step__sample_weight`` through pipelines)."""
    from sklearn.pipeline import Pipeline
    from sklearn.utils.validation import has_fit_parameter

    if isinstance(estimator, Pipeline):
        name, last = estimator.steps[-1]
        if last is None or last == "passthrough":
            raise ValueError(f"{method}: the pipeline's last step {name!r} is not an estimator")
        return f"{name}__{_weight_name(last, method)}"
    if not has_fit_parameter(estimator, "sample_weight"):
        raise ValueError(f"{method}: {type(estimator).__name__}.fit takes no sample_weight, which {method} needs; "
                         f"use method='threshold', or a classifier that takes weights")
    return "sample_weight"


def _seeded(estimator: Any, seed: int) -> Any:
    """Set every unset ``random_state`` (the estimator's and its steps') to ``seed``."""
    unset = {k: seed for k, v in estimator.get_params(deep=True).items()
             if (k == "random_state" or k.endswith("__random_state")) and v is None}
    return estimator.set_params(**unset) if unset else estimator


def _features(estimator: Any, frame: pd.DataFrame, target: str, sensitive: list[str],
              features: Sequence[str] | None) -> tuple[str, ...]:
    """The columns the estimator takes: as given, as it was fitted on, or chosen by its feature count."""
    known = getattr(estimator, "feature_names_in_", None)
    if features is not None:
        columns = [str(c) for c in features]
    elif known is not None:
        columns = [str(c) for c in known]
    else:
        without_all = [str(c) for c in frame.columns if c != target and c not in sensitive]
        without_target = [str(c) for c in frame.columns if c != target]
        count = getattr(estimator, "n_features_in_", None)
        columns = without_target if count is not None and count == len(without_target) else without_all
        if count is not None and count != len(columns):
            raise ValueError(f"the estimator takes {count} features; the data has {len(without_all)} columns besides "
                             f"the target and sensitive ones: name them with features=")
    if not columns:
        raise ValueError("features: no columns left to fit on")
    if target in columns:
        raise ValueError(f"features: the target column {target!r} cannot be a feature")
    require_columns(frame, columns, "feature column")
    return tuple(columns)


@contextmanager
def _quiet_fairlearn() -> Iterator[None]:
    """Hide the deprecation warnings that Fairlearn 0.15 triggers in pandas 3 (about pandas, not about the data)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning, module=r"fairlearn\.")
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"fairlearn\.")
        yield


def _moment(constraint: str) -> Any:
    from fairlearn.reductions import (
        DemographicParity,
        EqualizedOdds,
        ErrorRateParity,
        FalsePositiveRateParity,
        TruePositiveRateParity,
    )

    moments: Mapping[str, Any] = {"demographic_parity": DemographicParity, "equalized_odds": EqualizedOdds,
                                  "true_positive_rate_parity": TruePositiveRateParity,
                                  "false_positive_rate_parity": FalsePositiveRateParity,
                                  "error_rate_parity": ErrorRateParity}
    return moments[constraint]()


# ---- helpers ----






def _last_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[-1][:300] if text else type(exc).__name__
