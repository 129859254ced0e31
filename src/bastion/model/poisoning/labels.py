"""Label issues by confident learning (Northcutt, Jiang and Chuang, JAIR 2021) on out-of-fold probabilities.

A row is a label issue when a model that never saw it is confident that it belongs to another class, and the
number of such rows per (given, true) pair agrees with the estimated joint distribution of noisy and true labels.
Everything here follows the probability model: with poor out-of-fold probabilities the suspects are poor too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

WARNING = ("Label issues are only as good as the out-of-fold probabilities they come from: a weak or over-confident "
           "model flags hard but correct rows and misses real flips. Review suspects before relabelling or "
           "dropping them.")
"""The caveat every ``LabelIssues`` carries, for reports."""

ESTIMATORS = ("random_forest", "hist_gradient_boosting", "logistic_regression")
"""Names ``out_of_fold_probabilities`` accepts for its ``estimator`` besides a scikit-learn classifier."""

METHODS = ("prune_by_noise_rate", "prune_by_class", "confident_joint", "both")
"""How ``LabelIssueFinder`` selects issues from the confident joint (see the class docstring)."""

RANKINGS = ("self_confidence", "normalized_margin")
"""How ``LabelIssueFinder`` orders and scores the issues it found."""


class LabelIssueError(ValueError):
    """Probabilities or labels that confident learning cannot use; the message names the parameter."""


def make_estimator(name: str, seed: int = 0, n_jobs: int = 1) -> Any:
    """A fresh, seeded scikit-learn classifier for one of ``ESTIMATORS``."""
    if name == "random_forest":
        from sklearn.ensemble import RandomForestClassifier

        return RandomForestClassifier(n_estimators=300, random_state=seed, n_jobs=n_jobs)
    if name == "hist_gradient_boosting":
        from sklearn.ensemble import HistGradientBoostingClassifier

        return HistGradientBoostingClassifier(random_state=seed)
    if name == "logistic_regression":
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    raise LabelIssueError(f"estimator must be a scikit-learn classifier or one of {ESTIMATORS}, not {name!r}")


def out_of_fold_probabilities(x: Any, y: Any, *, estimator: Any = "random_forest", folds: int = 5, seed: int = 0,
                              n_jobs: int = 1) -> np.ndarray:
    """Class probabilities ``(n, k)`` for every row from a model trained on the other folds (stratified K-fold).

    ``estimator`` is a name from ``ESTIMATORS`` (seeded with ``seed``; ``None`` means ``"random_forest"``, 300
    trees) or any unfitted scikit-learn classifier with ``predict_proba`` (cloned per fold). Columns follow
    ``np.unique(y)``, so class indices ``0..k-1`` map to themselves. Folds run in parallel over ``n_jobs`` processes.
    """
    from joblib import Parallel, delayed
    from sklearn.base import clone
    from sklearn.model_selection import StratifiedKFold

    data, classes, codes = _check_xy(x, y)
    if not isinstance(folds, int) or isinstance(folds, bool) or folds < 2:
        raise LabelIssueError(f"folds must be an integer >= 2, got {folds!r}")
    counts = np.bincount(codes, minlength=len(classes))
    if counts.min() < folds:
        small = classes[int(counts.argmin())]
        raise LabelIssueError(f"y: class {small!r} has {int(counts.min())} rows, fewer than folds={folds}; "
                              f"lower folds or drop the class")
    if estimator is None or isinstance(estimator, str):
        estimator = make_estimator(estimator or "random_forest", seed, n_jobs=1)
    elif not hasattr(estimator, "fit") or not hasattr(estimator, "predict_proba"):
        raise LabelIssueError(f"estimator {type(estimator).__name__} has no fit/predict_proba")
    splits = list(StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(data, codes))
    parts = Parallel(n_jobs=n_jobs)(delayed(_fold)(clone(estimator), data, codes, train, test, len(classes))
                                    for train, test in splits)
    proba = np.zeros((len(codes), len(classes)))
    for (_, test), part in zip(splits, parts, strict=True):
        proba[test] = part
    return proba


def _fold(estimator: Any, x: np.ndarray, codes: np.ndarray, train: np.ndarray, test: np.ndarray,
          n_classes: int) -> np.ndarray:
    estimator.fit(x[train], codes[train])
    out = np.zeros((len(test), n_classes))
    # every class is in every training fold (checked), but a custom estimator may reorder classes_
    out[:, np.asarray(estimator.classes_, dtype=np.int64)] = estimator.predict_proba(x[test])
    return out


def _check_xy(x: Any, y: Any) -> tuple[Any, np.ndarray, np.ndarray]:
    labels = np.asarray(y)
    if labels.ndim != 1:
        raise LabelIssueError(f"y must be 1-D, got shape {labels.shape}")
    if len(x) != len(labels):
        raise LabelIssueError(f"x has {len(x)} rows but y has {len(labels)}")
    classes, codes = np.unique(labels, return_inverse=True)
    if len(classes) < 2:
        raise LabelIssueError("y must hold at least 2 classes")
    data = x if hasattr(x, "iloc") else np.asarray(x).reshape(len(labels), -1)
    return data, classes, codes.astype(np.int64)


@dataclass(frozen=True)
class LabelIssues:
    """Rows whose given label confident learning doubts, most suspect first."""

    rows: np.ndarray
    """Indices of the suspect rows, ordered by ``score`` descending (most suspect first)."""
    given: np.ndarray
    """The label each suspect row was given (class index)."""
    suggested: np.ndarray
    """The class the probability model prefers for each suspect row (argmax of its probabilities)."""
    score: np.ndarray
    """Suspicion per suspect row in [0, 1]; higher is more suspect (1 - self-confidence or 1 - normalised margin)."""
    confident_joint: np.ndarray = field(repr=False)
    """Calibrated confident joint ``(k, k)``: estimated row counts with given label i (row) and true label j."""
    noise_matrix: np.ndarray = field(repr=False)
    """Estimated P(given = i | true = j) ``(k, k)``; columns sum to 1 (classes with no estimate keep identity)."""
    thresholds: np.ndarray = field(repr=False)
    """Per-class thresholds: mean probability of class j over rows given label j."""
    method: str = "prune_by_noise_rate"
    """The selection method used."""
    warning: str = WARNING
    """Caveat for reports: quality follows the probability model."""

    def __len__(self) -> int:
        return len(self.rows)

    def mask(self, n: int) -> np.ndarray:
        """Boolean mask of length ``n`` that is True for suspect rows."""
        out = np.zeros(n, dtype=bool)
        out[self.rows] = True
        return out


class LabelIssueFinder:
    """Confident learning over out-of-fold probabilities.

    Methods: ``prune_by_noise_rate`` removes, for every off-diagonal cell (given i, true j) of the calibrated
    confident joint, that many rows given i with the largest margin ``p[j] - p[i]``; ``prune_by_class`` removes, per
    given class, as many rows as the joint says are mislabelled, lowest self-confidence first; ``confident_joint``
    flags the rows counted off the diagonal of the joint; ``both`` keeps rows that ``prune_by_noise_rate`` and
    ``prune_by_class`` agree on. A row whose argmax equals its given label is never an issue.
    """

    def __init__(self, method: str = "prune_by_noise_rate", ranking: str = "self_confidence", *,
                 min_examples_per_class: int = 1) -> None:
        if method not in METHODS:
            raise LabelIssueError(f"method must be one of {METHODS}, not {method!r}")
        if ranking not in RANKINGS:
            raise LabelIssueError(f"ranking must be one of {RANKINGS}, not {ranking!r}")
        if min_examples_per_class < 0:
            raise LabelIssueError(f"min_examples_per_class must be >= 0, got {min_examples_per_class}")
        self.method = method
        self.ranking = ranking
        self.min_examples_per_class = min_examples_per_class

    def find(self, probabilities: Any, labels: Any) -> LabelIssues:
        """Label issues for ``labels`` (class indices ``0..k-1``) given out-of-fold ``probabilities`` ``(n, k)``."""
        proba, given = _check_proba(probabilities, labels)
        k = proba.shape[1]
        thresholds = per_class_thresholds(proba, given)
        joint, confident, guess = confident_joint(proba, given, thresholds)
        prune = _prune_counts(joint, given, k, self.min_examples_per_class)
        if self.method == "prune_by_noise_rate":
            issues = _prune_by_noise_rate(proba, given, prune)
        elif self.method == "prune_by_class":
            issues = _prune_by_class(proba, given, prune)
        elif self.method == "confident_joint":
            issues = confident & (guess != given)
        else:
            issues = _prune_by_noise_rate(proba, given, prune) & _prune_by_class(proba, given, prune)
        issues &= proba.argmax(axis=1) != given
        rows = np.flatnonzero(issues)
        score = self._score(proba[rows], given[rows])
        order = np.argsort(-score, kind="stable")
        rows, score = rows[order], score[order]
        return LabelIssues(rows=rows, given=given[rows], suggested=proba[rows].argmax(axis=1), score=score,
                           confident_joint=joint, noise_matrix=_noise_matrix(joint), thresholds=thresholds,
                           method=self.method)

    def _score(self, proba: np.ndarray, given: np.ndarray) -> np.ndarray:
        self_conf = proba[np.arange(len(given)), given]
        if self.ranking == "self_confidence":
            return np.asarray(1.0 - self_conf)
        other = proba.copy()
        other[np.arange(len(given)), given] = -np.inf
        margin = self_conf - other.max(axis=1) if len(given) else np.zeros(0)
        return np.asarray(1.0 - (margin + 1.0) / 2.0)


def _check_proba(probabilities: Any, labels: Any) -> tuple[np.ndarray, np.ndarray]:
    proba = np.asarray(probabilities, dtype=np.float64)
    if proba.ndim != 2 or proba.shape[1] < 2:
        raise LabelIssueError(f"probabilities must be (n, k) with k >= 2, got shape {proba.shape}")
    if not np.all(np.isfinite(proba)) or proba.min() < 0:
        raise LabelIssueError("probabilities must be finite and non-negative")
    given = np.asarray(labels)
    if given.shape != (len(proba),):
        raise LabelIssueError(f"labels must be 1-D with {len(proba)} entries, got shape {given.shape}")
    if given.dtype.kind not in "iub" and not (given.dtype.kind == "f" and np.all(given == np.round(given))):
        raise LabelIssueError("labels must be class indices 0..k-1 (use model.encode_labels)")
    given = given.astype(np.int64)
    if len(given) and (given.min() < 0 or given.max() >= proba.shape[1]):
        raise LabelIssueError(f"labels must lie in 0..{proba.shape[1] - 1}, got {given.min()}..{given.max()}")
    return proba, given


def per_class_thresholds(proba: np.ndarray, given: np.ndarray) -> np.ndarray:
    """Mean self-confidence per given class; classes without rows get threshold 1 (nothing confidently there)."""
    k = proba.shape[1]
    counts = np.bincount(given, minlength=k)
    sums = np.bincount(given, weights=proba[np.arange(len(given)), given], minlength=k)
    return np.where(counts > 0, sums / np.maximum(counts, 1), 1.0)


def confident_joint(proba: np.ndarray, given: np.ndarray,
                    thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Calibrated confident joint, the mask of rows counted in it, and the class each was counted under.

    A row counts under the most probable class among those whose probability reaches that class's threshold.
    Calibration rescales each row of the joint to the number of rows with that given label.
    """
    k = proba.shape[1]
    above = proba >= thresholds[None, :] - 1e-9
    confident = np.asarray(above.any(axis=1))
    guess = np.asarray(np.where(above, proba, -np.inf).argmax(axis=1))
    raw = np.zeros((k, k))
    np.add.at(raw, (given[confident], guess[confident]), 1.0)
    # at least one correctly labelled row per class, so calibration never divides by zero for a present class
    np.fill_diagonal(raw, np.maximum(raw.diagonal(), 1.0))
    counts = np.bincount(given, minlength=k).astype(np.float64)
    joint = raw / raw.sum(axis=1, keepdims=True) * counts[:, None]
    return np.asarray(joint / max(joint.sum(), 1.0) * counts.sum()), confident, guess


