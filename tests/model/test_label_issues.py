"""Confident learning: planted label flips are found, better than trusting the argmax, from out-of-fold proba."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits, make_blobs
from sklearn.ensemble import RandomForestClassifier
from sklearn.neighbors import KNeighborsClassifier

from bastion.model.poisoning.labels import (
    WARNING,
    LabelIssueError,
    LabelIssueFinder,
    confident_joint,
    out_of_fold_probabilities,
    per_class_thresholds,
)


def _flip(y: np.ndarray, k: int, share: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(y), size=int(share * len(y)), replace=False)
    noisy = y.copy()
    noisy[rows] = (y[rows] + rng.integers(1, k, size=len(rows))) % k
    return noisy


def _precision_recall(found: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    hits = int((found & truth).sum())
    return hits / max(int(found.sum()), 1), hits / int(truth.sum())


@pytest.fixture(scope="module")
def digits_case() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x, y = load_digits(return_X_y=True)
    x, y = x[:600], y[:600]
    noisy = _flip(y, 10, 0.10, seed=0)
    proba = out_of_fold_probabilities(x, noisy, estimator=RandomForestClassifier(100, random_state=0), seed=0)
    return proba, noisy, y


def test_digits_flips_found_with_high_precision_and_recall(digits_case: tuple[np.ndarray, ...]) -> None:
    proba, noisy, clean = digits_case
    issues = LabelIssueFinder().find(proba, noisy)
    precision, recall = _precision_recall(issues.mask(len(noisy)), noisy != clean)
    assert precision >= 0.9 and recall >= 0.8, (precision, recall)
    # the suggestion is the true label for nearly every real flip found
    real = noisy[issues.rows] != clean[issues.rows]
    assert np.mean(issues.suggested[real] == clean[issues.rows][real]) >= 0.9
    assert np.all(issues.given == noisy[issues.rows])
    assert issues.warning == WARNING and "probabilit" in issues.warning


@pytest.mark.parametrize("seed", [0, 2])
def test_confident_learning_beats_argmax_disagreement(seed: int) -> None:
    x, y = make_blobs(n_samples=600, centers=4, n_features=5, cluster_std=2.0, random_state=seed)
    noisy = _flip(y, 4, 0.10, seed)
    proba = out_of_fold_probabilities(x, noisy, estimator="logistic_regression", seed=seed)
    truth = noisy != y
    precision, recall = _precision_recall(LabelIssueFinder().find(proba, noisy).mask(len(y)), truth)
    baseline, _ = _precision_recall(proba.argmax(axis=1) != noisy, truth)
    assert precision >= 0.75 and recall >= 0.8, (precision, recall)
    assert precision > baseline + 0.05


def test_methods_and_rankings(digits_case: tuple[np.ndarray, ...]) -> None:
    proba, noisy, _ = digits_case
    by_rate = LabelIssueFinder("prune_by_noise_rate").find(proba, noisy)
    by_class = LabelIssueFinder("prune_by_class").find(proba, noisy)
    both = LabelIssueFinder("both").find(proba, noisy)
    assert set(both.rows) == set(by_rate.rows) & set(by_class.rows)
    off_diagonal = LabelIssueFinder("confident_joint").find(proba, noisy)
    assert len(off_diagonal) > 0
    for method in ("prune_by_noise_rate", "confident_joint"):
        for ranking in ("self_confidence", "normalized_margin"):
            issues = LabelIssueFinder(method, ranking).find(proba, noisy)
            assert np.all(np.diff(issues.score) <= 0)  # most suspect first
            assert np.all((issues.score >= 0) & (issues.score <= 1))
            assert np.all(issues.suggested != issues.given)


def test_confident_joint_is_calibrated(digits_case: tuple[np.ndarray, ...]) -> None:
    proba, noisy, clean = digits_case
    issues = LabelIssueFinder().find(proba, noisy)
    counts = np.bincount(noisy, minlength=10)
    assert np.allclose(issues.confident_joint.sum(axis=1), counts)
    assert np.allclose(issues.noise_matrix.sum(axis=0), 1.0)
    # the off-diagonal mass estimates the number of flips (60 planted)
    flips = issues.confident_joint.sum() - np.trace(issues.confident_joint)
    assert abs(flips - int((noisy != clean).sum())) <= 15
    thresholds = per_class_thresholds(proba, noisy)
    assert np.allclose(thresholds, [proba[noisy == c, c].mean() for c in range(10)])


def test_confident_joint_counts_by_hand() -> None:
    proba = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.2, 0.8], [0.9, 0.1]])
    given = np.array([0, 0, 1, 1, 1])
    thresholds = per_class_thresholds(proba, given)
    assert np.allclose(thresholds, [0.85, 1.6 / 3])
    joint, confident, guess = confident_joint(proba, given, thresholds)
    # row 1 reaches no threshold; row 4 is labelled 1 but confidently class 0
    assert confident.tolist() == [True, False, True, True, True]
    assert guess[confident].tolist() == [0, 1, 1, 0]
    assert np.allclose(joint, [[2, 0], [1, 2]])  # calibrated rows sum to the class counts
    issues = LabelIssueFinder().find(proba, given)
    assert issues.rows.tolist() == [4] and issues.suggested.tolist() == [0]


def test_out_of_fold_probabilities_never_see_the_row() -> None:
    # a 1-nearest-neighbour model fitted on a row returns that row's own label with certainty; out of fold it must
    # follow the neighbours instead, so a flipped row's given label gets low probability
    x, y = make_blobs(n_samples=300, centers=3, cluster_std=0.5, random_state=1)
    noisy = _flip(y, 3, 0.05, seed=1)
    proba = out_of_fold_probabilities(x, noisy, estimator=KNeighborsClassifier(1), folds=5, seed=0)
    flipped = noisy != y
    assert proba.shape == (300, 3) and np.allclose(proba.sum(axis=1), 1.0)
    assert proba[flipped, noisy[flipped]].mean() < 0.2


def test_out_of_fold_probabilities_seeded_and_labels_any_type() -> None:
    x, y = make_blobs(n_samples=120, centers=3, random_state=3)
    names = np.array(["cat", "dog", "eel"])[y]
    first = out_of_fold_probabilities(x, names, estimator="random_forest", seed=4)
    second = out_of_fold_probabilities(x, names, estimator="random_forest", seed=4)
    assert np.array_equal(first, second)
    assert (first.argmax(axis=1) == y).mean() > 0.9  # columns follow np.unique(names) = y's order


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"folds": 1}, "folds"),
    ({"folds": 50}, "fewer than folds"),
    ({"estimator": "svm"}, "estimator"),
    ({"estimator": object()}, "predict_proba"),
])
def test_out_of_fold_validation(kwargs: dict[str, object], match: str) -> None:
    x, y = make_blobs(n_samples=90, centers=3, random_state=0)
    with pytest.raises(LabelIssueError, match=match):
        out_of_fold_probabilities(x, y, **kwargs)  # type: ignore[arg-type]


def test_out_of_fold_shape_errors() -> None:
    with pytest.raises(LabelIssueError, match="rows"):
        out_of_fold_probabilities(np.zeros((5, 2)), np.zeros(4))
    with pytest.raises(LabelIssueError, match="at least 2 classes"):
        out_of_fold_probabilities(np.zeros((5, 2)), np.zeros(5))


def test_finder_validation() -> None:
    with pytest.raises(LabelIssueError, match="method"):
        LabelIssueFinder("vote")
    with pytest.raises(LabelIssueError, match="ranking"):
        LabelIssueFinder(ranking="loss")
    finder = LabelIssueFinder()
    proba = np.full((4, 2), 0.5)
    with pytest.raises(LabelIssueError, match="labels must lie"):
        finder.find(proba, np.array([0, 1, 2, 0]))
    with pytest.raises(LabelIssueError, match="entries"):
        finder.find(proba, np.array([0, 1]))
    with pytest.raises(LabelIssueError, match="class indices"):
        finder.find(proba, np.array(["a", "b", "a", "b"]))
    with pytest.raises(LabelIssueError, match=r"\(n, k\)"):
        finder.find(np.ones(4), np.array([0, 1, 0, 1]))
    with pytest.raises(LabelIssueError, match="finite"):
        finder.find(np.full((4, 2), np.nan), np.array([0, 1, 0, 1]))
