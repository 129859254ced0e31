"""Value-level generalisation: dates to a coarser unit, postal codes to a prefix, ages and numbers to bands.

Each scalar function is pure and never raises on bad *values*: it returns ``None`` for a value it cannot read
(missing, empty, garbage, an impossible date such as 1999-02-29), so the caller can count and report those.
Bad *parameters* (an unknown level, a zero width) are programming errors and raise ``ValueError``.

The ``series_*`` functions give the same answer as their scalar twin for every element, as an ``object`` Series
with ``None`` where the scalar returns ``None`` (same index and name). They are vectorised: numeric and datetime
columns go through numpy, text through pandas' (Arrow) string kernels, and whatever remains is computed once per
distinct value rather than once per row.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped, unused-ignore]

DATE_LEVELS: tuple[str, ...] = ("year", "month", "day")
"""The units ``date_to`` can keep, coarsest first."""

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ].*)?")
_US_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")
_TOP_CODED = re.compile(r"(\d+)\s*\+")
_HUGE = 1e15
"""Beyond this a float has no fractional part left to band; an age this large is garbage."""
_CODE_SEPARATORS = frozenset(" -.")
"""Characters a postal code may contain besides letters and digits (UK ``SW1A 1AA``, US ``12345-6789``)."""

Series = Any
"""A ``pandas.Series``; pandas ships no type information, so this is an alias for readability only."""


# --- scalar helpers -------------------------------------------------------------------------------------------


def _is_missing(value: object) -> bool:
    """None, NaN, NaT and pd.NA; never raises (containers and odd objects are simply not missing)."""
    if value is None:
        return True
    try:
        return bool(pd.api.types.is_scalar(value) and pd.isna(value))
    except (TypeError, ValueError):
        return False


def _to_number(value: object) -> float | None:
    """A finite float from a real number or numeric text; bools are flags, not numbers."""
    if isinstance(value, bool | np.bool_) or _is_missing(value):
        return None
    if isinstance(value, numbers.Real):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _check_width(width: float) -> None:
    if isinstance(width, bool) or not isinstance(width, numbers.Real) or not width > 0 or not math.isfinite(width):
        raise ValueError(f"width must be a positive finite number, got {width!r}")


def _format_number(number: float) -> str:
    """``1000`` rather than ``1000.0``; ``0.3`` rather than ``0.30000000000000004``."""
    if number.is_integer() and abs(number) < 1e15:
        return str(int(number))
    return f"{number:.10g}"


# --- dates ----------------------------------------------------------------------------------------------------


def _check_date_level(level: str) -> None:
    if level not in DATE_LEVELS:
        raise ValueError(f"level must be one of {', '.join(DATE_LEVELS)}; got {level!r}")


def _parse_date_text(text: str) -> date | None:
    text = text.strip()
    if _ISO_DATE.fullmatch(text):
        try:
            # fromisoformat validates the calendar (leap days) and any time or offset part.
            return datetime.fromisoformat(text).date()
        except ValueError:
            return None
    match = _US_DATE.fullmatch(text)
    if match is None:
        return None
    month, day, year = (int(part) for part in match.groups())
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _parse_date(value: object) -> date | None:
    """The calendar date of a value, as written: an aware timestamp keeps its own wall-clock date, not UTC's."""
    if _is_missing(value):
        return None
    if isinstance(value, datetime):  # before date: datetime (and pd.Timestamp) is a date subclass
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, np.datetime64):
        day = value.astype("datetime64[D]").item()
        return day if isinstance(day, date) else None
    if isinstance(value, str):
        return _parse_date_text(value)
    return None


def _format_date(year: int, month: int, day: int, level: str) -> str:
    if level == "year":
        return f"{year:04d}"
    if level == "month":
        return f"{year:04d}-{month:02d}"
    return f"{year:04d}-{month:02d}-{day:02d}"


def date_to(value: object, level: str) -> str | None:
    """A date truncated to ``level`` ("year", "month" or "day"): ``"1987"``, ``"1987-04"``, ``"1987-04-12"``.

    Reads ``datetime``/``date``/``pd.Timestamp``/``numpy.datetime64``, ISO text (``1987-04-12``, with an optional
    time and offset) and US text ``m/d/Y`` (``4/12/1987`` is 12 April). Returns None for anything else, including
    impossible dates (``1999-02-29``) and numbers (an integer is not read as a timestamp).
    """
    _check_date_level(level)
    parsed = _parse_date(value)
    return None if parsed is None else _format_date(parsed.year, parsed.month, parsed.day, level)


# --- postal codes ---------------------------------------------------------------------------------------------


def _check_keep(keep: int, fill: str) -> None:
    if isinstance(keep, bool) or not isinstance(keep, int) or keep < 0:
        raise ValueError(f"keep must be a non-negative integer, got {keep!r}")
    if not isinstance(fill, str) or len(fill) != 1:
        raise ValueError(f"fill must be a single character, got {fill!r}")