def _noise_matrix(joint: np.ndarray) -> np.ndarray:
    totals = joint.sum(axis=0, keepdims=True)
    return np.where(totals > 0, joint / np.where(totals > 0, totals, 1.0), np.eye(len(joint)))


def _prune_counts(joint: np.ndarray, given: np.ndarray, k: int, keep: int) -> np.ndarray:
    """Rows to remove per (given i, true j), leaving at least ``keep`` rows in each given class.

    Rounding is by largest remainder within each row, so every row still sums to its class count.
    """
    prune = _round_rows(joint)
    np.fill_diagonal(prune, 0)
    counts = np.bincount(given, minlength=k)
    for i in range(k):
        room = max(int(counts[i]) - keep, 0)
        total = int(prune[i].sum())
        if total > room:
            prune[i] = np.floor(prune[i] * room / total).astype(np.int64)
    return prune


def _round_rows(matrix: np.ndarray) -> np.ndarray:
    floor = np.floor(matrix)
    short = np.rint(matrix.sum(axis=1) - floor.sum(axis=1)).astype(np.int64)
    order = np.argsort(-(matrix - floor), axis=1, kind="stable")
    out: np.ndarray = floor.astype(np.int64)
    for i, extra in enumerate(short):
        out[i, order[i, :extra]] += 1
    return out


def _prune_by_noise_rate(proba: np.ndarray, given: np.ndarray, prune: np.ndarray) -> np.ndarray:
    issues = np.zeros(len(given), dtype=bool)
    for i, j in zip(*np.nonzero(prune), strict=True):
        members = np.flatnonzero(given == i)
        margin = proba[members, j] - proba[members, i]
        take = members[np.argsort(-margin, kind="stable")[:prune[i, j]]]
        issues[take] = True
    return issues


def _prune_by_class(proba: np.ndarray, given: np.ndarray, prune: np.ndarray) -> np.ndarray:
    issues = np.zeros(len(given), dtype=bool)
    for i in np.flatnonzero(prune.sum(axis=1)):
        members = np.flatnonzero(given == i)
        take = members[np.argsort(proba[members, i], kind="stable")[:prune[i].sum()]]
        issues[take] = True
    return issues
