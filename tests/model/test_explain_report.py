"""ExplainTest reports and per-decision records; a corpus test on Adult (skipped when ../shared/data is absent)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder

import bastion.model.explain.shapley as shapley
from bastion.model.explain.records import Contribution, LocalExplanation, display_value, local_explanations
from bastion.model.explain.report import ExplainTest
from bastion.model.explain.shapley import ShapExplainer
from bastion.model.tabular import as_tabular, read_frame

FAIRNESS = Path(__file__).resolve().parents[2].parent / "shared/data/fairness/raw"

REPORT_KEYS = {"model", "method", "output", "rows", "importance", "shap", "local", "checks", "warnings"}


def _people(n: int = 500, seed: int = 2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"colour": rng.choice(["red", "green", "blue"], n), "size": rng.normal(size=n),
                          "town": rng.choice(["x", "y"], n), "weight": rng.normal(size=n)})
    frame.loc[rng.random(n) < 0.05, "town"] = None
    score = 1.5 * (frame["colour"] == "red") + frame["size"] + rng.normal(0, .3, n)
    frame["label"] = np.where(score > 0.8, "yes", "no")
    return frame


def _fit(frame: pd.DataFrame, final: object) -> Pipeline:
    text = make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore"))
    prep = ColumnTransformer([("text", text, ["colour", "town"])], remainder="passthrough")
    return Pipeline([("prep", prep), ("model", final)]).fit(frame.drop(columns="label"), frame["label"])


@pytest.fixture(scope="module")
def people() -> pd.DataFrame:
    return _people()


@pytest.fixture(scope="module")
def forest(people: pd.DataFrame) -> Pipeline:
    return _fit(people, RandomForestClassifier(n_estimators=30, max_depth=6, random_state=0))


def test_report_on_a_tree_pipeline(people: pd.DataFrame, forest: Pipeline) -> None:
    report = ExplainTest(sample=100, background=50, repeats=3).run(forest, people, "label")
    data = report.to_dict()
    json.dumps(data)  # plain JSON types only
    assert set(data) >= REPORT_KEYS and data["method"] == "tree" and data["output"] == "P(yes)"
    assert data["rows"] == list(range(10)) and len(data["local"]) == 10  # the first ten rows by default
    assert [item["feature"] for item in data["importance"]][:2] in (["colour", "size"], ["size", "colour"])
    assert data["importance"][0]["mean"] >= data["importance"][-1]["mean"]
    assert {item["feature"] for item in data["shap"]} == {"colour", "size", "town", "weight"}
    assert data["shap"][0]["mean_abs"] >= data["shap"][-1]["mean_abs"] > 0
    checks = data["checks"]
    assert checks["additivity_ok"] and checks["additivity_max_error"] <= 1e-6
    assert checks["ranking_stability"]["importance"]["stable"] and checks["ranking_stability"]["shap"] is None
    assert data["warnings"] == [] and report.additivity_ok
    first = data["local"][0]
    assert first["output"] == f"P({forest.predict(people.iloc[[0]])[0]})" and first["method"] == "tree"
    assert abs(first["base_value"] + sum(c["contribution"] for c in first["contributions"]) + first["rest"]
               - first["value"]) <= 1e-6


def test_report_without_target_skips_importance_and_checks_sampled_shap(people: pd.DataFrame) -> None:
    linear = _fit(people, LogisticRegression())
    report = ExplainTest(rows=[3, 7], sample=40, background=30, permutations=4, top=2).run(
        linear, people.drop(columns="label"))
    data = report.to_dict()
    assert data["importance"] == [] and "no target" in str(data["importance_skipped"])
    assert data["method"] == "permutation" and data["rows"] == [3, 7]
    assert data["checks"]["additivity_max_error"] <= 1e-12
    stability = data["checks"]["ranking_stability"]["shap"]
    assert stability is not None and stability["seeds"] == [0, 1] and stability["stable"]
    assert all(len(record["contributions"]) == 2 for record in data["local"])
    assert any("LogisticRegression" in note for note in data["notes"])


def test_failed_checks_are_warnings_not_errors(people: pd.DataFrame, forest: Pipeline,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    real = shapley._tree_outputs

    def off_by_a_little(*args: object) -> shapley._AllOutputs:
        outs = real(*args)  # type: ignore[arg-type]
        return shapley._AllOutputs(values=outs.values, base=outs.base + 1e-3, f=outs.f, names=outs.names,
                                   space=outs.space, perturbation=outs.perturbation, done=outs.done)

    monkeypatch.setattr(shapley, "_tree_outputs", off_by_a_little)
    report = ExplainTest(sample=30, background=20).run(forest, people)
    assert not report.additivity_ok and report.to_dict()["checks"]["additivity_ok"] is False
    assert any(w.startswith("additivity: local") for w in report.warnings)


def test_additivity_tolerance_follows_the_output_scale() -> None:
    rng = np.random.default_rng(4)
    frame = pd.DataFrame({"months": rng.integers(4, 72, 400), "age": rng.integers(19, 75, 400)})
    amount = 150.0 * frame["months"] + 20.0 * frame["age"] + rng.normal(0, 500, 400)
    model = RandomForestRegressor(n_estimators=20, max_depth=6, random_state=0).fit(frame, amount)
    report = ExplainTest(sample=50, background=30, rows=[0, 1]).run(as_tabular(model), frame)
    scale = float(np.abs(report.shap.predictions).max())
    assert scale > 1000 and report.additivity_tolerance == pytest.approx(1e-6 * scale)
    assert report.additivity_ok and report.additivity_max_error <= report.additivity_tolerance
    probabilities = ExplainTest(sample=30, background=20, rows=[0]).run(
        as_tabular(RandomForestClassifier(n_estimators=10, random_state=0).fit(frame, amount > amount.median())),
        frame)
    assert probabilities.additivity_tolerance == 1e-6


def test_unstable_rankings_and_spent_budgets_are_reported() -> None:
    rng = np.random.default_rng(5)
    frame = pd.DataFrame(rng.normal(size=(300, 8)), columns=[f"f{i}" for i in range(8)])
    frame["label"] = np.where(frame.sum(axis=1) + rng.normal(0, 3, 300) > 0, "yes", "no")  # eight equal weak signals
    model = LogisticRegression().fit(frame.drop(columns="label"), frame["label"])
    report = ExplainTest(method="permutation", sample=20, background=10, permutations=1, repeats=1, seeds=3,
                         importance_rows=60).run(model, frame, "label")
    assert report.importance is not None and report.importance.stability is not None
    assert not report.importance.stability.stable
    assert any(w.startswith("ranking stability: the permutation importance ranking") for w in report.warnings)
    hurried = ExplainTest(method="permutation", rows=list(range(40)), sample=40, background=100, permutations=3,
                          time_budget=1e-3).run(model, frame)
    assert any(w.startswith("time budget: local SHAP explained") for w in hurried.warnings)
    assert len(hurried.rows) < 40


def test_records_keep_top_k_and_still_add_up(people: pd.DataFrame, forest: Pipeline) -> None:
    frame = people.copy()
    frame.loc[0, "colour"] = "a very long colour name that goes on and on and on"
    values = ShapExplainer(method="permutation", background=20, permutations=2).explain(forest, frame, [0, 1, 2])
    records = local_explanations(values, frame, top=2, predictions=as_tabular(forest).predict(frame.iloc[:3]))
    for record in records:
        sizes = [abs(c.contribution) for c in record.contributions]
        assert len(record.contributions) == 2 and sizes == sorted(sizes, reverse=True)
        assert abs(record.residual) <= 1e-12
        assert LocalExplanation.from_dict(json.loads(json.dumps(record.to_dict()))) == record  # floats round-trip
    colour = [c for c in records[0].contributions if c.feature == "colour"]
    assert not colour or (isinstance(colour[0].value, str) and len(colour[0].value) == 40)
    everything = local_explanations(values, frame, top=10)
    assert all(len(r.contributions) == 4 and r.rest == 0.0 for r in everything)
    with pytest.raises(ValueError, match="top"):
        local_explanations(values, frame, top=0)
    with pytest.raises(ValueError, match="field 'rest' is missing"):
        LocalExplanation.from_dict({k: v for k, v in records[0].to_dict().items() if k != "rest"})


def test_display_values_are_short_json_scalars() -> None:
    assert display_value(np.int64(7)) == 7 and display_value(np.float64(1 / 3)) == 0.333333
    assert display_value(np.nan) is None and display_value(None) is None and display_value(pd.NA) is None
    assert display_value(np.bool_(True)) is True and display_value(float("inf")) == "inf"
    assert Contribution("x", 1, 0.5).to_dict() == {"feature": "x", "value": 1, "contribution": 0.5}


def test_bad_parameters_name_the_parameter(people: pd.DataFrame, forest: Pipeline) -> None:
    for kwargs, name in (({"method": "lime"}, "method"), ({"rows": []}, "rows"), ({"top": 0}, "top"),
                         ({"sample": 0}, "sample"), ({"scoring": "f1"}, "scoring"),
                         ({"time_budget": -1}, "time_budget")):
        with pytest.raises(ValueError, match=f"^{name}:"):
            ExplainTest(**kwargs)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="rows: row 999 is outside"):
        ExplainTest(rows=[999]).run(forest, people)
    with pytest.raises(ValueError, match="y: no column 'income'"):
        ExplainTest().run(forest, people, "income")


@pytest.fixture(scope="module")
def adult() -> pd.DataFrame:
    if not (FAIRNESS / "adult.csv").is_file():
        pytest.skip("../shared/data/fairness absent")
    return read_frame(FAIRNESS / "adult.csv")


def test_adult_forest_pipeline_on_raw_columns(adult: pd.DataFrame) -> None:
    target = "income-per-year"
    features = adult.drop(columns=target)
    text = [c for c in features.columns if not pd.api.types.is_numeric_dtype(features[c])]
    prep = ColumnTransformer([("text", OneHotEncoder(handle_unknown="ignore"), text)], remainder="passthrough")
    forest = RandomForestClassifier(n_estimators=30, max_depth=10, random_state=0)
    train = adult.iloc[:3000]
    pipe = Pipeline([("prep", prep), ("forest", forest)]).fit(train.drop(columns=target), train[target])
    tm = as_tabular(pipe)
    test = adult.iloc[3000:].reset_index(drop=True)
    bg = test.iloc[1000:1100]
    tree = ShapExplainer(output=">50K").explain(tm, test, np.arange(300), background=bg)
    assert tree.method == "tree" and tree.output == "P(>50K)" and len(tree.features) == 14
    assert tree.additivity_error <= 1e-6
    sampled = ShapExplainer(method="permutation", output=">50K", permutations=10).explain(
        tm, test, np.arange(20), background=bg)
    assert sampled.additivity_error <= 1e-12
    gap = np.abs(sampled.values - tree.values[:20])
    assert gap.max() < 0.03 and np.corrcoef(sampled.values.ravel(), tree.values[:20].ravel())[0, 1] > 0.99
    report = ExplainTest(sample=200, importance_rows=2000, repeats=3).run(tm, test, target)
    data = json.loads(json.dumps(report.to_dict()))
    assert data["checks"]["additivity_ok"] and len(data["local"]) == 10
    top_shap = {item["feature"] for item in data["shap"][:4]}
    assert top_shap & {"relationship", "marital-status"} and data["importance"][0]["mean"] > 0.01
