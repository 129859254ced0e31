"""Mitigations: reweighing weights against AIF360, and before/after runs of reweighing, Fairlearn's
ThresholdOptimizer and ExponentiatedGradient on biased synthetic data."""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from bastion.data.files import DataError
from bastion.model.fairness.groups import GroupIndex
from bastion.model.fairness.mitigation import Mitigation, reweighing_weights

RAW = Path(__file__).resolve().parents[2].parent / "shared/data/fairness/raw"


@pytest.fixture(scope="module")
def aif360() -> Any:
    """AIF360's dataset and Reweighing classes, imported with its optional-dependency warnings silenced."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from aif360.algorithms.preprocessing import Reweighing
            from aif360.datasets import BinaryLabelDataset
    finally:
        root.setLevel(level)
    return BinaryLabelDataset, Reweighing


def _raw(name: str) -> pd.DataFrame:
    if not (RAW / name).is_file():
        pytest.skip("../shared/data/fairness absent")
    return pd.read_csv(RAW / name)


def _aif360_weights(aif360: Any, protected: np.ndarray, labels: np.ndarray,
                    instance_weights: np.ndarray | None = None) -> np.ndarray:
    dataset_cls, reweighing_cls = aif360
    df = pd.DataFrame({"s": protected.astype(float), "y": labels.astype(float)})
    extra = {}
    if instance_weights is not None:
        df["w"] = instance_weights
        extra = {"instance_weights_name": "w"}
    dataset = dataset_cls(df=df, label_names=["y"], protected_attribute_names=["s"], favorable_label=1.0,
                          unfavorable_label=0.0, **extra)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        transformed = reweighing_cls(unprivileged_groups=[{"s": 0.0}], privileged_groups=[{"s": 1.0}]
                                     ).fit_transform(dataset)
    return np.asarray(transformed.instance_weights, dtype=np.float64)


def _biased(n: int = 3000, seed: int = 0) -> pd.DataFrame:
    """Group ``a`` has higher scores and labels; ``city`` leaks the group."""
    rng = np.random.default_rng(seed)
    group = rng.choice(["a", "b"], n, p=[0.6, 0.4])
    city = np.where(rng.random(n) < 0.8, np.where(group == "a", "x", "y"), rng.choice(["x", "y", "z"], n))
    skill = rng.normal(size=n) + (group == "a")
    label = np.where(skill + 0.8 * (group == "a") + rng.normal(size=n) > 0.8, "hired", "rejected")
    return pd.DataFrame({"city": city, "skill": skill, "group": group, "label": label})


def _pipeline() -> Pipeline:
    prep = ColumnTransformer([("cat", OneHotEncoder(handle_unknown="ignore"), ["city"]),
                              ("num", StandardScaler(), ["skill"])])
    return Pipeline([("prep", prep), ("clf", LogisticRegression())])


# ---- reweighing weights ----


def test_reweighing_weights_equal_aif360_on_synthetic_data(aif360: Any) -> None:
    rng = np.random.default_rng(0)
    s = rng.integers(0, 2, 5000)
    y = (rng.random(5000) < np.where(s == 1, 0.6, 0.3)).astype(int)
    ours = reweighing_weights(pd.Series(s, name="s"), y)
    np.testing.assert_allclose(ours, _aif360_weights(aif360, s, y), rtol=0, atol=1e-12)
    instance = rng.uniform(0.5, 2.0, 5000)
    np.testing.assert_allclose(reweighing_weights({"s": s}, y, sample_weight=instance),
                               _aif360_weights(aif360, s, y, instance), rtol=0, atol=1e-12)


def test_reweighing_makes_labels_independent_of_groups() -> None:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"sex": rng.choice(["F", "M"], 4000), "race": rng.choice(["p", "q", "r"], 4000)})
    y = np.where(rng.random(4000) < np.where(frame["sex"] == "M", 0.5, 0.2), "yes", "no")
    w = reweighing_weights(frame, y, positive="yes")
    index = GroupIndex.from_columns(frame)
    overall = np.mean(y == "yes")
    for g in range(index.n_groups):
        rows = index.codes == g
        assert np.sum(w[rows] * (y[rows] == "yes")) / np.sum(w[rows]) == pytest.approx(overall, abs=1e-12)
    assert w.sum() == pytest.approx(len(y))
    same = reweighing_weights(pd.Series(frame["sex"] + "|" + frame["race"]), y)  # intersection = one combined column
    np.testing.assert_allclose(w, same, rtol=0, atol=1e-12)


def test_reweighing_weights_equal_aif360_on_adult_and_german(aif360: Any) -> None:
    adult = _raw("adult.csv")
    s = (adult["sex"] == "Male").to_numpy().astype(int)
    y = (adult["income-per-year"] == ">50K").to_numpy().astype(int)
    np.testing.assert_allclose(reweighing_weights(adult["sex"], adult["income-per-year"], positive=">50K"),
                               _aif360_weights(aif360, s, y), rtol=0, atol=1e-12)
    german = _raw("german.csv")
    female = german["personal_status"].isin(["A92", "A95"])
    s = (~female).to_numpy().astype(int)
    y = (german["credit"] == 1).to_numpy().astype(int)
    np.testing.assert_allclose(reweighing_weights({"sex": s}, german["credit"], positive=1),
                               _aif360_weights(aif360, s, y), rtol=0, atol=1e-12)


def test_reweighing_weights_bad_input() -> None:
    with pytest.raises(ValueError, match="labels: 3 values for 4 rows"):
        reweighing_weights(["a", "b", "a", "b"], [1, 0, 1])
    with pytest.raises(ValueError, match="labels: missing at row 1"):
        reweighing_weights(["a", "b", "a", "b"], [1, None, 1, 0])
    with pytest.raises(ValueError, match="positive: 'yes' is not one of the labels"):
        reweighing_weights(["a", "b"], [1, 0], positive="yes")
    with pytest.raises(ValueError, match="sample_weight: row 1 holds"):
        reweighing_weights(["a", "b"], [1, 0], sample_weight=[1.0, -1.0])


# ---- mitigations ----


@pytest.fixture(scope="module")
def biased() -> pd.DataFrame:
    return _biased()


@pytest.mark.parametrize("method", ["reweighing", "threshold", "exponentiated_gradient"])
def test_each_method_reduces_demographic_parity_difference(biased: pd.DataFrame, method: str) -> None:
    result = Mitigation(method, max_iter=15, positive="hired").run(_pipeline(), biased, "label", ["group"])
    before = result.before.metrics["demographic_parity_difference"]
    after = result.after.metrics["demographic_parity_difference"]
    assert before > 0.3
    assert after < 0.6 * before, (method, before, after)
    assert 0.6 < result.after.accuracy <= 1 and 0.6 < result.before.accuracy <= 1
    assert result.positive == "hired" and result.features == ("city", "skill")  # unfitted: sensitive left out
    assert result.train_rows == 2100 and result.test_rows == 900
    data = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert data["method"] == method and data["constraint"] == "demographic_parity"
    assert {"accuracy", "balanced_accuracy", "metrics"} <= set(data["before"]) and "metrics" in data["after"]
    assert data["change"]["demographic_parity_difference"] == pytest.approx(after - before)
    assert data["change"]["accuracy"] == pytest.approx(result.after.accuracy - result.before.accuracy)


def test_threshold_equalized_odds_reduces_its_gap(biased: pd.DataFrame) -> None:
    result = Mitigation("threshold", constraint="equalized_odds").run(_pipeline(), biased, "label", "group")
    assert result.constraint == "equalized_odds"
    before = result.before.metrics["equalized_odds_difference"]
    assert result.after.metrics["equalized_odds_difference"] < 0.6 * before
    assert any("sensitive attribute at prediction" in w for w in result.warnings)


def test_runs_are_deterministic_and_seeded(biased: pd.DataFrame) -> None:
    small = biased.iloc[:1500]
    first = Mitigation("exponentiated_gradient", max_iter=5, seed=4).run(_pipeline(), small, "label", ["group"])
    second = Mitigation("exponentiated_gradient", max_iter=5, seed=4).run(_pipeline(), small, "label", ["group"])
    assert first.to_dict() == second.to_dict()
    assert first.model.estimator.get_params()["clf__random_state"] == 4  # unset random_state -> seed


def test_fitted_estimator_keeps_the_columns_it_was_trained_on(biased: pd.DataFrame) -> None:
    frame = biased.assign(is_a=(biased["group"] == "a").astype(int))
    fitted = LogisticRegression().fit(frame[["skill", "is_a"]], frame["label"])
    result = Mitigation("reweighing").run(fitted, frame, "label", ["group"])
    assert result.features == ("skill", "is_a")
    assert result.after.metrics["demographic_parity_difference"] < result.before.metrics[
        "demographic_parity_difference"]
    arrays = LogisticRegression().fit(frame[["skill", "is_a"]].to_numpy(), frame["label"])
    with pytest.raises(ValueError, match="takes 2 features.*features="):
        Mitigation("threshold").run(arrays, frame, "label", ["group"])
    assert Mitigation("threshold").run(arrays, frame, "label", ["group"], features=["skill", "is_a"]).features == (
        "skill", "is_a")


def test_multiclass_target_needs_a_positive_label(biased: pd.DataFrame) -> None:
    frame = biased.assign(grade=np.where(biased["skill"] > 1.5, "top", biased["label"]))
    with pytest.raises(ValueError, match="3 label.*positive="):
        Mitigation("threshold").run(_pipeline(), frame.drop(columns="label"), "grade", ["group"])
    result = Mitigation("threshold", positive="top").run(_pipeline(), frame.drop(columns="label"), "grade", ["group"])
    assert result.positive == "top"


def test_models_that_cannot_be_refitted_or_weighted_are_refused(biased: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="KNeighborsClassifier.fit takes no sample_weight.*threshold"):
        Mitigation("reweighing").run(KNeighborsClassifier(), biased, "label", ["group"], features=["skill"])
    knn = Pipeline([("clf", KNeighborsClassifier())])
    with pytest.raises(ValueError, match="exponentiated_gradient: KNeighborsClassifier.fit takes no sample_weight"):
        Mitigation("exponentiated_gradient").run(knn, biased, "label", ["group"], features=["skill"])
    assert Mitigation("threshold").run(knn, biased, "label", ["group"], features=["skill"]).test_rows == 900

    class Scorer:
        def predict(self, x: Any) -> np.ndarray:
            return np.zeros(len(x))

    with pytest.raises(ValueError, match="not a scikit-learn estimator"):
        Mitigation("threshold").run(Scorer(), biased, "label", ["group"])
    with pytest.raises(ValueError, match="regressor"):
        Mitigation("reweighing").run(LinearRegression(), biased, "label", ["group"], features=["skill"])


def test_bad_options_and_data_give_clear_errors(biased: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="method must be one of"):
        Mitigation("magic")
    with pytest.raises(ValueError, match="constraint must be one of .* for threshold"):
        Mitigation("threshold", constraint="error_rate_parity")
    with pytest.raises(ValueError, match="constraint must be one of .* for exponentiated_gradient"):
        Mitigation("exponentiated_gradient", constraint="true_negative_rate_parity")
    for kwargs, name in [({"test_size": 1.5}, "test_size"), ({"eps": 0}, "eps"), ({"max_iter": 0}, "max_iter"),
                         ({"objective": "f1"}, "objective"), ({"seed": -1}, "seed")]:
        with pytest.raises(ValueError, match=name):
            Mitigation("threshold", **kwargs)
    with pytest.raises(DataError, match="no sensitive column 'sex'"):
        Mitigation("threshold").run(_pipeline(), biased, "label", ["sex"])
    with pytest.raises(ValueError, match="cannot also be sensitive"):
        Mitigation("threshold").run(_pipeline(), biased, "label", ["label"])
    with pytest.raises(DataError, match="target column 'label' is empty at row 0"):
        Mitigation("threshold").run(_pipeline(), biased.assign(label=biased["label"].where(biased.index > 0)),
                                    "label", ["group"])
    with pytest.raises(ValueError, match="every row is"):
        Mitigation("threshold", positive="hired").run(_pipeline(), biased[biased["label"] == "hired"], "label",
                                                      ["group"])
