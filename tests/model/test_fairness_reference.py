"""Every fairness number against Fairlearn, AIF360 and scikit-learn on Adult, German credit and COMPAS.

The files are ../shared/data/fairness/raw (loaded locally; AIF360's loaders are never called). Predictions come from
small logistic regressions on a few numeric columns (and, for COMPAS, also ``decile_score >= 5``). Bastion gets the
raw labels (``'>50K'``, German credit's 1/2) and sensitive values; the references get 0/1 labels, as Fairlearn's rate
functions require. Tolerance: 1e-12.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sklearn.metrics as skm
from sklearn.calibration import calibration_curve
from sklearn.linear_model import LinearRegression, LogisticRegression

from bastion.model.fairness.metrics import CLASSIFICATION_METRICS, REGRESSION_METRICS
from bastion.model.fairness.report import FairnessReport, FairnessTest

RAW = Path(__file__).resolve().parents[2].parent / "shared/data/fairness/raw"
TOL = 1e-12


def _quiet_imports() -> tuple[Any, Any, Any]:
    """Fairlearn's metrics and AIF360's dataset and metric, without AIF360's optional-dependency log lines."""
    logging.disable(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import fairlearn.metrics as flm
            from aif360.datasets import BinaryLabelDataset
            from aif360.metrics import ClassificationMetric
    finally:
        logging.disable(logging.NOTSET)
    return flm, BinaryLabelDataset, ClassificationMetric


flm, BinaryLabelDataset, ClassificationMetric = _quiet_imports()


@dataclass(frozen=True)
class Case:
    """One dataset's labels, predictions and sensitive columns, raw for Bastion and 0/1 for the references."""

    labels: np.ndarray
    """Raw true labels."""
    predicted: np.ndarray
    """Raw predicted labels."""
    positive: object
    """The positive label, raw."""
    y: np.ndarray
    """True labels as 0/1."""
    p: np.ndarray
    """Predictions as 0/1."""
    scores: np.ndarray
    """Probability of the positive label."""
    frame: pd.DataFrame
    """Sensitive (and other) columns."""


@pytest.fixture(scope="module")
def raw() -> Path:
    if not RAW.is_dir():
        pytest.skip("../shared/data/fairness absent")
    return RAW


def _logistic(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    scaled = (x - x.mean(axis=0)) / x.std(axis=0)
    model = LogisticRegression(max_iter=200).fit(scaled, y)
    return model.predict(scaled), model.predict_proba(scaled)[:, 1]


@pytest.fixture(scope="module")
def adult(raw: Path) -> Case:
    df = pd.read_csv(raw / "adult.csv")
    labels = df["income-per-year"].to_numpy(dtype=object)
    y = (labels == ">50K").astype(int)
    p, scores = _logistic(df[["age", "education-num", "hours-per-week", "capital-gain"]].to_numpy(float), y)
    return Case(labels, np.where(p == 1, ">50K", "<=50K").astype(object), ">50K", y, p, scores, df)


@pytest.fixture(scope="module")
def german(raw: Path) -> Case:
    df = pd.read_csv(raw / "german.csv")
    df["sex"] = np.where(df["personal_status"].isin(["A92", "A95"]), "female", "male")
    df["adult"] = df["age"] >= 25
    y = (df["credit"] == 1).to_numpy().astype(int)  # 1 = good credit, the favourable label
    x = df[["month", "credit_amount", "age", "investment_as_income_percentage", "number_of_credits"]]
    p, scores = _logistic(x.to_numpy(float), y)
    return Case(df["credit"].to_numpy(), np.where(p == 1, 1, 2), 1, y, p, scores, df)


@pytest.fixture(scope="module")
def compas(raw: Path) -> Case:
    df = pd.read_csv(raw / "propublica-recidivism.csv")
    y = df["two_year_recid"].to_numpy().astype(int)
    p = (df["decile_score"] >= 5).to_numpy().astype(int)
    df["weight"] = np.random.default_rng(3).uniform(0.2, 3.0, len(df))
    _, lr_scores = _logistic(df[["age", "priors_count", "juv_fel_count"]].to_numpy(float), y)
    df["lr_pred"] = (lr_scores >= 0.5).astype(int)
    return Case(y, p, 1, y, p, df["decile_score"].to_numpy() / 10.0, df)


def _case(request: pytest.FixtureRequest, name: str) -> Case:
    case = request.getfixturevalue(name)
    assert isinstance(case, Case)
    return case


def _weights(case: Case, weighted: bool) -> np.ndarray | None:
    return case.frame["weight"].to_numpy() if weighted else None


def _compas_lr(case: Case) -> Case:
    """COMPAS judged on the logistic regression's decisions instead of the decile score."""
    p = case.frame["lr_pred"].to_numpy()
    return Case(case.labels, p, 1, case.y, p, case.scores, case.frame)


# -- Fairlearn: MetricFrame by group, and its difference / ratio / group_min / group_max ----------------------------

def _base_rate(y_true: np.ndarray, y_pred: np.ndarray, sample_weight: np.ndarray | None = None) -> float:
    return float(np.average(y_true, weights=sample_weight))


FAIRLEARN_RATES = {"selection_rate": flm.selection_rate, "tpr": flm.true_positive_rate,
                   "fpr": flm.false_positive_rate, "fnr": flm.false_negative_rate, "tnr": flm.true_negative_rate,
                   "precision": skm.precision_score, "accuracy": skm.accuracy_score, "base_rate": _base_rate,
                   "zero_one_loss": skm.zero_one_loss, "f1_score": skm.f1_score,
                   "balanced_accuracy_score": skm.balanced_accuracy_score}
"""Bastion's per-group key -> the function Fairlearn's MetricFrame applies per group."""
BASES = {"selection_rate": "selection_rate", "demographic_parity": "selection_rate", "true_positive_rate": "tpr",
         "equal_opportunity": "tpr", "recall_score": "tpr", "false_positive_rate": "fpr",
         "false_negative_rate": "fnr", "true_negative_rate": "tnr", "precision_score": "precision",
         "accuracy_score": "accuracy", "zero_one_loss": "zero_one_loss", "f1_score": "f1_score",
         "balanced_accuracy_score": "balanced_accuracy_score"}
"""Metric-name stem -> MetricFrame column."""


def _metric_frame(case: Case, weights: np.ndarray | None, sensitive: pd.DataFrame, funcs: dict[str, Any]) -> Any:
    params = None if weights is None else {name: {"sample_weight": weights} for name in funcs if name != "count"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn's zero-division warnings
        return flm.MetricFrame(metrics=funcs, y_true=case.y, y_pred=case.p, sensitive_features=sensitive,
                               sample_params=params)


def _from_frame(frame: Any, name: str) -> float:
    """A Bastion metric name computed the Fairlearn way from one MetricFrame."""
    if name.startswith("equalized_odds_"):
        kind = name.rsplit("_", 1)[1]
        both = getattr(frame, kind)()[["tpr", "fpr"]]
        return float(both.max() if kind == "difference" else both.min())
    for suffix in ("_difference", "_ratio", "_group_min", "_group_max"):
        if name.endswith(suffix):
            column = BASES[name[: -len(suffix)]]
            return float(getattr(frame, suffix[1:])()[column])
    raise AssertionError(f"no Fairlearn reading of {name}")


def _group_key(group: dict[str, object], columns: list[str]) -> object:
    values = tuple(group[c] for c in columns)
    return values[0] if len(values) == 1 else values


def _check_groups(report: FairnessReport, by_group: pd.DataFrame, columns: list[str], keys: list[str]) -> None:
    present = by_group.dropna(how="all")
    assert len(present) == len(report.groups)
    for group in report.groups:
        row = present.loc[_group_key(group.group, columns)]
        assert group.size == row["count"]
        for key in keys:
            assert group.values[key] == pytest.approx(float(row[key]), abs=TOL, rel=TOL), (group.group, key)


CLASSIFICATION_CASES = [("adult", ["sex"], False), ("adult", ["race"], False), ("adult", ["sex", "race"], False),
                        ("german", ["sex"], False), ("german", ["adult"], False), ("german", ["sex", "adult"], False),
                        ("compas", ["race"], False), ("compas", ["sex"], False), ("compas", ["race", "sex"], False),
                        ("compas", ["race"], True), ("compas", ["race", "sex"], True), ("compas-lr", ["race"], False)]


def _ids(cases: list[tuple[Any, ...]]) -> list[str]:
    return [f"{c[0]}-{'+'.join(c[1])}" + ("-weighted" if c[-1] is True else "") for c in cases]


@pytest.mark.parametrize(("dataset", "columns", "weighted"), CLASSIFICATION_CASES, ids=_ids(CLASSIFICATION_CASES))
def test_classification_matches_metricframe(request: pytest.FixtureRequest, dataset: str, columns: list[str],
                                            weighted: bool) -> None:
    case = _case(request, dataset.split("-")[0])
    case = _compas_lr(case) if dataset == "compas-lr" else case
    weights = _weights(case, weighted)
    sensitive = case.frame[columns]
    report = FairnessTest(positive=case.positive, resamples=0).run(case.labels, case.predicted, sensitive,
                                                                    sample_weight=weights)
    frame = _metric_frame(case, weights, sensitive, {**FAIRLEARN_RATES, "count": flm.count})
    _check_groups(report, frame.by_group, columns, list(FAIRLEARN_RATES)[:8])
    assert set(report.metrics) == set(CLASSIFICATION_METRICS)
    for name in CLASSIFICATION_METRICS:
        assert report.metrics[name] == pytest.approx(_from_frame(frame, name), abs=TOL, rel=TOL, nan_ok=True), name


# -- Fairlearn: the named functions themselves ----------------------------------------------------------------------

def _named(name: str) -> Any:
    """Fairlearn's function of that name, or its derived-metric convention for names it has no function for."""
    if hasattr(flm, name):
        return getattr(flm, name)
    for suffix in ("_difference", "_ratio", "_group_min", "_group_max"):
        if name.endswith(suffix):
            stem = name[: -len(suffix)]
            base = getattr(flm, stem, None) or getattr(skm, stem)
            return flm.make_derived_metric(metric=base, transform=suffix[1:], sample_param_names=["sample_weight"])
    raise AssertionError(f"Fairlearn has no reading of {name}")


@pytest.mark.parametrize(("dataset", "columns", "weighted"),
                         [("german", ["sex", "adult"], False), ("compas", ["race"], True)])
def test_every_metric_matches_fairlearn_named_functions(request: pytest.FixtureRequest, dataset: str,
                                                         columns: list[str], weighted: bool) -> None:
    case = _case(request, dataset)
    weights = _weights(case, weighted)
    report = FairnessTest(positive=case.positive, resamples=0).run(case.labels, case.predicted, case.frame[columns],
                                                                    sample_weight=weights)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in CLASSIFICATION_METRICS:
            expected = _named(name)(case.y, case.p, sensitive_features=case.frame[columns], sample_weight=weights)
            assert report.metrics[name] == pytest.approx(float(expected), abs=TOL, rel=TOL, nan_ok=True), name


def test_canned_functions_on_adult(adult: Case) -> None:
    report = FairnessTest(resamples=0).run(adult.labels, adult.predicted, adult.frame[["sex"]])
    assert report.positive == ">50K"
    for name in ("demographic_parity_difference", "demographic_parity_ratio", "equalized_odds_difference",
                 "equalized_odds_ratio", "equal_opportunity_difference", "equal_opportunity_ratio"):
        expected = getattr(flm, name)(adult.y, adult.p, sensitive_features=adult.frame["sex"])
        assert report.metrics[name] == pytest.approx(float(expected), abs=TOL), name


EDGE_CASES = {
    "no TPR anywhere": ([1, 0, 0, 1, 0, 0], [0, 1, 0, 0, 1, 1], "aaabbb"),
    "no FPR anywhere": ([1, 0, 0, 1, 0, 0], [1, 0, 0, 1, 0, 0], "aaabbb"),
    "group without positives": ([1, 1, 0, 0, 0, 0, 0], [1, 0, 1, 0, 1, 0, 0], "aaaabbb"),
    "nobody selected": ([1, 0, 1, 0], [0, 0, 0, 0], "abab"),
    "everybody selected": ([1, 0, 1, 0, 0], [1, 1, 1, 1, 1], "aabbc"),
    "one-row groups": ([1, 0, 1, 1, 0], [1, 1, 0, 1, 0], "abcde"),
}


@pytest.mark.parametrize("name", list(EDGE_CASES))
def test_edge_cases_match_fairlearn_named_functions(name: str) -> None:
    y, p, groups = (np.array(list(v)) if isinstance(v, str) else np.array(v) for v in EDGE_CASES[name])
    report = FairnessTest(resamples=0, positive=1).run(y, p, pd.Series(groups, name="g"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for metric in CLASSIFICATION_METRICS:
            expected = float(_named(metric)(y, p, sensitive_features=groups))
            assert report.metrics[metric] == pytest.approx(expected, abs=TOL, nan_ok=True), (name, metric)


# -- AIF360 ---------------------------------------------------------------------------------------------------------

def _aif360(case: Case, columns: list[str],
            weights: np.ndarray | None) -> tuple[Any, Any, dict[str, dict[object, float]]]:
    """AIF360 datasets of the truth and the predictions, with each sensitive column coded as numbers."""
    codes, lookup = {}, {}
    for column in columns:
        numbers, uniques = pd.factorize(case.frame[column], sort=True)
        codes[column] = numbers.astype(float)
        lookup[column] = {value: float(i) for i, value in enumerate(uniques.tolist())}
    table = pd.DataFrame({**codes, "label": case.y.astype(float)})
    truth = BinaryLabelDataset(df=table, label_names=["label"], protected_attribute_names=columns,
                               favorable_label=1.0, unfavorable_label=0.0,
                               instance_weights_name=None)
    if weights is not None:
        truth.instance_weights = weights.astype(float)
    predicted = truth.copy(deepcopy=True)
    predicted.labels = case.p.reshape(-1, 1).astype(float)
    return truth, predicted, lookup


AIF360_CASES = [("adult", ["sex"], {"sex": "Male"}, False), ("adult", ["sex", "race"], {"race": "White"}, False),
                ("german", ["adult"], {"adult": True}, False), ("german", ["sex", "adult"], {"sex": "male"}, False),
                ("compas", ["race"], {"race": "Caucasian"}, False), ("compas", ["race", "sex"],
                                                                     {"race": "Caucasian", "sex": "Female"}, True)]


@pytest.mark.parametrize(("dataset", "columns", "privileged", "weighted"), AIF360_CASES, ids=_ids(AIF360_CASES))
def test_versus_privileged_matches_aif360(request: pytest.FixtureRequest, dataset: str, columns: list[str],
                                          privileged: dict[str, object], weighted: bool) -> None:
    case = _case(request, dataset)
    weights = _weights(case, weighted)
    report = FairnessTest(positive=case.positive, privileged=privileged, resamples=0).run(
        case.labels, case.predicted, case.frame[columns], sample_weight=weights)
    versus = report.versus_privileged
    assert versus is not None
    truth, predicted, lookup = _aif360(case, columns, weights)
    coded = {c: lookup[c][v] for c, v in privileged.items()}
    aggregate = ClassificationMetric(truth, predicted, privileged_groups=[coded],
                                     unprivileged_groups=_complement(coded, lookup))
    _check_aif360(versus.aggregate.metrics, aggregate)
    assert versus.privileged_rows + versus.aggregate.size == len(case.y)
    for comparison in versus.groups:
        assert comparison.group is not None
        group = {c: lookup[c][comparison.group[c]] for c in columns}
        _check_aif360(comparison.metrics, ClassificationMetric(truth, predicted, privileged_groups=[coded],
                                                               unprivileged_groups=[group]))


@pytest.mark.parametrize("name", list(EDGE_CASES))
def test_edge_cases_match_aif360(name: str) -> None:
    y, p, groups = (np.array(list(v)) if isinstance(v, str) else np.array(v) for v in EDGE_CASES[name])
    versus = FairnessTest(resamples=0, positive=1, privileged={"g": "a"}).run(
        y, p, pd.Series(groups, name="g")).versus_privileged
    assert versus is not None
    codes, uniques = pd.factorize(groups, sort=True)
    table = pd.DataFrame({"g": codes.astype(float), "label": y.astype(float)})
    truth = BinaryLabelDataset(df=table, label_names=["label"], protected_attribute_names=["g"])
    predicted = truth.copy(deepcopy=True)
    predicted.labels = p.reshape(-1, 1).astype(float)
    others = [{"g": float(i)} for i in range(1, len(uniques))]
    _check_aif360(versus.aggregate.metrics, ClassificationMetric(truth, predicted, privileged_groups=[{"g": 0.0}],
                                                                 unprivileged_groups=others))
    for comparison, group in zip(versus.groups, others, strict=True):
        _check_aif360(comparison.metrics, ClassificationMetric(truth, predicted, privileged_groups=[{"g": 0.0}],
                                                               unprivileged_groups=[group]))


def _complement(coded: dict[str, float], lookup: dict[str, dict[object, float]]) -> list[dict[str, float]]:
    """AIF360's way to name 'every row outside the privileged group': the groups that differ in one column."""
    if len(coded) == 1:
        column, value = next(iter(coded.items()))
        return [{column: v} for v in lookup[column].values() if v != value]
    import itertools

    columns = list(coded)
    combos = itertools.product(*(lookup[c].values() for c in columns))
    return [dict(zip(columns, combo, strict=True)) for combo in combos
            if dict(zip(columns, combo, strict=True)) != coded]


def _check_aif360(ours: dict[str, float], metric: Any) -> None:
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore")
        for name, value in ours.items():
            expected = float(getattr(metric, name)())
            np.testing.assert_allclose(value, expected, rtol=TOL, atol=TOL, equal_nan=True, err_msg=name)


# -- calibration ----------------------------------------------------------------------------------------------------

def _reference_ece(y: np.ndarray, scores: np.ndarray, edges: np.ndarray) -> float:
    """ECE with explicit bin masks: bin b holds edges[b] < score <= edges[b + 1], the outer bins open-ended
    (scikit-learn's ``searchsorted`` on the inner edges)."""
    total, last = 0.0, len(edges) - 2
    for b in range(last + 1):
        lower = -np.inf if b == 0 else edges[b]
        upper = np.inf if b == last else edges[b + 1]
        inside = (scores > lower) & (scores <= upper)
        if inside.any():
            total += inside.sum() * abs(y[inside].mean() - scores[inside].mean())
    return total / len(y)


@pytest.mark.parametrize(("dataset", "columns", "strategy"),
                         [("adult", ["sex", "race"], "uniform"), ("adult", ["race"], "quantile"),
                          ("compas", ["race"], "uniform"), ("german", ["sex"], "quantile")])
def test_calibration_matches_scikit_learn(request: pytest.FixtureRequest, dataset: str, columns: list[str],
                                          strategy: str) -> None:
    case = _case(request, dataset)
    report = FairnessTest(positive=case.positive, resamples=0, calibration_strategy=strategy).run(
        case.labels, case.predicted, case.frame[columns], scores=case.scores)
    assert report.calibration is not None
    eces, briers = [], []
    for group in report.groups:
        rows = np.ones(len(case.y), dtype=bool)
        for column in columns:
            rows &= (case.frame[column] == group.group[column]).to_numpy()
        y, s = case.y[rows], case.scores[rows]
        observed, mean = calibration_curve(y, s, n_bins=10, strategy=strategy, pos_label=1)
        cal = group.calibration
        assert cal is not None
        filled = cal.counts > 0
        np.testing.assert_allclose(cal.observed[filled], observed, rtol=TOL, atol=TOL)
        np.testing.assert_allclose(cal.mean_scores[filled], mean, rtol=TOL, atol=TOL)
        assert cal.counts.sum() == rows.sum()
        assert cal.brier == pytest.approx(skm.brier_score_loss(y, s, pos_label=1), abs=TOL)
        assert cal.ece == pytest.approx(_reference_ece(y, s, cal.edges), abs=TOL)
        assert cal.base_rate == pytest.approx(y.mean(), abs=TOL)
        eces.append(cal.ece)
        briers.append(cal.brier)
    assert report.metrics["expected_calibration_error_difference"] == pytest.approx(max(eces) - min(eces), abs=TOL)
    assert report.metrics["brier_score_loss_group_max"] == pytest.approx(max(briers), abs=TOL)


# -- regression -----------------------------------------------------------------------------------------------------

def _mean_error(y_true: np.ndarray, y_pred: np.ndarray, sample_weight: np.ndarray | None = None) -> float:
    return float(np.average(y_pred - y_true, weights=sample_weight))


REGRESSION_FUNCS = {"mean_prediction": flm.mean_prediction, "mean_error": _mean_error,
                    "mean_absolute_error": skm.mean_absolute_error, "mean_squared_error": skm.mean_squared_error,
                    "root_mean_squared_error": skm.root_mean_squared_error, "r2": skm.r2_score}
REGRESSION_BASES = {"mean_absolute_error": "mean_absolute_error", "mean_squared_error": "mean_squared_error",
                    "root_mean_squared_error": "root_mean_squared_error", "mean_prediction": "mean_prediction",
                    "mean_error": "mean_error", "r2_score": "r2"}


@pytest.mark.parametrize(("columns", "weighted"), [(["sex"], False), (["sex", "race"], False), (["race"], True)])
def test_regression_matches_metricframe(adult: Case, columns: list[str], weighted: bool) -> None:
    df = adult.frame
    x = df[["age", "education-num", "capital-gain"]].to_numpy(float)
    y = df["hours-per-week"].to_numpy(float)
    pred = LinearRegression().fit(x, y).predict(x)
    weights = np.random.default_rng(5).uniform(0.5, 2.0, len(y)) if weighted else None
    report = FairnessTest(resamples=0).run(y, pred, df[columns], sample_weight=weights)
    assert report.task == "regression"
    params = None if weights is None else {name: {"sample_weight": weights} for name in REGRESSION_FUNCS}
    frame = flm.MetricFrame(metrics={**REGRESSION_FUNCS}, y_true=y, y_pred=pred, sensitive_features=df[columns],
                            sample_params=params)
    counts = flm.MetricFrame(metrics=flm.count, y_true=y, y_pred=pred, sensitive_features=df[columns]).by_group
    by_group = frame.by_group.assign(count=counts)
    _check_groups(report, by_group, columns, list(REGRESSION_FUNCS))
    assert set(report.metrics) == set(REGRESSION_METRICS)
    for name in REGRESSION_METRICS:
        suffix = next(s for s in ("_difference", "_ratio", "_group_min", "_group_max") if name.endswith(s))
        expected = getattr(frame, suffix[1:])()[REGRESSION_BASES[name[: -len(suffix)]]]
        assert report.metrics[name] == pytest.approx(float(expected), abs=TOL, rel=TOL), name
    for name in ("mean_absolute_error_group_max", "mean_squared_error_group_max", "r2_score_group_min"):
        named = getattr(flm, name)(y, pred, sensitive_features=df[columns], sample_weight=weights)
        assert report.metrics[name] == pytest.approx(float(named), abs=TOL, rel=TOL), name
