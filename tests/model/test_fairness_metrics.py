"""Fairness metrics on small hand-computed cases: groups, rates, disparities, weights, calibration, bootstrap,
errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from bastion.model.fairness import metrics as m
from bastion.model.fairness.bootstrap import multinomial_tables, percentile_intervals, resampled_sums
from bastion.model.fairness.calibration import calibration_by_group, check_scores
from bastion.model.fairness.groups import GroupIndex
from bastion.model.fairness.report import FairnessReport, FairnessTest

# Group "a": y = 1 1 0 0 1, pred = 1 0 0 1 1 -> tp 2, fn 1, fp 1, tn 1.
# Group "b": y = 0 0 0, pred = 1 0 0 -> fp 1, tn 2.
Y = np.array([1, 1, 0, 0, 1, 0, 0, 0])
P = np.array([1, 0, 0, 1, 1, 1, 0, 0])
S = pd.Series(["a"] * 5 + ["b"] * 3, name="g")


def _run() -> FairnessReport:
    return FairnessTest(resamples=0, min_group_size=1).run(Y, P, S)


# -- groups ---------------------------------------------------------------------------------------------------------

def test_groups_are_sorted_with_missing_last_and_plain_values() -> None:
    index = GroupIndex.from_columns({"sex": ["M", "F", None, "F", "M"], "n": np.array([2, 1, 1, 1, 2])})
    assert index.columns == ("sex", "n")
    assert index.groups == ({"sex": "F", "n": 1}, {"sex": "M", "n": 2}, {"sex": None, "n": 1})
    assert index.codes.tolist() == [1, 0, 2, 0, 1]
    assert index.sizes.tolist() == [2, 2, 1]
    assert type(index.groups[0]["n"]) is int
    assert index.label(0) == "sex=F, n=1"


def test_intersectional_groups_keep_only_combinations_present() -> None:
    frame = pd.DataFrame({"sex": ["F", "F", "M", "M", "M"], "race": ["x", "y", "y", "y", "z"]})
    index = GroupIndex.from_columns(frame)
    assert [tuple(g.values()) for g in index.groups] == [("F", "x"), ("F", "y"), ("M", "y"), ("M", "z")]
    assert index.sizes.tolist() == [1, 1, 2, 1]
    assert index.select({"sex": "M"}).tolist() == [False, False, True, True]


def test_categorical_and_bool_columns() -> None:
    cat = pd.Categorical(["lo", "hi", "lo"], categories=["lo", "hi"], ordered=True)
    index = GroupIndex.from_columns({"level": cat, "flag": np.array([True, False, True])})
    assert index.groups == ({"level": "lo", "flag": True}, {"level": "hi", "flag": False})
    assert type(index.groups[0]["flag"]) is bool


@pytest.mark.parametrize(("columns", "message"), [
    ({}, "at least one column"),
    ({"a": [1, 2, 3], "b": [1, 2]}, "'b' has 2 rows but 'a' has 3"),
    ({"a": [None, np.nan]}, "'a' is empty"),
    ({"income": np.arange(20.0)}, "'income' has 20 distinct values"),
])
def test_group_errors_name_the_column(columns: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        GroupIndex.from_columns(columns, max_groups=10)


def test_too_many_intersectional_groups_names_both_columns() -> None:
    with pytest.raises(ValueError, match="'a', 'b' together form 16 groups.*bin it first"):
        GroupIndex.from_columns({"a": np.arange(16) % 4, "b": np.arange(16) // 4}, max_groups=10)


# -- counts, rates and disparities ----------------------------------------------------------------------------------

def test_confusion_counts_by_hand() -> None:
    codes = GroupIndex.from_columns(S).codes
    counts = m.confusion_counts(codes, Y == 1, P == 1, 2)
    assert counts.tolist() == [[1, 1, 1, 2], [2, 1, 0, 0]]
    weighted = m.confusion_counts(codes, Y == 1, P == 1, 2, weights=np.arange(1.0, 9.0))
    assert weighted.tolist() == [[3, 4, 2, 1 + 5], [7 + 8, 6, 0, 0]]


def test_rates_and_disparities_by_hand() -> None:
    report = _run()
    a, b = (g.values for g in report.groups)
    assert a == pytest.approx({"selection_rate": 3 / 5, "tpr": 2 / 3, "fpr": 1 / 2, "fnr": 1 / 3, "tnr": 1 / 2,
                               "precision": 2 / 3, "accuracy": 3 / 5, "base_rate": 3 / 5})
    # no positive labels in b: its tpr and fnr are 0, as Fairlearn reports them
    assert b == pytest.approx({"selection_rate": 1 / 3, "tpr": 0.0, "fpr": 1 / 3, "fnr": 0.0, "tnr": 2 / 3,
                               "precision": 0.0, "accuracy": 2 / 3, "base_rate": 0.0})
    metrics = report.metrics
    assert metrics["demographic_parity_difference"] == pytest.approx(3 / 5 - 1 / 3)
    assert metrics["demographic_parity_ratio"] == pytest.approx((1 / 3) / (3 / 5))
    assert metrics["equalized_odds_difference"] == pytest.approx(max(2 / 3, 1 / 2 - 1 / 3))
    assert metrics["equalized_odds_ratio"] == pytest.approx(min(0.0, (1 / 3) / (1 / 2)))
    assert metrics["precision_score_group_min"] == 0.0
    assert metrics["zero_one_loss_group_max"] == pytest.approx(2 / 5)
    assert any("g=b has no positive labels" in w for w in report.warnings)


def test_empty_groups_are_nan_and_skipped_by_disparities() -> None:
    counts = np.array([[1.0, 1, 1, 2], [0, 0, 0, 0], [2, 1, 0, 0]])
    rates = m.group_rates(counts)
    assert np.isnan(rates["tpr"][1]) and np.isnan(rates["selection_rate"][1])
    assert m.difference(rates["selection_rate"]) == pytest.approx(3 / 5 - 1 / 3)
    assert np.isnan(m.ratio(np.array([0.0, 0.0])))
    assert np.isnan(m.group_max(np.array([np.nan, np.nan])))


def test_vectorised_over_leading_axes() -> None:
    counts = np.array([[[1.0, 1, 1, 2], [2, 1, 0, 0]], [[0, 0, 1, 1], [1, 1, 1, 1]]])
    stacked = m.classification_metrics(counts)
    for b in range(2):
        single = m.classification_metrics(counts[b])
        for name, values in stacked.items():
            assert values[b] == pytest.approx(float(single[name]), nan_ok=True), name


def test_integer_weights_equal_repeated_rows() -> None:
    rng = np.random.default_rng(1)
    y, p = rng.integers(0, 2, 60), rng.integers(0, 2, 60)
    groups = rng.choice(["x", "y", "z"], 60)
    weights = rng.integers(1, 4, 60)
    weighted = FairnessTest(resamples=0).run(y, p, pd.Series(groups, name="s"), sample_weight=weights)
    rows = np.repeat(np.arange(60), weights)
    repeated = FairnessTest(resamples=0).run(y[rows], p[rows], pd.Series(groups[rows], name="s"))
    for name, value in weighted.metrics.items():
        assert value == pytest.approx(repeated.metrics[name], nan_ok=True), name
    for a, b in zip(weighted.groups, repeated.groups, strict=True):
        assert a.values == pytest.approx(b.values)
        assert a.weight == b.size


# -- labels, tasks and errors ---------------------------------------------------------------------------------------

def test_string_labels_take_the_greater_as_positive() -> None:
    labels = np.where(Y == 1, ">50K", "<=50K")
    report = FairnessTest(resamples=0).run(labels, np.where(P == 1, ">50K", "<=50K"), S)
    assert report.positive == ">50K"
    assert report.metrics == pytest.approx(_run().metrics)


def test_multiclass_needs_positive_then_is_one_versus_rest() -> None:
    y = np.array(["a", "b", "c", "a", "b", "c", "a", "a"])
    p = np.array(["a", "c", "c", "b", "b", "a", "a", "c"])
    with pytest.raises(ValueError, match="3 labels.*give positive="):
        FairnessTest(resamples=0).run(y, p, S)
    report = FairnessTest(resamples=0, positive="a").run(y, p, S)
    binary = FairnessTest(resamples=0).run((y == "a").astype(int), (p == "a").astype(int), S)
    assert report.metrics == pytest.approx(binary.metrics, nan_ok=True)
    assert report.positive == "a"


@pytest.mark.parametrize(("y_true", "y_pred", "settings", "message"), [
    (Y, P, {"positive": 7}, "positive: 7 is not a label"),
    (np.array([1.0, np.nan, 0, 0, 1, 0, 0, 0]), P, {}, "y_true is missing at row 1"),
    (Y[:5], P, {}, "y_true has 5 rows but the sensitive columns have 8"),
    (Y, np.linspace(0.1, 0.9, 8), {}, "fractional values.*scores="),
    (np.ones(8, dtype=int), np.ones(8, dtype=int), {}, "one label"),
])
def test_label_errors(y_true: np.ndarray, y_pred: np.ndarray, settings: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FairnessTest(resamples=0, **settings).run(y_true, y_pred, S)  # type: ignore[arg-type]


@pytest.mark.parametrize(("settings", "name"), [
    ({"resamples": -1}, "resamples"), ({"level": 1.5}, "level"), ({"task": "ranking"}, "task"),
    ({"calibration_strategy": "kmeans"}, "calibration_strategy"), ({"privileged": {}}, "privileged"),
    ({"min_group_size": True}, "min_group_size"), ({"calibration_bins": 0}, "calibration_bins"),
])
def test_parameters_are_validated(settings: dict[str, object], name: str) -> None:
    with pytest.raises(ValueError, match=name):
        FairnessTest(**settings)  # type: ignore[arg-type]


def test_sample_weight_errors_name_the_row() -> None:
    with pytest.raises(ValueError, match="sample_weight at row 2"):
        FairnessTest(resamples=0).run(Y, P, S, sample_weight=[1, 1, -1, 1, 1, 1, 1, 1])


# -- regression -----------------------------------------------------------------------------------------------------

def test_regression_by_hand() -> None:
    y = np.array([1.0, 2.0, 3.0, 4.0, 10.0, 10.0, 5.0] + list(np.arange(20.0)))
    pred = np.array([1.5, 2.0, 2.0, 5.0, 10.0, 12.0, 5.0] + list(np.arange(20.0)))
    groups = pd.Series(["a"] * 4 + ["b"] * 2 + ["c"] + ["d"] * 20, name="g")
    report = FairnessTest(resamples=0, min_group_size=1).run(y, pred, groups)
    assert report.task == "regression" and report.four_fifths_rule is None
    a, b, c, d = (g.values for g in report.groups)
    errors = np.array([0.5, 0.0, -1.0, 1.0])
    assert a["mean_error"] == pytest.approx(errors.mean())
    assert a["mean_absolute_error"] == pytest.approx(np.abs(errors).mean())
    assert a["root_mean_squared_error"] == pytest.approx(np.sqrt((errors ** 2).mean()))
    assert a["r2"] == pytest.approx(1 - (errors ** 2).sum() / 5.0)
    assert b["r2"] == 0.0  # constant truth, imperfect fit (scikit-learn's force_finite)
    assert np.isnan(c["r2"])  # one row
    assert d["r2"] == 1.0
    assert report.metrics["r2_score_group_min"] == 0.0
    assert report.metrics["mean_absolute_error_group_max"] == pytest.approx(1.0)
    assert json.loads(json.dumps(report.to_dict(), allow_nan=False))["groups"][2]["r2"] is None


def test_regression_rejects_privileged_and_scores() -> None:
    y = np.arange(40.0)
    with pytest.raises(ValueError, match="privileged"):
        FairnessTest(resamples=0, privileged={"g": "a"}).run(y, y + 1, pd.Series(["a", "b"] * 20, name="g"))
    with pytest.raises(ValueError, match="scores"):
        FairnessTest(resamples=0).run(y, y + 1, pd.Series(["a", "b"] * 20, name="g"), scores=np.zeros(40))


# -- calibration ----------------------------------------------------------------------------------------------------

def test_calibration_by_hand() -> None:
    codes = np.array([0, 0, 0, 0, 1, 1])
    y = np.array([0, 1, 1, 1, 0, 1], dtype=bool)
    scores = np.array([0.05, 0.15, 0.95, 0.9, 0.3, 0.3])
    result = calibration_by_group(codes, 2, y, scores, bins=10)
    a, b = result.groups
    assert a.counts.tolist() == [1, 1, 0, 0, 0, 0, 0, 0, 1, 1]  # 0.9 sits on an edge: the bin below it
    assert a.ece == pytest.approx((0.05 + 0.85 + 0.1 + 0.05) / 4)
    assert a.brier == pytest.approx(np.mean((scores[:4] - y[:4]) ** 2))
    assert b.ece == pytest.approx(0.2) and b.base_rate == 0.5 and b.mean_score == pytest.approx(0.3)
    assert np.isnan(b.observed[0]) and b.observed[2] == 0.5 and b.counts[2] == 2  # 0.3: bin (0.2, 0.3]
    assert result.metrics["expected_calibration_error_difference"] == pytest.approx(abs(a.ece - 0.2))


@pytest.mark.parametrize(("scores", "row"), [([0.1, 1.2, 0.5], 1), ([0.1, 0.2, np.nan], 2), ([-0.1, 0.2, 0.3], 0)])
def test_scores_outside_unit_interval_name_the_row(scores: list[float], row: int) -> None:
    with pytest.raises(ValueError, match=f"scores at row {row}"):
        check_scores(scores, 3)


def test_report_with_scores_has_calibration_per_group() -> None:
    scores = np.array([0.9, 0.4, 0.2, 0.6, 0.8, 0.7, 0.1, 0.3])
    report = FairnessTest(resamples=20, min_group_size=1).run(Y, P, S, scores=scores)
    data = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert set(data["groups"][0]["calibration"]) == {"ece", "brier", "mean_score", "base_rate", "curve"}
    assert "expected_calibration_error_difference" in data["metrics"]
    assert data["calibration"]["bins"] == 10


# -- AIF360-style comparisons ---------------------------------------------------------------------------------------

def test_versus_privileged_by_hand() -> None:
    report = FairnessTest(resamples=0, min_group_size=1, privileged={"g": "a"}).run(Y, P, S)
    versus = report.versus_privileged
    assert versus is not None and versus.privileged_rows == 5 and versus.aggregate.size == 3
    agg = versus.aggregate.metrics
    assert agg["statistical_parity_difference"] == pytest.approx(1 / 3 - 3 / 5)
    assert agg["disparate_impact"] == pytest.approx((1 / 3) / (3 / 5))
    assert np.isnan(agg["equal_opportunity_difference"])  # b has no positives: AIF360's TPR is 0/0
    assert agg["average_abs_odds_difference"] != agg["average_abs_odds_difference"]  # NaN as well
    assert agg["false_positive_rate_difference"] == pytest.approx(1 / 3 - 1 / 2)
    assert agg["error_rate_difference"] == pytest.approx(1 / 3 - 2 / 5)
    assert [c.group for c in versus.groups] == [{"g": "b"}]
    out = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert out["versus_privileged"]["aggregate"]["equal_opportunity_difference"] is None


@pytest.mark.parametrize(("privileged", "message"), [({"g": "z"}, "no rows have g='z'"),
                                                     ({"sex": "M"}, "'sex' is not a sensitive column")])
def test_privileged_errors(privileged: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FairnessTest(resamples=0, privileged=privileged).run(Y, P, S)


def test_every_row_privileged_is_an_error() -> None:
    with pytest.raises(ValueError, match="every row has"):
        FairnessTest(resamples=0, privileged={"g": "a"}).run(Y, P, pd.Series(["a"] * 8, name="g"))


# -- report ---------------------------------------------------------------------------------------------------------

def test_json_report_shape_and_no_nan() -> None:
    nobody = np.zeros(8, dtype=int)  # nobody selected: the parity ratio is 0/0
    report = FairnessTest(resamples=0, positive=1).run(Y, nobody, S)
    data = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert data["metrics"]["demographic_parity_ratio"] is None
    assert data["four_fifths_rule"] == {"ratio": None, "passed": None, "threshold": 0.8}
    assert list(data["groups"][0])[:10] == ["group", "size", "selection_rate", "tpr", "fpr", "fnr", "tnr",
                                            "precision", "accuracy", "base_rate"]
    assert data["groups"][0]["group"] == {"g": "a"}
    assert data["sensitive"] == ["g"] and data["rows"] == 8 and data["positive"] == 1


def test_small_groups_and_four_fifths_warnings() -> None:
    frame = pd.DataFrame({"sex": ["F"] * 12 + ["M"] * 40, "race": ["Other"] * 12 + ["White"] * 40})
    y = np.tile([0, 1], 26)
    pred = np.r_[np.zeros(12, dtype=int), np.ones(40, dtype=int)]
    report = FairnessTest(resamples=0).run(y, pred, frame)
    assert "sex=F, race=Other has 12 rows (< 30)" in report.warnings
    assert report.four_fifths_rule is not None and report.four_fifths_rule.passed is False
    assert any(w.startswith("four-fifths rule failed: demographic_parity_ratio is 0.000") for w in report.warnings)


# -- bootstrap ------------------------------------------------------------------------------------------------------

def _sample(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, pd.Series]:
    rng = np.random.default_rng(seed)
    groups = rng.choice(["x", "y", "z"], n, p=[0.5, 0.3, 0.2])
    y = (rng.random(n) < np.where(groups == "x", 0.4, 0.25)).astype(int)
    pred = np.where(rng.random(n) < 0.8, y, 1 - y)
    return y, pred, pd.Series(groups, name="s")


def test_intervals_contain_the_estimate_and_shrink_with_n() -> None:
    widths = []
    for n in (600, 24000):
        y, pred, groups = _sample(n)
        report = FairnessTest(resamples=200, seed=3).run(y, pred, groups)
        for name in ("demographic_parity_difference", "equalized_odds_difference", "accuracy_score_group_min"):
            low, high = report.intervals[name]
            assert low <= report.metrics[name] <= high, (n, name)
        for group in report.groups:
            low, high = group.intervals["selection_rate"]
            assert low <= group.values["selection_rate"] <= high
        low, high = report.intervals["demographic_parity_difference"]
        widths.append(high - low)
        assert report.bootstrap.method == "multinomial" and report.bootstrap.usable == {}
    assert widths[1] < widths[0] / 3  # 40x the rows: about 1/sqrt(40) the width


def test_bootstrap_is_deterministic_per_seed() -> None:
    y, pred, groups = _sample(2000)
    first = FairnessTest(resamples=50, seed=7).run(y, pred, groups).intervals
    assert FairnessTest(resamples=50, seed=7).run(y, pred, groups).intervals == first
    assert FairnessTest(resamples=50, seed=8).run(y, pred, groups).intervals != first


def test_multinomial_tables_match_row_resampling() -> None:
    y, pred, groups = _sample(3000)
    index = GroupIndex.from_columns(groups)
    counts = m.confusion_counts(index.codes, y == 1, pred == 1, index.n_groups)
    draws = 3000
    drawn = multinomial_tables(counts, draws, np.random.default_rng(0))
    keys = index.codes * 4 + y * 2 + pred
    rows = resampled_sums(keys, index.n_groups * 4, np.ones((len(y), 1)), draws, np.random.default_rng(1),
                          chunk_rows=500_000).reshape(draws, index.n_groups, 4)
    assert drawn.sum(axis=(1, 2)).tolist() == [3000.0] * draws == rows.sum(axis=(1, 2)).tolist()
    for name in ("demographic_parity_difference", "equalized_odds_difference", "precision_score_ratio"):
        a, b = m.classification_metrics(drawn)[name], m.classification_metrics(rows)[name]
        se = a.std() / np.sqrt(draws)
        assert abs(a.mean() - b.mean()) < 4 * np.sqrt(2) * se, name
        assert a.std() == pytest.approx(b.std(), rel=0.08), name
    np.testing.assert_allclose(drawn.mean(axis=0), counts, rtol=0.02)


def test_weighted_bootstrap_resamples_rows() -> None:
    y, pred, groups = _sample(4000)
    plain = FairnessTest(resamples=300, seed=2).run(y, pred, groups)
    ones = FairnessTest(resamples=300, seed=2).run(y, pred, groups, sample_weight=np.ones(4000))
    assert ones.bootstrap.method == "rows"
    assert ones.metrics == plain.metrics
    low, high = plain.intervals["demographic_parity_difference"]
    low_w, high_w = ones.intervals["demographic_parity_difference"]
    assert (high_w - low_w) == pytest.approx(high - low, rel=0.25)


def test_resamples_lacking_a_group_are_counted() -> None:
    y, pred, groups = _sample(300)
    groups = groups.copy()
    groups.iloc[:2] = "rare"
    report = FairnessTest(resamples=200, seed=0).run(y, pred, groups)
    usable = report.bootstrap.usable["demographic_parity_difference"]
    assert 0 < 200 - usable < 60  # a 2-row group is absent from about (1 - 2/300)^300 = 13% of resamples
    assert any(w.startswith(f"bootstrap: {200 - usable} of 200 resamples lacked a group (s=rare")
               for w in report.warnings)
    low, high = report.intervals["demographic_parity_difference"]
    assert low <= report.metrics["demographic_parity_difference"] <= high


def test_percentile_intervals() -> None:
    samples = np.r_[np.arange(101.0), np.nan, np.inf]
    low, high, usable = percentile_intervals(samples, 0.9)
    assert float(low) == pytest.approx(5.0) and float(high) == pytest.approx(95.0) and int(usable) == 101
    low, _, usable = percentile_intervals(np.array([1.0, np.nan]), 0.9)
    assert np.isnan(low) and usable == 1
