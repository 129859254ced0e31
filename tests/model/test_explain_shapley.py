"""SHAP values: tree SHAP on raw columns through pipelines, batched permutation SHAP and KernelSHAP against exact
Shapley values (all coalitions, same background), additivity, outputs, workers and the time budget."""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    GradientBoostingClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.feature_selection import VarianceThreshold
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import (
    KBinsDiscretizer,
    Normalizer,
    OneHotEncoder,
    OrdinalEncoder,
    PolynomialFeatures,
    StandardScaler,
)

import bastion.model.explain.shapley as shapley
from bastion.model.base import ModelError
from bastion.model.explain.shapley import ShapExplainer
from bastion.model.tabular import TabularModel, as_tabular

shap = shapley._shap()  # the reference, imported without its plotting deprecation warnings


def _mixed(n: int = 600, seed: int = 1) -> tuple[pd.DataFrame, np.ndarray]:
    """Text with missing values and numbers; the label depends on colour and size, weakly on town."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"colour": rng.choice(["red", "green", "blue"], n), "size": rng.normal(size=n),
                          "town": rng.choice(["x", "y"], n), "weight": rng.normal(size=n)})
    frame.loc[rng.random(n) < 0.05, "town"] = None
    score = 1.5 * (frame["colour"] == "red") + frame["size"] + 0.3 * (frame["town"] == "x") + rng.normal(0, .3, n)
    return frame, np.where(score > 0.8, "yes", "no")


def _forest_pipeline(frame: pd.DataFrame, label: np.ndarray, final: object | None = None) -> Pipeline:
    text = make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore"))
    prep = ColumnTransformer([("text", text, ["colour", "town"])], remainder="passthrough")
    model = final if final is not None else RandomForestClassifier(n_estimators=30, max_depth=6, random_state=0)
    return Pipeline([("prep", prep), ("model", model)]).fit(frame, label)


def _exact(tm: TabularModel, data: pd.DataFrame, rows: np.ndarray, bg: pd.DataFrame, k: int) -> np.ndarray:
    """Shapley values of output ``k`` by brute force over all 2^M coalitions of raw columns, same background."""
    columns = list(tm.features)
    m = len(columns)
    worth = {}
    for size in range(m + 1):
        for coalition in combinations(range(m), size):
            hybrid = pd.concat([bg[columns]] * len(rows), ignore_index=True)
            for j in coalition:
                hybrid[columns[j]] = np.repeat(data[columns[j]].to_numpy()[rows], len(bg))
            worth[coalition] = tm.output(hybrid)[:, k].reshape(len(rows), len(bg)).mean(axis=1)
    phi = np.zeros((len(rows), m))
    for coalition, value in worth.items():
        for j in range(m):
            if j in coalition:
                continue
            weight = math.factorial(len(coalition)) * math.factorial(m - len(coalition) - 1) / math.factorial(m)
            phi[:, j] += weight * (worth[tuple(sorted(coalition + (j,)))] - value)
    return phi


@pytest.fixture(scope="module")
def mixed() -> tuple[pd.DataFrame, np.ndarray, TabularModel]:
    frame, label = _mixed()
    return frame, label, as_tabular(_forest_pipeline(frame, label))


def test_permutation_shap_converges_to_exact_shapley_values(mixed: tuple[pd.DataFrame, np.ndarray,
                                                                           TabularModel]) -> None:
    frame, _, tm = mixed
    rows, bg = np.arange(6), frame.iloc[100:130]
    values = ShapExplainer(method="permutation", output="positive", permutations=150).explain(tm, frame, rows,
                                                                                              background=bg)
    exact = _exact(tm, frame, rows, bg.reset_index(drop=True), k=1)
    assert values.method == "permutation" and values.output == "P(yes)" and values.space == "probability"
    assert values.additivity_error <= 1e-12 and values.additivity_ok  # telescoping walks: exact by construction
    assert np.allclose(values.base_values, tm.output(bg)[:, 1].mean())
    assert np.abs(values.values - exact).max() < 0.01 < np.abs(exact).max()
    few = ShapExplainer(method="permutation", output="positive", permutations=2).explain(tm, frame, rows,
                                                                                         background=bg)
    assert np.abs(few.values - exact).max() > np.abs(values.values - exact).max()  # more walks, less error


def test_kernel_shap_over_raw_columns_matches_exact_values(mixed: tuple[pd.DataFrame, np.ndarray,
                                                                        TabularModel]) -> None:
    frame, _, tm = mixed
    rows, bg = np.arange(3), frame.iloc[100:120]
    values = ShapExplainer(method="kernel", output="positive", samples=64).explain(tm, frame, rows, background=bg)
    exact = _exact(tm, frame, rows, bg.reset_index(drop=True), k=1)
    assert values.method == "kernel" and values.additivity_error <= 1e-6
    assert np.allclose(values.values, exact, atol=1e-6)  # 16 coalitions: KernelSHAP enumerates them all


def test_tree_shap_on_numeric_columns_is_the_exact_interventional_value() -> None:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(rng.normal(size=(500, 5)), columns=[f"x{i}" for i in range(5)])
    label = (frame["x0"] + frame["x1"] * frame["x2"] > 0).astype(int)
    tm = as_tabular(RandomForestClassifier(n_estimators=20, max_depth=5, random_state=0).fit(frame, label))
    rows, bg = np.arange(5), frame.iloc[200:240]
    values = ShapExplainer(method="tree", output="positive").explain(tm, frame, rows, background=bg)
    exact = _exact(tm, frame, rows, bg.reset_index(drop=True), k=1)
    assert values.method == "tree" and values.perturbation == "interventional"
    assert np.allclose(values.values, exact, atol=1e-6) and values.additivity_error <= 1e-6
    ours = ShapExplainer(method="permutation", output="positive", permutations=10).explain(tm, frame, rows,
                                                                                           background=bg)
    masker = shap.maskers.Independent(bg.to_numpy(), max_samples=len(bg))
    reference = shap.PermutationExplainer(lambda x: tm.output(pd.DataFrame(x, columns=frame.columns))[:, 1], masker,
                                          seed=0)
    theirs = reference(frame.iloc[rows].to_numpy(), max_evals=400, silent=True).values
    assert np.abs(ours.values - theirs).max() < 0.05 and np.abs(ours.values - exact).max() < 0.05


def test_tree_shap_through_a_pipeline_sums_encoded_columns_back(mixed: tuple[pd.DataFrame, np.ndarray,
                                                                             TabularModel]) -> None:
    frame, _, tm = mixed
    rows, bg = np.arange(20), frame.iloc[100:150]
    values = ShapExplainer(output="positive").explain(tm, frame, rows, background=bg)
    assert values.method == "tree" and values.features == ("colour", "size", "town", "weight")
    assert values.additivity_error <= 1e-6
    assert np.allclose(values.predictions, tm.predict_proba(frame.iloc[rows])[:, 1])
    pipe = tm.estimator
    encoded = pipe[:-1].transform(frame.iloc[rows]).astype(np.float32).astype(np.float64)
    explainer = shap.TreeExplainer(pipe[-1], data=pipe[:-1].transform(bg).astype(np.float32).astype(np.float64),
                                   feature_perturbation="interventional")
    direct = explainer.shap_values(encoded, check_additivity=False)[:, :, 1]
    colour, town = len(pipe[0].named_transformers_["text"][-1].categories_[0]), 2
    assert np.allclose(values.values[:, 0], direct[:, :colour].sum(axis=1))
    assert np.allclose(values.values[:, 2], direct[:, colour:colour + town].sum(axis=1))
    assert np.allclose(values.values[:, [1, 3]], direct[:, colour + town:])
    approx = ShapExplainer(method="permutation", output="positive", permutations=20).explain(tm, frame, rows,
                                                                                             background=bg)
    assert np.abs(approx.values - values.values).max() < 0.05


def test_many_kinds_of_preprocessing_map_back_to_raw_columns() -> None:
    frame, label = _mixed(400)
    frame["level"] = np.random.default_rng(0).choice(["low", "mid", "high"], len(frame))
    frame["unused"] = 1.0
    prep = ColumnTransformer([
        ("colour", OneHotEncoder(drop="first"), ["colour"]),
        ("town", make_pipeline(SimpleImputer(strategy="constant", fill_value="none", add_indicator=True),
                               OrdinalEncoder()), ["town"]),
        ("size", KBinsDiscretizer(n_bins=4, encode="onehot-dense", quantile_method="averaged_inverted_cdf"),
         ["size"]),
        ("level", OneHotEncoder(min_frequency=140, handle_unknown="infrequent_if_exist"), ["level"]),
        ("weight", StandardScaler(), [3]),
        ("unused", "drop", ["unused"]),
    ])
    pipe = Pipeline([("prep", prep), ("select", VarianceThreshold(0.0)),
                     ("model", RandomForestClassifier(n_estimators=20, max_depth=5, random_state=0))])
    tm = as_tabular(pipe.fit(frame, label))
    values = ShapExplainer(method="tree", output="positive", background=40).explain(tm, frame, np.arange(15))
    assert values.features == ("colour", "size", "town", "weight", "level", "unused")
    assert values.additivity_error <= 1e-6
    assert np.all(values.values[:, 5] == 0)  # a dropped column cannot contribute


def test_gradient_boosting_is_explained_in_log_odds(mixed: tuple[pd.DataFrame, np.ndarray, TabularModel]) -> None:
    frame, label, _ = mixed
    pipe = _forest_pipeline(frame, label, GradientBoostingClassifier(n_estimators=30, max_depth=3, random_state=0))
    tm = as_tabular(pipe)
    rows = np.arange(30)
    values = ShapExplainer().explain(tm, frame, rows)
    margin = pipe.decision_function(frame.iloc[rows])
    predicted = pipe.predict(frame.iloc[rows])
    assert values.method == "tree" and values.space == "log-odds" and values.output == "log-odds(predicted class)"
    assert values.additivity_error <= 1e-6
    assert np.allclose(values.predictions, np.where(predicted == "yes", margin, -margin))
    assert set(values.outputs) == {"log-odds(yes)", "log-odds(no)"}
    hist = _forest_pipeline(frame, label, HistGradientBoostingClassifier(max_iter=30, random_state=0))
    hist_values = ShapExplainer(output="yes").explain(hist, frame, rows)
    assert hist_values.perturbation == "tree_path_dependent" and hist_values.additivity_error <= 1e-6
    assert np.allclose(hist_values.predictions, hist.decision_function(frame.iloc[rows]))


def test_regressor_explains_its_prediction() -> None:
    frame, _ = _mixed(400)
    target = frame["size"] * 3 + (frame["colour"] == "red")
    tm = as_tabular(_forest_pipeline(frame, target.to_numpy(), RandomForestRegressor(n_estimators=20, max_depth=6,
                                                                                      random_state=0)))
    tree = ShapExplainer().explain(tm, frame, np.arange(10))
    assert tree.space == "prediction" and tree.output == "prediction" and tree.additivity_error <= 1e-6
    sampled = ShapExplainer(method="permutation", permutations=5).explain(tm, frame, np.arange(10))
    assert sampled.additivity_error <= 1e-12 and np.allclose(sampled.predictions, tree.predictions)
    assert int(np.argmax(np.abs(tree.values).mean(axis=0))) == 1 == int(np.argmax(sampled.mean_abs()))


def test_auto_falls_back_to_permutation_and_says_why(mixed: tuple[pd.DataFrame, np.ndarray, TabularModel]) -> None:
    frame, label, _ = mixed
    linear = as_tabular(_forest_pipeline(frame, label, LogisticRegression()))
    values = ShapExplainer(permutations=3, background=20).explain(linear, frame, np.arange(4))
    assert values.method == "permutation" and any("LogisticRegression" in note for note in values.notes)
    with pytest.raises(ModelError, match="method 'tree' is not available"):
        ShapExplainer(method="tree").explain(linear, frame, np.arange(4))
    squares = Pipeline([("poly", PolynomialFeatures(2)), ("forest", RandomForestClassifier(5, random_state=0))])
    numeric = frame[["size", "weight"]]
    method, reason = ShapExplainer().resolve(squares.fit(numeric, label))
    assert method == "permutation" and reason is not None and "which raw column" in reason


def test_outputs_a_row_can_explain(mixed: tuple[pd.DataFrame, np.ndarray, TabularModel]) -> None:
    frame, _, tm = mixed
    rows = np.arange(12)
    predicted = ShapExplainer(background=30).explain(tm, frame, rows)
    labels = tm.predict(frame.iloc[rows])
    assert predicted.outputs == tuple(f"P({label})" for label in labels)
    no = ShapExplainer(output="no", background=30).explain(tm, frame, rows)
    yes = ShapExplainer(output="positive", background=30).explain(tm, frame, rows)
    assert np.allclose(no.values, -yes.values) and np.allclose(no.predictions + yes.predictions, 1.0)
    with pytest.raises(ValueError, match="output: 'maybe' is not"):
        ShapExplainer(output="maybe").explain(tm, frame, rows)


def test_encoded_shortcut_gives_the_numbers_of_the_whole_pipeline(mixed: tuple[pd.DataFrame, np.ndarray,
                                                                                 TabularModel],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    frame, _, tm = mixed
    rows, bg = np.arange(5), frame.iloc[300:330]
    pool = pd.concat([bg, frame.iloc[rows]], ignore_index=True)
    assert shapley._encode_pool(tm, pool, tm.output(bg)) is not None  # this pipeline takes the shortcut
    for method in ("permutation", "kernel"):
        explainer = ShapExplainer(method=method, permutations=3, samples=40)
        fast = explainer.explain(tm, frame, rows, background=bg)
        with monkeypatch.context() as patch:
            patch.setattr(shapley, "_encode_pool", lambda *args: None)
            slow = explainer.explain(tm, frame, rows, background=bg)
        assert np.allclose(fast.values, slow.values, atol=1e-12)
    mixing = Pipeline([("norm", Normalizer()), ("forest", RandomForestClassifier(5, random_state=0))])
    numeric = frame[["size", "weight"]]
    tm_mixing = as_tabular(mixing.fit(numeric, mixed[1]))
    assert shapley._encode_pool(tm_mixing, numeric.iloc[:20], tm_mixing.output(numeric.iloc[:10])) is None
    assert ShapExplainer().resolve(tm_mixing)[0] == "permutation"  # a Normalizer mixes a row's columns


@pytest.mark.parametrize("method", ["permutation", "kernel"])
def test_results_do_not_depend_on_workers_or_chunks(mixed: tuple[pd.DataFrame, np.ndarray, TabularModel],
                                                    method: str) -> None:
    frame, _, tm = mixed
    rows, bg = np.arange(8), frame.iloc[200:230]
    options = {"method": method, "permutations": 3, "samples": 12}  # 12 < 16 coalitions: kernel samples too
    one = ShapExplainer(max_batch_rows=600, **options).explain(tm, frame, rows, background=bg)  # type: ignore[arg-type]
    two = ShapExplainer(workers=2, **options).explain(tm, frame, rows, background=bg)  # type: ignore[arg-type]
    alone = ShapExplainer(**options).explain(tm, frame, [5], background=bg)  # type: ignore[arg-type]
    assert np.allclose(one.values, two.values, atol=1e-12) and one.complete and two.complete
    assert np.allclose(alone.values[0], one.values[5], atol=1e-12)  # each row's draws depend on its number only
    assert two.additivity_error <= 1e-9


def test_time_budget_stops_starting_new_rows(mixed: tuple[pd.DataFrame, np.ndarray, TabularModel]) -> None:
    frame, _, tm = mixed
    explainer = ShapExplainer(method="permutation", permutations=2, background=30, max_batch_rows=180,
                              time_budget=1e-3)
    values = explainer.explain(tm, frame, np.arange(40))
    assert 1 <= len(values.rows) < 40 and values.rows_asked == 40 and not values.complete
    assert np.array_equal(values.rows, np.arange(len(values.rows)))
    assert values.additivity_error <= 1e-12 and any("time budget" in note for note in values.notes)


def test_bad_parameters_name_the_parameter(mixed: tuple[pd.DataFrame, np.ndarray, TabularModel]) -> None:
    frame, _, tm = mixed
    for kwargs, name in (({"method": "lime"}, "method"), ({"background": 0}, "background"),
                         ({"permutations": 0}, "permutations"), ({"time_budget": 0}, "time_budget"),
                         ({"workers": 0}, "workers"), ({"samples": 0}, "samples")):
        with pytest.raises(ValueError, match=f"^{name}:"):
            ShapExplainer(**kwargs)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="rows: row 600 is outside"):
        ShapExplainer().explain(tm, frame, [1, 600])
    with pytest.raises(ValueError, match="rows: a row is listed twice"):
        ShapExplainer().explain(tm, frame, [1, 1])
