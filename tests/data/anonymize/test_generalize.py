"""Value-level generalisers: scalar results on ordinary and edge values, and the Series versions agree with them."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.data.anonymize.generalize import (
    age_band,
    date_to,
    numeric_band,
    series_age_band,
    series_date_to,
    series_numeric_band,
    series_zip_prefix,
    zip_prefix,
)

GARBAGE: list[Any] = [None, float("nan"), np.nan, pd.NA, pd.NaT, "", "   ", "garbage", [1, 2], {"a": 1}, object()]


# --- dates ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "level", "expected"), [
    ("1987-04-12", "year", "1987"),
    ("1987-04-12", "month", "1987-04"),
    ("1987-04-12", "day", "1987-04-12"),
    ("1987-04-12T23:15:00", "day", "1987-04-12"),
    ("1987-04-12 23:15:00+05:00", "day", "1987-04-12"),  # the date as written, not converted to UTC
    (" 4/12/1987 ", "day", "1987-04-12"),  # US order: month first
    ("12/4/1987", "month", "1987-12"),
    (datetime(1987, 4, 12, 10, 30), "month", "1987-04"),
    (date(1987, 4, 12), "year", "1987"),
    (pd.Timestamp("1987-04-12 10:00", tz="US/Eastern"), "day", "1987-04-12"),
    (np.datetime64("1987-04-12"), "day", "1987-04-12"),
    ("2000-02-29", "day", "2000-02-29"),  # leap day of a leap year
    ("2/29/2000", "day", "2000-02-29"),
])
def test_date_to_reads_iso_us_and_date_objects(value: Any, level: str, expected: str) -> None:
    assert date_to(value, level) == expected


@pytest.mark.parametrize("value", [
    *GARBAGE, "1999-02-29", "2/29/1999", "1987-13-01", "13/12/1987", "1987-04-12 nonsense", "19870412",
    19870412, 1.5, True, np.datetime64("NaT"),
])
def test_date_to_returns_none_for_what_it_cannot_read(value: Any) -> None:
    assert date_to(value, "day") is None


def test_date_to_rejects_an_unknown_level() -> None:
    with pytest.raises(ValueError, match="year, month, day"):
        date_to("1987-04-12", "week")


def test_series_date_to_on_datetime_and_text_columns() -> None:
    stamps = pd.to_datetime(["1987-04-12", None, "2000-02-29 13:00"], format="ISO8601")
    column = pd.Series(stamps, index=[5, 6, 7], name="birth")
    result = series_date_to(column, "month")
    assert result.tolist() == ["1987-04", None, "2000-02"]
    assert result.index.tolist() == [5, 6, 7] and result.name == "birth" and result.dtype == object
    text = pd.Series(["1987-04-12", "4/12/1987", "1999-02-29", None, "x"])
    assert series_date_to(text, "day").tolist() == ["1987-04-12", "1987-04-12", None, None, None]
    aware = pd.Series(pd.to_datetime(["2020-01-01 23:30"]).tz_localize("US/Eastern"))
    assert series_date_to(aware, "day").tolist() == [date_to(aware.iloc[0], "day")] == ["2020-01-01"]


# --- postal codes ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "keep", "expected"), [
    ("12345", 3, "123**"),
    ("12345", 0, "*****"),
    ("12345", 9, "12345"),
    ("SW1A 1AA", 3, "SW1* ***"),
    ("SW1A 1AA", 5, "SW1A 1**"),
    ("12345-6789", 5, "12345-****"),
    (" 02134 ", 2, "02***"),
    (2134, 2, "21**"),  # a ZIP read as a number has lost its leading zero; it is still generalised
    (12345.0, 1, "1****"),
])
def test_zip_prefix_keeps_length_and_separators(value: Any, keep: int, expected: str) -> None:
    assert zip_prefix(value, keep) == expected


@pytest.mark.parametrize("value", [None, float("nan"), pd.NA, "", "   ", "!!!", "123$5", "--", -12345, 12.5, True,
                                   [1, 2], object()])
def test_zip_prefix_returns_none_for_garbage(value: Any) -> None:
    assert zip_prefix(value, 3) is None


def test_zip_prefix_fill_and_bad_parameters() -> None:
    assert zip_prefix("12345", 2, fill="X") == "12XXX"
    with pytest.raises(ValueError, match="keep"):
        zip_prefix("12345", -1)
    with pytest.raises(ValueError, match="single character"):
        zip_prefix("12345", 2, fill="**")


def test_series_zip_prefix_mixes_plain_codes_separators_and_garbage() -> None:
    column = pd.Series(["12345", "SW1A 1AA", None, "abc!", " 02134", "123"], name="zip")
    expected = ["123**", "SW1* ***", None, None, "021**", "123"]
    assert series_zip_prefix(column, 3).tolist() == expected
    assert series_zip_prefix(column.astype(object), 3).tolist() == expected
    assert series_zip_prefix(pd.Series([2134, 12345]), 2).tolist() == ["21**", "12***"]


# --- ages and bands -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "kwargs", "expected"), [
    (34, {}, "30-39"),
    (34, {"width": 5}, "30-34"),
    (0, {}, "0-9"),
    (39.99, {}, "30-39"),
    ("34", {}, "30-39"),
    (89, {}, "80-89"),
    (90, {}, "90+"),
    (120, {}, "90+"),
    (85, {"width": 20}, "80-89"),  # the band below the cap stops at the cap
    (95, {"top": None}, "90-99"),
    ("90+", {}, "90+"),
    ("95 +", {}, "90+"),
    ("90+", {"top": 80}, "80+"),
    (np.int64(34), {}, "30-39"),
])
def test_age_band(value: Any, kwargs: dict[str, Any], expected: str) -> None:
    assert age_band(value, **kwargs) == expected


@pytest.mark.parametrize("value", [*GARBAGE[:8], -1, -0.5, float("inf"), True, "85+", "abc"])
def test_age_band_returns_none_for_what_it_cannot_band(value: Any) -> None:
    assert age_band(value) is None


def test_age_band_top_coded_text_without_a_cap_is_unknown() -> None:
    assert age_band("90+", top=None) is None
    assert age_band("90+", top=100) is None  # somewhere in 90-99 or above: no band can be given


def test_age_band_rejects_bad_parameters() -> None:
    for bad in (0, -5, 2.5, True):
        with pytest.raises(ValueError, match="width"):
            age_band(34, width=bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="top"):
        age_band(34, top=-1)


@pytest.mark.parametrize(("value", "width", "expected"), [
    (1500, 1000, "[1000, 2000)"),
    (1000, 1000, "[1000, 2000)"),
    (-5, 10, "[-10, 0)"),
    (0.3, 0.1, "[0.3, 0.4)"),  # 0.3 / 0.1 is 2.9999999999999996 in floating point
    ("2500", 1000, "[2000, 3000)"),
    (7.5, 2.5, "[7.5, 10)"),
])
def test_numeric_band(value: Any, width: float, expected: str) -> None:
    assert numeric_band(value, width) == expected


def test_numeric_band_edges() -> None:
    for value in [*GARBAGE[:8], float("inf"), -math.inf, True]:
        assert numeric_band(value, 10) is None
    for bad in (0, -1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="width"):
            numeric_band(5, bad)


def test_series_bands_keep_index_and_missing() -> None:
    ages = pd.Series([34, np.nan, 95, -3, 5], index=list("abcde"), name="age")
    assert series_age_band(ages).tolist() == ["30-39", None, "90+", None, "0-9"]
    assert series_age_band(ages).index.tolist() == list("abcde")
    assert series_age_band(pd.Series([34, None, 7], dtype="Int64"), 5).tolist() == ["30-34", None, "5-9"]
    assert series_age_band(pd.Series(["90+", "34", "x", None])).tolist() == ["90+", "30-39", None, None]
    assert series_numeric_band(pd.Series([0.3, np.inf, 1500.0]), 0.1).tolist() == ["[0.3, 0.4)", None,
                                                                                  "[1500, 1500.1)"]
    assert series_numeric_band(pd.Series([True, False]), 1).tolist() == [None, None]
    assert series_age_band(pd.Series([], dtype=float)).tolist() == []


# --- Series and scalar agree ----------------------------------------------------------------------------------

_numbers = st.one_of(
    st.integers(-50, 200), st.floats(-1e6, 1e6), st.sampled_from([math.nan, math.inf, -math.inf]), st.none(),
    st.sampled_from(["90+", "34", "x", "", "1e3", "-7"]),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(_numbers, max_size=30), st.sampled_from([1, 5, 10, 20]), st.sampled_from([None, 80, 90]))
def test_series_age_band_matches_scalar(values: list[Any], width: int, top: int | None) -> None:
    mixed = pd.Series(values, dtype=object)
    assert series_age_band(mixed, width, top).tolist() == [age_band(v, width, top) for v in values]
    numeric = pd.to_numeric(mixed, errors="coerce").astype(float)
    assert series_age_band(numeric, width, top).tolist() == [age_band(v, width, top) for v in numeric]


@settings(max_examples=60, deadline=None)
@given(st.lists(_numbers, max_size=30), st.sampled_from([0.1, 0.25, 1, 7, 1000]))
def test_series_numeric_band_matches_scalar(values: list[Any], width: float) -> None:
    numeric = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").astype(float)
    assert series_numeric_band(numeric, width).tolist() == [numeric_band(v, width) for v in numeric]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), st.from_regex(r"[0-9A-Z]{3,6}( [0-9A-Z]{3})?", fullmatch=True),
                          st.text(max_size=6)), max_size=30), st.integers(0, 7))
def test_series_zip_prefix_matches_scalar(values: list[Any], keep: int) -> None:
    expected = [zip_prefix(v, keep) for v in values]
    assert series_zip_prefix(pd.Series(values, dtype="str"), keep).tolist() == expected
    assert series_zip_prefix(pd.Series(values, dtype=object), keep).tolist() == expected


@settings(max_examples=40, deadline=None)
@given(st.lists(st.one_of(st.none(), st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 1, 1))),
                max_size=30), st.sampled_from(["year", "month", "day"]))
def test_series_date_to_matches_scalar(values: list[datetime | None], level: str) -> None:
    column = pd.Series(pd.to_datetime(values))
    assert series_date_to(column, level).tolist() == [date_to(v, level) for v in column]
    texts = [None if v is None else v.isoformat() for v in values]
    assert series_date_to(pd.Series(texts, dtype=object), level).tolist() == [date_to(v, level) for v in texts]
    aware = column.dt.tz_localize(UTC).dt.tz_convert("Asia/Kolkata")
    assert series_date_to(aware, level).tolist() == [date_to(v, level) for v in aware]
