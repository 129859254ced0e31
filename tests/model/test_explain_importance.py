"""Permutation importance on raw columns: agreement with scikit-learn, batching, scores, and ranking stability."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.inspection import permutation_importance
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder

from bastion.model.explain.importance import PermutationImportance, ranking_stability
from bastion.model.tabular import as_tabular


def _signal(n: int = 1000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Four numeric columns whose weights are well apart: a (3) > b (1.5) > c (0.5) > d (0)."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(n, 4)), columns=list("abcd"))
    score = 3 * frame["a"] + 1.5 * frame["b"] + 0.5 * frame["c"] + rng.normal(scale=0.3, size=n)
    return frame, (score > 0).astype(int).to_numpy()


def _mixed(n: int = 1200, seed: int = 1) -> tuple[pd.DataFrame, np.ndarray]:
    """Text, numeric and missing values; the label depends on colour and size only."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"colour": rng.choice(["red", "green", "blue"], n), "size": rng.normal(size=n),
                          "town": rng.choice(["x", "y"], n), "noise": rng.normal(size=n)})
    frame.loc[rng.random(n) < 0.05, "town"] = None
    label = np.where((frame["colour"] == "red") ^ (frame["size"] > 0.5), "yes", "no")
    return frame, label


def _pipeline(frame: pd.DataFrame, label: np.ndarray) -> Pipeline:
    text = make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore"))
    prep = ColumnTransformer([("text", text, ["colour", "town"])], remainder="passthrough")
    forest = RandomForestClassifier(n_estimators=30, max_depth=6, random_state=0)
    return Pipeline([("prep", prep), ("forest", forest)]).fit(frame, label)


def test_means_match_scikit_learn_and_order_is_identical() -> None:
    frame, label = _signal()
    model = RandomForestClassifier(n_estimators=30, random_state=0).fit(frame, label)
    ours = PermutationImportance(repeats=5, seeds=3).run(as_tabular(model), frame, label)
    ref = permutation_importance(model, frame, label, n_repeats=15, random_state=0)
    assert ours.features == ("a", "b", "c", "d") and ours.scoring == "accuracy"
    assert np.allclose(ours.mean, ref.importances_mean, atol=0.02)
    assert np.allclose(ours.std, ref.importances_std, atol=0.01)
    assert [f.feature for f in ours.ranked()] == ["a", "b", "c", "d"]
    assert list(np.argsort(-ref.importances_mean)) == [0, 1, 2, 3]
    assert ours.baseline == pytest.approx(model.score(frame, label))
    assert ours.stability is not None and ours.stability.stable
    assert ours.stability.min_spearman == 1.0 and ours.stability.top_k == 4  # k is capped at the feature count


@pytest.mark.parametrize("scoring", ["neg_log_loss", "balanced_accuracy"])
def test_other_classification_scores_match_scikit_learn(scoring: str) -> None:
    frame, label = _signal(800)
    label = np.where(frame["a"] > 0.8, 1, 0)  # imbalanced, so balanced accuracy differs from accuracy
    model = LogisticRegression().fit(frame, label)
    ours = PermutationImportance(scoring=scoring, repeats=10, seeds=2).run(model, frame, label)
    ref = permutation_importance(model, frame, label, scoring=scoring, n_repeats=20, random_state=0)
    scale = np.abs(ref.importances_mean).max()
    assert np.allclose(ours.mean, ref.importances_mean, atol=0.1 * scale)
    assert int(np.argmax(ours.mean)) == 0 == int(np.argmax(ref.importances_mean))


def test_regression_uses_r2_and_matches_scikit_learn() -> None:
    frame, _ = _signal(600)
    target = (4 * frame["a"] + frame["b"]).to_numpy()
    model = LinearRegression().fit(frame, target)
    ours = PermutationImportance(repeats=5).run(model, frame, target)
    ref = permutation_importance(model, frame, target, n_repeats=15, random_state=0)
    assert ours.scoring == "r2" and ours.baseline == pytest.approx(1.0)
    assert np.allclose(ours.mean, ref.importances_mean, rtol=0.1, atol=0.01)
    # permuting a column with weight w costs 2 w^2 var / total var of R^2: 32/17 for a, 2/17 for b, 0 for d
    assert ours.mean[:2] == pytest.approx([32 / 17, 2 / 17], rel=0.2) and abs(ours.mean[3]) < 1e-9