def _code_text(value: object) -> str | None:
    """A postal code as text: integers are accepted (a ZIP read as a number), garbage is not."""
    if isinstance(value, bool | np.bool_) or _is_missing(value):
        return None
    if isinstance(value, numbers.Integral) or (isinstance(value, float) and value.is_integer()):
        if value < 0:
            return None
        text = str(int(value))
    elif isinstance(value, str):
        text = value.strip()
    else:
        return None
    if not any(char.isalnum() for char in text):
        return None
    if any(not char.isalnum() and char not in _CODE_SEPARATORS for char in text):
        return None
    return text


def zip_prefix(value: object, keep: int, fill: str = "*") -> str | None:
    """Keep the first ``keep`` letters/digits of a postal code and replace the rest with ``fill``.

    The length and the separators are kept: ``("12345", 3) -> "123**"``, ``("SW1A 1AA", 3) -> "SW1* ***"``.
    None when the value holds no letter or digit, or a character other than a space, hyphen or dot.
    """
    _check_keep(keep, fill)
    text = _code_text(value)
    if text is None:
        return None
    out: list[str] = []
    seen = 0
    for char in text:
        if char.isalnum():
            out.append(char if seen < keep else fill)
            seen += 1
        else:
            out.append(char)
    return "".join(out)


# --- ages and numeric bands -----------------------------------------------------------------------------------


def _check_top(top: int | None) -> None:
    if top is not None and (isinstance(top, bool) or not isinstance(top, int) or top < 0):
        raise ValueError(f"top must be None or a non-negative integer, got {top!r}")


def _age_label(low: int, width: int, top: int | None) -> str:
    # The last band below the cap stops at the cap: width 20, top 90 gives "80-89" then "90+".
    high = low + width if top is None else min(low + width, top)
    return f"{low}-{high - 1}"


def _top_coded(value: object, top: int | None) -> str | None:
    """An already top-coded age such as ``"90+"``: still readable when it lies at or above our own cap."""
    if top is None or not isinstance(value, str):
        return None
    match = _TOP_CODED.fullmatch(value.strip())
    return f"{top}+" if match is not None and int(match.group(1)) >= top else None


def age_band(value: object, width: int = 10, top: int | None = 90) -> str | None:
    """An age as a band of ``width`` years: ``34 -> "30-39"`` (width 5: ``"30-34"``); ``top`` and above -> ``"90+"``.

    Accepts numbers and numeric text; ``"95+"`` reads as ``"90+"`` with the default cap. None for negative,
    non-numeric, infinite or missing values, and for a top-coded text below the cap (its band is unknown).
    """
    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise ValueError(f"width must be a positive integer, got {width!r}")
    _check_top(top)
    number = _to_number(value)
    if number is None:
        return _top_coded(value, top)
    if number < 0:
        return None
    if top is not None and number >= top:
        return f"{top}+"
    if number >= _HUGE:
        return None
    return _age_label(math.floor(number / width) * width, width, top)


def _band_index(values: np.ndarray[Any, np.dtype[np.float64]], width: float) -> np.ndarray[Any, np.dtype[np.float64]]:
    # Rounding first keeps 0.3 / 0.1 (= 2.9999999999999996) in band 3; scalar and Series share this code.
    # Huge quotients are whole already, and rounding them would overflow to inf.
    quotient = values / width
    small = np.abs(quotient) < _HUGE
    return np.floor(np.where(small, np.round(np.where(small, quotient, 0.0), 9), quotient))


def _numeric_label(index: float, width: float) -> str:
    return f"[{_format_number(index * width)}, {_format_number((index + 1) * width)})"


def numeric_band(value: object, width: float) -> str | None:
    """A number as the half-open band of ``width`` holding it: ``(1500, 1000) -> "[1000, 2000)"``.

    Bands start at multiples of ``width`` (negative numbers included). None for non-numeric or infinite values.
    """
    _check_width(width)
    number = _to_number(value)
    if number is None:
        return None
    index = float(_band_index(np.array([number]), float(width))[0])
    return _numeric_label(index, float(width))


# --- vectorised versions --------------------------------------------------------------------------------------


def _take(labels: list[str | None], codes: np.ndarray[Any, Any], like: Series) -> Series:
    """Labels of the distinct values spread back over the rows; code -1 (missing) picks the trailing None."""
    table = np.empty(len(labels) + 1, dtype=object)
    table[: len(labels)] = labels
    table[-1] = None
    return pd.Series(table[codes], index=like.index, name=like.name, dtype=object)


def _map_distinct(series: Series, function: Callable[[object], str | None]) -> Series:
    """``function`` once per distinct value instead of once per row."""
    try:
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
    except TypeError:  # unhashable values (lists...): no shortcut, but still no exception
        return pd.Series([function(value) for value in series], index=series.index, name=series.name, dtype=object)
    return _take([function(value) for value in uniques], codes, series)


