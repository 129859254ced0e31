"""Model performance: realised metrics against scikit-learn, CBPE estimates on synthetic models, merging, formats."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
from scipy import stats
from sklearn import metrics as skm

from bastion.monitor import performance as perf
from bastion.monitor.performance import PerformanceProfile

WEIGHTS = np.array([1.5, -1.0])


def _expit(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _binary(n: int, seed: int, scale: float = 2.0, temperature: float = 1.0
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels drawn from a logistic model; the model reports the true probability (temperature 1) or a sharpened one.

    A smaller ``scale`` puts the features nearer the decision boundary: covariate shift that lowers accuracy.
    """
    rng = np.random.default_rng(seed)
    logit = rng.normal(0.0, scale, size=(n, 2)) @ WEIGHTS
    y = (rng.random(n) < _expit(logit)).astype(int)
    proba = _expit(temperature * logit)
    return y, (proba > 0.5).astype(int), proba


def _multiclass(n: int, seed: int, scale: float = 1.5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    logits = rng.normal(0.0, scale, size=(n, 2)) @ np.array([[2.0, -1.0, 0.0], [0.0, 1.5, -1.5]])
    proba = np.exp(logits - logits.max(axis=1, keepdims=True))
    proba /= proba.sum(axis=1, keepdims=True)
    labels = np.array(["ant", "bee", "cat"])
    y = labels[(rng.random(n)[:, None] > np.cumsum(proba, axis=1)).sum(axis=1)]
    return y, labels[proba.argmax(axis=1)], proba


def _assert_same_state(left: dict[str, Any], right: dict[str, Any]) -> None:
    """Equal serialised states: integers exactly, float sums up to rounding (summation order differs)."""
    assert left.keys() == right.keys()
    for key, value in left.items():
        if isinstance(value, float):
            assert value == pytest.approx(right[key], rel=1e-9, abs=1e-9), key
        elif key == "calibration":
            assert value["total"] == right[key]["total"]
            assert value["positives"] == right[key]["positives"]
            np.testing.assert_allclose(value["sum_proba"], right[key]["sum_proba"], rtol=1e-9)
        else:
            assert value == right[key], key


# ----------------------------------------------------------------------------- realised metrics


def test_binary_metrics_agree_with_sklearn() -> None:
    y, pred, proba = _binary(3000, seed=1)
    profile = PerformanceProfile().update(y, pred, proba)
    got = profile.metrics()
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert got["precision"] == pytest.approx(skm.precision_score(y, pred))
    assert got["recall"] == pytest.approx(skm.recall_score(y, pred))
    assert got["f1"] == pytest.approx(skm.f1_score(y, pred))
    assert got["macro_f1"] == pytest.approx(skm.f1_score(y, pred, average="macro"))
    np.testing.assert_array_equal(profile.confusion, skm.confusion_matrix(y, pred))
    assert profile.classes == ("0", "1") and profile.binary


def test_multiclass_text_labels_agree_with_sklearn_including_a_class_never_predicted() -> None:
    y, pred, _ = _multiclass(2000, seed=2)
    pred = np.where(pred == "cat", "bee", pred)  # "cat" is never predicted: precision 0/0 counts as 0
    got = PerformanceProfile().update(y, pred).metrics()
    assert set(got) == {"accuracy", "macro_precision", "macro_recall", "macro_f1"}
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    for name in ("precision", "recall", "f1"):
        expected = getattr(skm, f"{name}_score")(y, pred, average="macro", zero_division=0)
        assert got[f"macro_{name}"] == pytest.approx(expected), name


def test_realised_accuracy_drop_is_detected_and_matches_sklearn() -> None:
    y, pred, proba = _binary(5000, seed=3)
    profile = PerformanceProfile().update(y, pred, proba)
    y2, pred2, _ = _binary(3000, seed=4)
    flip = np.random.default_rng(5).random(y2.size) < 0.15
    worse = np.where(flip, 1 - pred2, pred2)
    result = perf.test_performance(profile, y2, worse, alpha=0.01)
    assert result.name == "performance" and result.drift and result.p_value is not None and result.p_value < 1e-6
    current = skm.accuracy_score(y2, worse)
    assert result.details["current"]["accuracy"] == pytest.approx(current)
    assert result.details["current"]["macro_f1"] == pytest.approx(skm.f1_score(y2, worse, average="macro"))
    assert result.effect_size == pytest.approx(profile.metrics()["accuracy"] - current)
    # Pooled two-proportion z-test, one-sided.
    n1, n2, a1 = profile.n, y2.size, profile.metrics()["accuracy"]
    pooled = (a1 * n1 + current * n2) / (n1 + n2)
    z = (a1 - current) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    assert result.statistic == pytest.approx(z) and result.p_value == pytest.approx(stats.norm.sf(z))
    json.dumps(result.to_dict())


def test_realised_performance_on_same_distribution_rarely_alarms() -> None:
    y, pred, _ = _binary(5000, seed=6)
    profile = PerformanceProfile().update(y, pred)
    alarms = [perf.test_performance(profile, *_binary(2000, seed=100 + seed)[:2]).drift for seed in range(20)]
    assert sum(alarms) <= 3  # alpha 0.05 over 20 seeds: 1 expected, P(4 or more) is about 1.6%


def test_regression_metrics_and_welch_test_agree_with_sklearn_and_scipy() -> None:
    rng = np.random.default_rng(7)
    truth = rng.normal(10.0, 3.0, 4000)
    errors = rng.normal(0.2, 1.0, truth.size)
    profile = PerformanceProfile("regression").update(truth, truth + errors)
    current_truth = rng.normal(10.0, 3.0, 1500)
    current_pred = current_truth + rng.normal(0.2, 1.2, current_truth.size)
    result = perf.test_performance(profile, current_truth, current_pred)
    details = result.details
    assert details["reference"]["mae"] == pytest.approx(skm.mean_absolute_error(truth, truth + errors))
    assert details["current"]["mae"] == pytest.approx(skm.mean_absolute_error(current_truth, current_pred))
    assert details["current"]["rmse"] == pytest.approx(skm.root_mean_squared_error(current_truth, current_pred))
    welch = stats.ttest_ind(np.abs(current_pred - current_truth), np.abs(errors), equal_var=False,
                            alternative="greater")
    assert result.statistic == pytest.approx(welch.statistic)
    assert result.p_value == pytest.approx(welch.pvalue)
    assert result.drift
    assert result.effect_size == pytest.approx(details["current"]["mae"] / details["reference"]["mae"] - 1)


def test_regression_without_change_does_not_alarm() -> None:
    rng = np.random.default_rng(8)
    profile = PerformanceProfile("regression").update(np.zeros(5000), rng.normal(0, 1, 5000))
    result = perf.test_performance(profile, np.zeros(2000), rng.normal(0, 1, 2000))
    assert not result.drift and result.p_value is not None and result.p_value > 0.05


# ----------------------------------------------------------------------------- estimation (CBPE)


def _realised(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    return {"accuracy": skm.accuracy_score(y, pred), "f1": skm.f1_score(y, pred),
            "precision": skm.precision_score(y, pred), "recall": skm.recall_score(y, pred)}


@pytest.mark.parametrize("seed", [10, 11, 12])
def test_cbpe_estimates_a_calibrated_model_within_a_few_standard_errors(seed: int) -> None:
    profile = PerformanceProfile(classes=[0, 1]).update(*_binary(20_000, seed=seed))
    y, pred, proba = _binary(4000, seed=seed + 50)
    result = perf.estimate_performance(profile, pred, proba)
    assert result.name == "estimated_performance" and result.p_value is None and not result.drift
    for name, value in _realised(y, pred).items():
        error = result.details["standard_error"][name]
        assert 0 < error < 0.05
        assert abs(result.details["estimated"][name] - value) < 3 * error, name


def test_cbpe_follows_covariate_shift_toward_the_boundary_and_alarms() -> None:
    profile = PerformanceProfile().update(*_binary(20_000, seed=20))
    y, pred, proba = _binary(4000, seed=21, scale=0.7)
    truth = _realised(y, pred)
    reference = profile.metrics()["accuracy"]
    assert reference - truth["accuracy"] > 0.1  # the shift really hurts
    result = perf.estimate_performance(profile, pred, proba)
    estimate, error = result.details["estimated"]["accuracy"], result.details["standard_error"]["accuracy"]
    assert abs(estimate - truth["accuracy"]) < 3 * error
    assert result.drift and result.statistic is not None and result.statistic > 3
    assert result.effect_size == pytest.approx(reference - estimate)
    assert result.details["threshold"] < reference
    json.dumps(result.to_dict())


def test_cbpe_recalibrates_an_overconfident_model() -> None:
    profile = PerformanceProfile().update(*_binary(20_000, seed=30, temperature=2.5))
    y, pred, proba = _binary(4000, seed=31, scale=1.0, temperature=2.5)
    accuracy = skm.accuracy_score(y, pred)
    naive = float(np.maximum(proba, 1 - proba).mean())  # the raw confidence overstates accuracy
    result = perf.estimate_performance(profile, pred, proba, max_calibration_error=0.02)
    error = result.details["standard_error"]["accuracy"]
    assert naive - accuracy > 5 * error
    assert abs(result.details["estimated"]["accuracy"] - accuracy) < 3 * error
    assert result.details["reference_calibration_error"] > 0.02
    assert result.message is not None and "poorly calibrated" in result.message


def test_cbpe_does_not_alarm_on_the_reference_distribution() -> None:
    profile = PerformanceProfile().update(*_binary(20_000, seed=40))
    alarms = [perf.estimate_performance(profile, *_binary(2000, seed=200 + seed)[1:], metric=metric).drift
              for seed in range(8) for metric in ("accuracy", "f1")]
    assert not any(alarms)  # 3 standard errors one-sided: about 0.1% per test


def test_cbpe_multiclass_accuracy_and_macro_f1() -> None:
    profile = PerformanceProfile(classes=["ant", "bee", "cat"]).update(*_multiclass(20_000, seed=50))
    y, pred, proba = _multiclass(4000, seed=51, scale=0.8)
    result = perf.estimate_performance(profile, pred, proba, metric="macro_f1")
    for name, value in (("accuracy", skm.accuracy_score(y, pred)),
                        ("macro_f1", skm.f1_score(y, pred, average="macro"))):
        assert abs(result.details["estimated"][name] - value) < 3 * result.details["standard_error"][name], name
    assert result.drift  # features nearer the boundaries: macro F1 falls
    assert np.asarray(result.details["expected_confusion"]).sum() == pytest.approx(4000)


def test_standard_error_matches_the_spread_of_realised_accuracy() -> None:
    profile = PerformanceProfile().update(*_binary(20_000, seed=60))
    accuracies, errors = [], []
    for seed in range(40):
        y, pred, proba = _binary(1000, seed=300 + seed)
        accuracies.append(skm.accuracy_score(y, pred))
        errors.append(perf.estimate_performance(profile, pred, proba).details["standard_error"]["accuracy"])
    # The realised accuracy of 1000 rows spreads by the marginal standard error the estimate reports.
    assert np.std(accuracies, ddof=1) == pytest.approx(np.mean(errors), rel=0.3)


# ----------------------------------------------------------------------------- merging and formats


def test_merge_of_partitions_equals_one_update() -> None:
    y, pred, proba = _binary(6000, seed=70)
    whole = PerformanceProfile(classes=[0, 1]).update(y, pred, proba)
    left = PerformanceProfile(classes=[0, 1]).update(y[:2500], pred[:2500], proba[:2500])
    right = PerformanceProfile(classes=[0, 1]).update(y[2500:], pred[2500:], proba[2500:])
    merged = left.merge(right)
    _assert_same_state(merged.to_dict(), whole.to_dict())
    assert left.n == 2500 and merged.n == 6000  # merge leaves its inputs alone
    np.testing.assert_allclose(merged.calibrate(proba[:50]), whole.calibrate(proba[:50]))


def test_merge_unites_inferred_classes_of_partitions_that_miss_some() -> None:
    y, pred, _ = _multiclass(3000, seed=71)
    only_ant = y == "ant"
    left = PerformanceProfile().update(y[only_ant], y[only_ant])
    right = PerformanceProfile().update(y[~only_ant], pred[~only_ant])
    merged = left.merge(right)
    whole = PerformanceProfile().update(np.concatenate([y[only_ant], y[~only_ant]]),
                                        np.concatenate([y[only_ant], pred[~only_ant]]))
    assert merged == whole and merged.classes == ("ant", "bee", "cat") and left.classes == ("ant",)


def test_merge_regression_sums() -> None:
    rng = np.random.default_rng(72)
    truth, pred = rng.normal(size=5000), rng.normal(size=5000)
    whole = PerformanceProfile("regression").update(truth, pred)
    merged = (PerformanceProfile("regression").update(truth[:1234], pred[:1234])
              .merge(PerformanceProfile("regression").update(truth[1234:], pred[1234:])))
    _assert_same_state(merged.to_dict(), whole.to_dict())


def test_merge_refuses_different_settings() -> None:
    with pytest.raises(ValueError, match="settings differ"):
        PerformanceProfile().merge(PerformanceProfile("regression"))
    with pytest.raises(ValueError, match="classes differ"):
        PerformanceProfile(classes=[0, 1]).merge(PerformanceProfile(classes=[0, 2]))
    calibrated = PerformanceProfile().update([0, 1], [0, 1], [0.2, 0.8])
    with pytest.raises(ValueError, match="probabilities were counted"):
        calibrated.merge(PerformanceProfile().update([0, 2], [2, 2]))


@pytest.mark.parametrize("kind", ["binary", "multiclass", "regression", "empty"])
def test_round_trip_through_json(kind: str) -> None:
    if kind == "binary":
        profile = PerformanceProfile().update(*_binary(500, seed=80))
    elif kind == "multiclass":
        profile = PerformanceProfile(classes=["ant", "bee", "cat"], n_bins=20).update(*_multiclass(500, seed=81))
    elif kind == "regression":
        profile = PerformanceProfile("regression").update([1.0, 2.0, 3.5], [1.5, 2.0, 2.0])
    else:
        profile = PerformanceProfile()
    data = json.loads(json.dumps(profile.to_dict()))
    again = PerformanceProfile.from_dict(data)
    assert again == profile and again.to_dict() == data


@pytest.mark.parametrize(("edit", "key"), [
    (lambda d: d.pop("confusion"), "confusion"),
    (lambda d: d.update(confusion=[[1, 2], [3]]), "confusion"),
    (lambda d: d.update(confusion=[[1, -2], [3, 4]]), "confusion"),
    (lambda d: d.update(confusion=[[1, True], [3, 4]]), "confusion"),
    (lambda d: d.update(classes=[0, 1]), "classes"),
    (lambda d: d.update(classes_fixed="yes"), "classes_fixed"),
    (lambda d: d.update(n_bins="50"), "n_bins"),
    (lambda d: d.update(format="other"), "format"),
    (lambda d: d["calibration"].update(positives=[[0] * 50, [10**9] * 50]), "calibration"),
    (lambda d: d["calibration"].pop("sum_proba"), "calibration.sum_proba"),
])
def test_from_dict_names_the_bad_key(edit: Any, key: str) -> None:
    data = PerformanceProfile().update(*_binary(200, seed=82)).to_dict()
    edit(data)
    with pytest.raises(ValueError, match=key):
        PerformanceProfile.from_dict(data)


def test_from_dict_regression_keys() -> None:
    data = PerformanceProfile("regression").update([1.0], [2.0]).to_dict()
    data["sum_abs_error"] = -1.0
    with pytest.raises(ValueError, match="sum_abs_error"):
        PerformanceProfile.from_dict(data)
    data["sum_abs_error"] = float("nan")
    with pytest.raises(ValueError, match="sum_abs_error"):
        PerformanceProfile.from_dict(data)


# ----------------------------------------------------------------------------- bad input


def test_bad_input_raises_clear_errors() -> None:
    profile = PerformanceProfile(classes=[0, 1])
    with pytest.raises(ValueError, match="y_true has 3 rows but y_pred has 2"):
        profile.update([0, 1, 1], [0, 1])
    with pytest.raises(ValueError, match=r"y_pred has labels not among .* '7'"):
        profile.update([0, 1], [0, 7])
    with pytest.raises(ValueError, match="1 rows with probabilities that are NaN"):
        profile.update([0, 1], [0, 1], [0.2, float("nan")])
    with pytest.raises(ValueError, match="outside"):
        profile.update([0, 1], [0, 1], [0.2, 1.5])
    with pytest.raises(ValueError, match="proba has 3 rows"):
        profile.update([0, 1], [0, 1], [0.2, 0.5, 0.3])
    with pytest.raises(ValueError, match="y_true has 1 missing labels"):
        profile.update([0, None], [0, 1])
    assert profile.n == 0  # a rejected batch changes nothing
    three = PerformanceProfile(classes=["a", "b", "c"])
    with pytest.raises(ValueError, match="1-D"):
        three.update(["a"], ["b"], [0.5])
    with pytest.raises(ValueError, match="do not sum to 1"):
        three.update(["a"], ["b"], [[0.5, 0.6, 0.1]])
    with pytest.raises(ValueError, match="NaN or infinite"):
        PerformanceProfile("regression").update([1.0, np.inf], [1.0, 2.0])


def test_current_data_is_checked_too() -> None:
    profile = PerformanceProfile().update(*_binary(500, seed=90))
    with pytest.raises(ValueError, match="y_true has labels not among"):
        perf.test_performance(profile, [0, 2], [0, 1])
    with pytest.raises(ValueError, match="proba has 2 rows but the labels have 3"):
        perf.estimate_performance(profile, [0, 1, 1], [0.1, 0.9])
    with pytest.raises(ValueError, match="no probabilities"):
        perf.estimate_performance(PerformanceProfile().update([0, 1], [0, 1]), [0], [0.3])
    with pytest.raises(ValueError, match="metric must be one of"):
        perf.estimate_performance(profile, [0], [0.3], metric="auc")
    with pytest.raises(ValueError, match="alpha"):
        perf.test_performance(profile, [0], [0], alpha=1.5)
    empty = perf.test_performance(profile, [], [])
    assert not empty.drift and empty.message == "no current rows to test"


def test_inferred_classes_cannot_grow_after_probabilities() -> None:
    profile = PerformanceProfile().update([0, 1], [0, 1], [0.3, 0.7])
    with pytest.raises(ValueError, match="pass classes="):
        profile.update([2], [2])
    assert profile.classes == ("0", "1")


def test_labels_of_mixed_spelling_meet() -> None:
    profile = PerformanceProfile().update(np.array([0.0, 1.0, 1.0]), [0, 1, "1"])
    assert profile.classes == ("0", "1") and profile.metrics()["accuracy"] == 1.0
