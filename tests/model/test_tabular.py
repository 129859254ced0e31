"""TabularModel: pipelines on raw DataFrame columns, regressors, unnamed features, and the load gate."""

from __future__ import annotations

import pickle
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder
from sklearn.svm import LinearSVC

from bastion.data.files import DataError
from bastion.model.base import ModelError
from bastion.model.tabular import as_tabular, load_tabular, read_frame
from bastion.supplychain.gate import UnsafeLoadError


def _people(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"colour": rng.choice(["red", "green", "blue"], n), "size": rng.normal(size=n),
                          "group": rng.choice(["a", "b"], n)})
    frame["label"] = np.where((frame["colour"] == "red") | (frame["size"] > 1), "yes", "no")
    return frame


def _pipeline(frame: pd.DataFrame) -> Pipeline:
    encode = ColumnTransformer([("cat", OneHotEncoder(handle_unknown="ignore"), ["colour"])], remainder="passthrough")
    return Pipeline([("prep", encode), ("clf", LogisticRegression())]).fit(frame[["colour", "size"]], frame["label"])


def test_pipeline_on_raw_columns_reads_only_its_features() -> None:
    frame = _people()
    model = as_tabular(_pipeline(frame))
    assert model.task == "classification" and model.features == ("colour", "size")
    assert model.output_names == ["P(no)", "P(yes)"]
    proba = model.predict_proba(frame)  # the extra group and label columns are ignored
    assert proba.shape == (len(frame), 2) and np.allclose(proba.sum(axis=1), 1.0)
    assert set(model.predict(frame)) <= {"yes", "no"}
    assert (model.predict(frame) == frame["label"]).mean() > 0.9


def test_regressor_outputs_one_column_and_refuses_probabilities() -> None:
    frame = _people()
    reg = LinearRegression().fit(frame[["size"]], frame["size"] * 2 + 1)
    model = as_tabular(reg)
    assert model.task == "regression" and model.classes is None and model.output_names == ["prediction"]
    assert np.allclose(model.output(frame)[:, 0], frame["size"] * 2 + 1)
    with pytest.raises(ModelError, match="regressor"):
        model.predict_proba(frame)


def test_unnamed_features_bind_to_the_columns_that_fit_the_model() -> None:
    frame = _people()
    x = frame[["size"]].to_numpy()
    model = as_tabular(LogisticRegression().fit(x, frame["label"]))
    model.bind(["size", "group", "label"], exclude=["label", "group"])
    assert model.features == ("size",)
    assert model.predict_proba(frame).shape == (len(frame), 2)
    with pytest.raises(ModelError, match="takes 1 features"):
        as_tabular(LogisticRegression().fit(x, frame["label"])).bind(["a", "b", "label"], exclude=["label"])


def test_decision_function_models_and_missing_columns() -> None:
    frame = _people()
    model = as_tabular(LinearSVC().fit(frame[["size"]], frame["label"]))
    proba = model.predict_proba(frame)
    assert np.allclose(proba.sum(axis=1), 1.0)
    with pytest.raises(DataError, match="'size'"):
        model.predict(frame.drop(columns=["size"]))


def test_a_failing_model_call_names_the_method() -> None:
    frame = _people()
    model = as_tabular(_pipeline(frame))
    bad = frame.assign(size="not a number")
    with pytest.raises(ModelError, match="predict_proba failed"):
        model.predict_proba(bad)


def test_load_tabular_goes_through_the_gate(tmp_path: Path) -> None:
    frame = _people()
    path = tmp_path / "pipe.joblib"
    joblib.dump(_pipeline(frame), path)
    model = load_tabular(path)
    assert model.name == "pipe.joblib" and model.features == ("colour", "size")
    forest = tmp_path / "forest.pkl"
    forest.write_bytes(pickle.dumps(RandomForestClassifier(n_estimators=3).fit(frame[["size"]], frame["label"])))
    assert load_tabular(forest, features=["size"]).predict(frame).shape == (len(frame),)
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(b"cos\nsystem\n(S'echo hi'\ntR.")
    with pytest.raises(UnsafeLoadError):
        load_tabular(evil)


def test_read_frame_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such data file"):
        read_frame(tmp_path / "absent.csv")
    empty = tmp_path / "empty.csv"
    empty.write_text("a,b\n")
    with pytest.raises(DataError, match="no rows"):
        read_frame(empty)
    big = tmp_path / "big.csv"
    big.write_text("a\n" + "1\n" * 20)
    with pytest.raises(DataError, match="more than 10 rows"):
        read_frame(big, max_rows=10)
    good = tmp_path / "good.csv"
    good.write_text("a,b\n1,x\n2,\n")
    frame = read_frame(good)
    assert list(frame.columns) == ["a", "b"] and frame["b"].isna().sum() == 1
