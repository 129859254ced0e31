"""Labelled tables for model tests: CSV and Parquet, feature selection, image shapes, text columns, and errors that
name the column, the row or the bad part of a shape."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bastion.data.files import DataError
from bastion.model.dataset import LabelledData, parse_shape, read_labelled


def _frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"p0": rng.normal(size=6), "p1": rng.integers(0, 9, size=6), "p2": rng.normal(size=6),
                         "p3": [True, False, True, True, False, False], "label": ["a", "b", "a", "c", "b", "a"]})


def _write(frame: pd.DataFrame, path: Path) -> Path:
    if path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_reads_features_and_labels(tmp_path: Path, suffix: str) -> None:
    frame = _frame()
    data = read_labelled(_write(frame, tmp_path / f"d{suffix}"), "label")
    assert isinstance(data, LabelledData)
    assert data.features == ("p0", "p1", "p2", "p3")
    assert data.x.dtype == np.float32 and data.x.shape == (6, 4)
    expected = frame[["p0", "p1", "p2", "p3"]].to_numpy(dtype=np.float32)
    np.testing.assert_allclose(data.x, expected, rtol=1e-6)
    assert data.labels.tolist() == frame["label"].tolist()
    assert data.source.endswith(f"d{suffix}")


def test_numeric_labels_keep_their_values(tmp_path: Path) -> None:
    frame = pd.DataFrame({"x": [0.1, 0.2, 0.3], "y": [3, 1, 3]})
    data = read_labelled(_write(frame, tmp_path / "d.csv"), "y")
    assert data.labels.tolist() == [3, 1, 3]


def test_feature_subset_in_the_order_given(tmp_path: Path) -> None:
    frame = _frame()
    data = read_labelled(_write(frame, tmp_path / "d.parquet"), "label", features=["p2", "p0"])
    assert data.features == ("p2", "p0")
    np.testing.assert_allclose(data.x, frame[["p2", "p0"]].to_numpy(dtype=np.float32))


def test_input_shape_reshapes_flattened_pixels(tmp_path: Path) -> None:
    frame = _frame()
    data = read_labelled(_write(frame, tmp_path / "d.csv"), "label", input_shape=(1, 2, 2))
    assert data.x.shape == (6, 1, 2, 2)
    np.testing.assert_allclose(data.x.reshape(6, -1), frame[["p0", "p1", "p2", "p3"]].to_numpy(dtype=np.float32),
                               rtol=1e-6)
    with pytest.raises(DataError, match=r"4 feature columns cannot be shaped \(3, 3\) \(9 values per sample\)"):
        read_labelled(tmp_path / "d.csv", "label", input_shape=(3, 3))


def test_missing_target_names_the_columns(tmp_path: Path) -> None:
    path = _write(_frame(), tmp_path / "d.csv")
    with pytest.raises(DataError, match=r"no target column 'class'; columns are \['p0', 'p1', 'p2', 'p3', 'label'\]"):
        read_labelled(path, "class")


def test_unknown_feature_and_target_as_feature_are_errors(tmp_path: Path) -> None:
    path = _write(_frame(), tmp_path / "d.csv")
    with pytest.raises(DataError, match="no column 'p9'"):
        read_labelled(path, "label", features=["p0", "p9"])
    with pytest.raises(DataError, match="target column 'label' cannot also be a feature"):
        read_labelled(path, "label", features=["p0", "label"])


def test_non_numeric_feature_is_named(tmp_path: Path) -> None:
    frame = _frame().assign(city=["Oslo", "Lima", "Oslo", "Rome", "Lima", "Oslo"])
    path = _write(frame, tmp_path / "d.parquet")
    with pytest.raises(DataError, match="feature column 'city' is (large_)?string, not numeric"):
        read_labelled(path, "label")
    assert read_labelled(path, "label", features=["p0", "p1"]).x.shape == (6, 2)  # leaving it out works


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_missing_feature_value_names_column_and_row(tmp_path: Path, suffix: str) -> None:
    frame = _frame()
    frame["p1"] = frame["p1"].astype("float64")
    frame.loc[3, "p1"] = np.nan
    frame.loc[5, "p1"] = np.nan
    with pytest.raises(DataError, match="feature column 'p1' has missing values at row 3"):
        read_labelled(_write(frame, tmp_path / f"d{suffix}"), "label")


def test_missing_label_names_the_row(tmp_path: Path) -> None:
    frame = pd.DataFrame({"x": [0.1, 0.2, 0.3, 0.4], "y": [1.0, np.nan, 0.0, np.nan]})
    with pytest.raises(DataError, match=r"target column 'y' is empty at row 1 \(2 rows\)"):
        read_labelled(_write(frame, tmp_path / "d.parquet"), "y")


def test_header_only_file_has_no_rows(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("x,y\n")
    with pytest.raises(DataError, match="no rows"):
        read_labelled(path, "y")


def test_row_limit(tmp_path: Path) -> None:
    path = _write(_frame(), tmp_path / "d.csv")
    with pytest.raises(DataError, match="more than 5 rows"):
        read_labelled(path, "label", max_rows=5)
    assert len(read_labelled(path, "label", max_rows=6).labels) == 6


def test_not_a_table_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "d.bin"
    path.write_bytes(b"\x00\x01")
    with pytest.raises(DataError, match="not a table"):
        read_labelled(path, "y")


def test_text_column_mode(tmp_path: Path) -> None:
    frame = pd.DataFrame({"review": ["great film", "dull, long", "ok I guess"], "stars": [5, 1, 3],
                          "sentiment": ["pos", "neg", "pos"]})
    path = _write(frame, tmp_path / "d.csv")
    data = read_labelled(path, "sentiment", features=["review"], text=True)
    assert data.x.dtype == object and data.x.shape == (3,)
    assert data.x.tolist() == ["great film", "dull, long", "ok I guess"]
    assert data.features == ("review",)
    with pytest.raises(DataError, match=r"a text model takes one text column; give it with --features"):
        read_labelled(path, "sentiment", text=True)
    typed = _write(frame, tmp_path / "d.parquet")  # Parquet keeps the integer type
    with pytest.raises(DataError, match="column 'stars' row 0 is not text"):
        read_labelled(typed, "sentiment", features=["stars"], text=True)


def test_text_column_with_a_missing_value_names_the_row(tmp_path: Path) -> None:
    frame = pd.DataFrame({"review": ["great film", None, "fine"], "y": [1, 0, 1]})
    with pytest.raises(DataError, match="column 'review' row 1 is not text"):
        read_labelled(_write(frame, tmp_path / "d.parquet"), "y", features=["review"], text=True)


def test_text_column_of_digits_stays_text(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("code,y\n0123,1\n4567,0\n")
    data = read_labelled(path, "y", features=["code"], text=True)
    assert data.x.tolist() == ["0123", "4567"]


@pytest.mark.parametrize(("text", "shape"), [("1,8,8", (1, 8, 8)), ("64", (64,)), ("8x8", (8, 8)),
                                             (" 3, 32 ,32 ", (3, 32, 32)), ("1,8,8,", (1, 8, 8))])
def test_parse_shape(text: str, shape: tuple[int, ...]) -> None:
    assert parse_shape(text) == shape


@pytest.mark.parametrize(("text", "message"), [
    ("a,b", "expected comma-separated whole numbers"),
    ("1.5", "expected comma-separated whole numbers"),
    ("", "every dimension must be a positive whole number"),
    ("1,0,8", "every dimension must be a positive whole number"),
    ("-4", "every dimension must be a positive whole number"),
])
def test_parse_shape_errors_quote_the_input(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        parse_shape(text)
    assert repr(text) in str(caught.value)