def _is_number_column(series: Series) -> bool:
    return bool(pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series))


def _labels_from_keys(keys: np.ndarray[Any, Any], valid: np.ndarray[Any, Any], label: Callable[[Any], str],
                      like: Series) -> Series:
    """Rows with the same integer key share a label, formatted once per distinct key."""
    distinct, inverse = np.unique(keys[valid], return_inverse=True)
    codes = np.full(len(keys), -1, dtype=np.int64)
    codes[valid] = inverse
    return _take([label(key) for key in distinct.tolist()], codes, like)


def series_date_to(series: Series, level: str) -> Series:
    """``date_to`` over a Series: datetime columns through numpy, text once per distinct value."""
    _check_date_level(level)
    if pd.api.types.is_datetime64_any_dtype(series):
        return _datetime_column_to(series, level)
    return _map_distinct(series, lambda value: date_to(value, level))


def _datetime_column_to(series: Series, level: str) -> Series:
    valid = series.notna().to_numpy()
    parts = series.dt  # aware columns give their own wall-clock fields, as the scalar version does
    year = parts.year.fillna(0).to_numpy(dtype=np.int64)
    month = parts.month.fillna(0).to_numpy(dtype=np.int64)
    day = parts.day.fillna(0).to_numpy(dtype=np.int64)
    keys = year * 10_000 + (month if level != "year" else 0) * 100 + (day if level == "day" else 0)
    return _labels_from_keys(keys, valid, lambda key: _format_date(key // 10_000, key // 100 % 100, key % 100, level),
                             series)


def _is_text_column(series: Series) -> bool:
    """Only text, so converting to pandas' string dtype changes no value (a float ZIP would gain a ".0")."""
    if pd.api.types.is_object_dtype(series):
        return bool(pd.api.types.infer_dtype(series, skipna=True) == "string")
    return bool(pd.api.types.is_string_dtype(series))


def series_zip_prefix(series: Series, keep: int, fill: str = "*") -> Series:
    """``zip_prefix`` over a Series: plain ASCII codes are sliced by the string kernels, grouped by length."""
    _check_keep(keep, fill)
    if not _is_text_column(series):
        return _map_distinct(series, lambda value: zip_prefix(value, keep, fill))
    text = series.astype("str").str.strip()
    # ASCII only: the Arrow kernels and Python may disagree on which rarer Unicode characters are alphanumeric.
    plain = text.str.fullmatch(r"[0-9A-Za-z]+").fillna(False).to_numpy(dtype=bool)
    out = np.empty(len(series), dtype=object)
    out[:] = None
    lengths = text.str.len().fillna(0).to_numpy(dtype=np.int64)
    for length in np.unique(lengths[plain]).tolist():
        rows = plain & (lengths == length)
        out[rows] = (text[rows].str.slice(0, keep) + fill * max(length - keep, 0)).to_numpy(dtype=object)
    rest = ~plain & series.notna().to_numpy()
    if rest.any():  # separators ("SW1A 1AA") or garbage: the scalar rules decide
        out[rest] = _map_distinct(series[rest], lambda value: zip_prefix(value, keep, fill)).to_numpy(dtype=object)
    return pd.Series(out, index=series.index, name=series.name, dtype=object)


def _float_values(series: Series) -> np.ndarray[Any, np.dtype[np.float64]]:
    values: np.ndarray[Any, np.dtype[np.float64]] = series.to_numpy(dtype=np.float64, na_value=np.nan)
    return values


def series_age_band(series: Series, width: int = 10, top: int | None = 90) -> Series:
    """``age_band`` over a Series: numeric columns through numpy, text (``"90+"``) once per distinct value."""
    age_band(0, width, top)  # validates the parameters with the scalar's own messages
    if not _is_number_column(series):
        return _map_distinct(series, lambda value: age_band(value, width, top))
    values = _float_values(series)
    readable = np.isfinite(values) & (values >= 0)
    capped = readable & (values >= top) if top is not None else np.zeros(len(values), dtype=bool)
    banded = readable & ~capped & (values < _HUGE)
    lows = np.zeros(len(values), dtype=np.int64)
    lows[banded] = (np.floor(values[banded] / width) * width).astype(np.int64)
    lows[capped] = -1  # the top band gets its own key below every real band

    def label(low: int) -> str:
        return f"{top}+" if low < 0 else _age_label(low, width, top)

    return _labels_from_keys(lows, banded | capped, label, series)


def series_numeric_band(series: Series, width: float) -> Series:
    """``numeric_band`` over a Series: numeric columns through numpy, anything else once per distinct value."""
    _check_width(width)
    if not _is_number_column(series):
        return _map_distinct(series, lambda value: numeric_band(value, width))
    values = _float_values(series)
    valid = np.isfinite(values)
    index = _band_index(np.where(valid, values, 0.0), float(width))
    return _labels_from_keys(index, valid, lambda key: _numeric_label(float(key), float(width)), series)