def test_raw_columns_of_a_pipeline_with_text_and_missing_values() -> None:
    frame, label = _mixed()
    model = as_tabular(_pipeline(frame, label))
    result = PermutationImportance(repeats=3, seeds=2).run(model, frame, label)
    assert result.features == ("colour", "size", "town", "noise")  # one entry per raw column, not per encoded one
    ranked = [f.feature for f in result.ranked()]
    assert set(ranked[:2]) == {"colour", "size"}
    assert result.mean[0] > 0.1 and result.mean[1] > 0.1 and abs(result.mean[2]) < 0.03


def test_batching_changes_the_number_of_calls_not_the_numbers() -> None:
    frame, label = _mixed(500)
    model = as_tabular(_pipeline(frame, label))
    big = PermutationImportance(repeats=3, seeds=2).run(model, frame, label)
    small = PermutationImportance(repeats=3, seeds=2, max_cells=500 * 4 * 5).run(model, frame, label)
    assert big.model_calls == 2  # baseline + every (seed, column, repeat) shuffle in one frame
    assert small.model_calls == 1 + int(np.ceil(2 * 4 * 3 / 5))
    assert np.array_equal(big.mean, small.mean) and np.array_equal(big.per_seed, small.per_seed)


def test_string_labels_may_be_spelled_as_text() -> None:
    frame, label = _signal(400)
    classifier = LogisticRegression().fit(frame, label)  # classes 0 and 1; a CSV target may read as "0" and "1"
    as_text = PermutationImportance(repeats=2, seeds=1).run(classifier, frame, label.astype(str))
    as_ints = PermutationImportance(repeats=2, seeds=1).run(classifier, frame, label)
    assert np.array_equal(as_text.mean, as_ints.mean) and as_ints.mean[0] > 0.2
    assert as_ints.stability is None  # one seed: nothing to compare


def test_ranking_stability_measures_agreement() -> None:
    same = ranking_stability(np.array([[4.0, 3, 2, 1, 0, -1], [8.0, 6, 4, 2, 0, -2]]), [0, 1], top_k=3)
    assert same.min_spearman == pytest.approx(1.0) and same.min_top_jaccard == 1.0 and same.stable
    flipped = ranking_stability(np.array([[4.0, 3, 2, 1, 0, -1], [-1.0, 0, 1, 2, 3, 4]]), [0, 1], top_k=3)
    assert flipped.min_spearman == pytest.approx(-1.0) and flipped.min_top_jaccard == 0.0 and not flipped.stable
    one_swap = ranking_stability(np.array([[5.0, 4, 3, 2, 1, 0], [5.0, 4, 3, 2, 0, 1], [5.0, 4, 3, 1, 2, 0]]),
                                 [0, 1, 2], top_k=4)
    assert one_swap.min_top_jaccard == pytest.approx(3 / 5) and one_swap.min_spearman == pytest.approx(29 / 35)
    assert one_swap.stable  # both minima reach the default thresholds 0.8 and 0.6
    flat = ranking_stability(np.zeros((2, 3)), [0, 1])
    assert flat.min_spearman == 1.0
    with pytest.raises(ValueError, match="at least 2 seeds"):
        ranking_stability(np.ones((1, 3)), [0])


def test_bad_parameters_and_data_name_the_place() -> None:
    frame, label = _signal(100)
    model = LogisticRegression().fit(frame, label)
    with pytest.raises(ValueError, match="scoring"):
        PermutationImportance(scoring="f1")
    with pytest.raises(ValueError, match="repeats"):
        PermutationImportance(repeats=0)
    with pytest.raises(ValueError, match="scoring: 'r2' does not suit a classification"):
        PermutationImportance(scoring="r2").run(model, frame, label)
    with pytest.raises(ValueError, match="y: row 3 has label 'maybe'"):
        PermutationImportance().run(model, frame, np.where(np.arange(100) == 3, "maybe", label.astype(str)))
    with pytest.raises(ValueError, match="y: 99 values for 100 rows"):
        PermutationImportance().run(model, frame, label[:99])
    with pytest.raises(ValueError, match="y: no column 'target'"):
        PermutationImportance().run(model, frame, "target")
