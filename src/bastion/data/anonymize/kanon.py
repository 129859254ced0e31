"""k-anonymity and l-diversity of a table, and an anonymiser that generalises quasi-identifiers until they hold.

Vocabulary. The *quasi-identifiers* (QIs) are the columns an attacker can link with outside data (age, ZIP,
birth date, sex). Rows that agree on every QI form an *equivalence class*. A table is *k-anonymous* when every
class has at least k rows, and *(distinct) l-diverse* when every class holds at least l distinct values of the
*sensitive* column. Missing values (None, NaN, NaT, pd.NA) count as one value of their own: a missing ZIP links
nobody to a ZIP, but all rows missing it still look alike to an attacker, so they form one class together.

``KAnonymizer`` searches the lattice of generalisation levels (one level per QI, one ``Hierarchy`` per QI) for
the node with the least information loss that reaches the target with at most ``max_suppression`` of the rows
suppressed; see its docstring for the loss metric and the pruning.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time
from functools import partial
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt
import pandas as pd  # type: ignore[import-untyped, unused-ignore]

from bastion.data.anonymize.generalize import (
    date_to,
    series_age_band,
    series_date_to,
    series_numeric_band,
    series_zip_prefix,
)

Series = Any
"""A ``pandas.Series`` (pandas ships no type information)."""
DataFrame = Any
"""A ``pandas.DataFrame``."""
Codes = npt.NDArray[np.int64]
Step = Callable[[Series], Series] | Mapping[Any, Any]
"""One level of a caller-given hierarchy: a function of the exact column, or a value -> parent mapping."""

SUPPRESSED = "*"
"""What a fully generalised or masked quasi-identifier shows."""
EXAMPLES = 5
"""How many of the smallest classes a ``PrivacyMeasure`` shows."""
_ID_SPACE = 1 << 62
"""Combined class keys stay below this, so products of code ranges never overflow int64."""
_LOSS_TIE = 1e-9


class AnonymizationError(ValueError):
    """The target cannot be reached, even with every quasi-identifier fully generalised."""

    def __init__(self, message: str, best_k: int, rows_needed: int) -> None:
        super().__init__(message)
        self.best_k = best_k
        """The largest k reachable within the suppression budget."""
        self.rows_needed = rows_needed
        """Rows that would have to be suppressed to reach the target."""


# --- columns and codes ----------------------------------------------------------------------------------------


def _names(quasi_identifiers: Sequence[str] | str) -> tuple[str, ...]:
    names = (quasi_identifiers,) if isinstance(quasi_identifiers, str) else tuple(quasi_identifiers)
    if not names:
        raise ValueError("give at least one quasi-identifier column")
    if len(set(names)) != len(names):
        raise ValueError(f"quasi-identifiers repeat a column: {list(names)}")
    return names


def _check_columns(table: DataFrame, quasi_identifiers: Sequence[str] | str, sensitive: str | None) -> tuple[str, ...]:
    names = _names(quasi_identifiers)
    available = [str(column) for column in table.columns]
    for name in (*names, *([sensitive] if sensitive is not None else [])):
        if name not in table.columns:
            raise ValueError(f"unknown column {name!r}; the table has: {', '.join(available) or '(no columns)'}")
    if sensitive in names:
        raise ValueError(f"column {sensitive!r} cannot be both a quasi-identifier and the sensitive column")
    return names


def _check_target(name: str, value: int | None) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ValueError(f"{name} must be a positive integer or None, got {value!r}")


def _distinct(series: Series) -> tuple[Codes, Series]:
    """Row codes and the distinct values they point to (missing values included as one)."""
    try:
        codes, uniques = pd.factorize(series, use_na_sentinel=False)
    except TypeError:  # unhashable cells: compare them by their text
        codes, uniques = pd.factorize(series.astype(str), use_na_sentinel=False)
    return codes.astype(np.int64, copy=False), pd.Series(uniques)


def _codes(series: Series) -> tuple[Codes, int]:
    """Integer codes of a column, missing values included as one code of their own, and how many codes."""
    codes, distinct = _distinct(series)
    return codes, len(distinct)


def _compact(key: Codes) -> tuple[Codes, int]:
    codes, uniques = pd.factorize(key)
    return codes.astype(np.int64, copy=False), len(uniques)


def _combine(codes: Sequence[Codes], cards: Sequence[int], rows: int, compact: bool = False) -> tuple[Codes, int]:
    """One class id per row from per-column codes (mixed radix), re-numbered when the id space gets too large."""
    key = np.zeros(rows, dtype=np.int64)
    space = 1
    for column, card in zip(codes, cards, strict=True):
        if space * card >= _ID_SPACE:
            key, space = _compact(key)
        key = key * card + column
        space *= card
    # A sparse id space would make the per-class arrays huge; compact ids also number classes by first row.
    if compact or space > max(2 * rows, 1 << 16):
        return _compact(key)
    return key, space


@dataclass(frozen=True)
class _Classes:
    """Equivalence classes of a table: per-row class ids and per-id statistics (ids may be unused: size 0)."""

    ids: Codes
    """Class id of every row."""
    sizes: Codes
    """Rows per class id."""
    distinct: Codes | None
    """Distinct sensitive values per class id; None without a sensitive column."""

    def failing(self, k: int | None, l: int | None) -> npt.NDArray[np.bool_]:  # noqa: E741
        """Per class id: a non-empty class below k rows or below l distinct sensitive values."""
        bad = np.zeros(len(self.sizes), dtype=bool)
        if k is not None:
            bad |= self.sizes < k
        if l is not None and self.distinct is not None:
            bad |= self.distinct < l
        return bad & (self.sizes > 0)


def _classes(ids: Codes, space: int, sensitive: tuple[Codes, int] | None) -> _Classes:
    sizes = np.bincount(ids, minlength=space).astype(np.int64)
    if sensitive is None:
        return _Classes(ids, sizes, None)
    values, count = sensitive
    pairs = pd.unique(ids * max(count, 1) + values)  # ids < max(2 * rows, 65536): no overflow
    distinct = np.bincount(pairs // max(count, 1), minlength=space).astype(np.int64)
    return _Classes(ids, sizes, distinct)


# --- measuring ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PrivacyMeasure:
    """How identifiable the rows of a table are through its quasi-identifiers."""

    k: int
    """Size of the smallest equivalence class (the table is k-anonymous for this k); 0 for an empty table."""
    l: int | None  # noqa: E741
    """Fewest distinct sensitive values in a class (distinct l-diversity); None without a sensitive column."""
    classes: int
    """Number of equivalence classes."""
    rows: int
    """Rows measured."""
    quasi_identifiers: tuple[str, ...]
    """The columns that define the classes."""
    sensitive: str | None
    """The sensitive column, if any."""
    target_k: int | None
    """The k asked for, if any; the ``*_below_*`` counts refer to it."""
    target_l: int | None
    """The l asked for, if any."""
    rows_below_k: int
    """Rows in classes smaller than ``target_k`` (0 without a target)."""
    rows_below_l: int
    """Rows in classes with fewer than ``target_l`` distinct sensitive values (0 without a target)."""
    rows_to_suppress: int
    """Rows in classes that miss either target: what suppression would remove."""
    class_sizes: tuple[tuple[int, int], ...]
    """Histogram of class sizes as ``(size, number of classes)`` pairs, smallest size first."""
    smallest_classes: tuple[dict[str, Any], ...]
    """QI values of up to five of the smallest classes (the most identifiable rows), for reports."""
    smallest_class_sizes: tuple[int, ...]
    """Sizes of the classes in ``smallest_classes``, in the same order."""

    @property
    def average_class_size(self) -> float:
        """Rows per class; 0 for an empty table."""
        return self.rows / self.classes if self.classes else 0.0

    def satisfies(self, k: int, l: int | None = None) -> bool:  # noqa: E741
        """Whether every class has at least ``k`` rows and, when given, ``l`` distinct sensitive values."""
        if self.rows and self.k < k:
            return False
        return l is None or not self.rows or (self.l is not None and self.l >= l)


def _plain(value: Any) -> Any:
    """A report-friendly cell: numpy scalars as Python ones, every kind of missing as None."""
    if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)):
        return None
    return value.item() if isinstance(value, np.generic) else value


def _examples(table: DataFrame, names: tuple[str, ...], classes: _Classes) -> tuple[tuple[dict[str, Any], ...],
                                                                                   tuple[int, ...]]:
    # Compact ids number classes by their first row, so a stable sort breaks size ties by position in the table.
    chosen = np.argsort(classes.sizes, kind="stable")[:EXAMPLES]
    firsts = [int(np.argmax(classes.ids == class_id)) for class_id in chosen.tolist()]
    examples = tuple({name: _plain(table[name].iloc[row]) for name in names} for row in firsts)
    return examples, tuple(int(size) for size in classes.sizes[chosen])


def measure(table: DataFrame, quasi_identifiers: Sequence[str] | str, sensitive: str | None = None,
            k: int | None = None, l: int | None = None) -> PrivacyMeasure:  # noqa: E741
    """k-anonymity (and l-diversity when ``sensitive`` is given) of ``table`` over ``quasi_identifiers``.

    ``k`` and ``l`` are optional targets: they only fill in the ``rows_below_*`` counts. Missing values are one
    value of their own (see the module docstring). Raises ValueError naming an unknown column.
    """
    names = _check_columns(table, quasi_identifiers, sensitive)
    _check_target("k", k)
    _check_target("l", l)
    rows = len(table)
    codes = [_codes(table[name]) for name in names]
    ids, space = _combine([c for c, _ in codes], [n for _, n in codes], rows, compact=True)
    classes = _classes(ids, space, _codes(table[sensitive]) if sensitive is not None else None)
    examples, example_sizes = _examples(table, names, classes)
    histogram = np.unique(classes.sizes, return_counts=True)
    return PrivacyMeasure(
        k=int(classes.sizes.min()) if space else 0,
        l=(int(classes.distinct.min()) if space else 0) if classes.distinct is not None else None,
        classes=space, rows=rows, quasi_identifiers=names, sensitive=sensitive, target_k=k, target_l=l,
        rows_below_k=int(classes.sizes[classes.failing(k, None)].sum()),
        rows_below_l=int(classes.sizes[classes.failing(None, l)].sum()),
        rows_to_suppress=int(classes.sizes[classes.failing(k, l)].sum()),
        class_sizes=tuple((int(size), int(count)) for size, count in zip(*histogram, strict=True)),
        smallest_classes=examples, smallest_class_sizes=example_sizes,
    )


# --- hierarchies ----------------------------------------------------------------------------------------------


@runtime_checkable
class Hierarchy(Protocol):
    """How one quasi-identifier generalises: level 0 is the exact value, each level above merges values.

    ``apply`` is called on the column's *distinct* values, so it must work value by value (never look at other
    rows), and each level must merge whole groups of the level below (a coarsening): the search relies on that.
    """

    @property
    def levels(self) -> int:
        """Number of levels, the exact values (level 0) included."""
        ...

    def apply(self, series: Series, level: int) -> Series:
        """The column generalised to ``level``, same length and order."""
        ...

    def label(self, level: int) -> str:
        """A short human name of ``level`` ("exact", "band 10", "*")."""
        ...


def _suppress_all(series: Series) -> Series:
    return pd.Series([SUPPRESSED] * len(series), index=series.index, dtype=object)


def _map_parents(series: Series, parents: Mapping[Any, Any]) -> Series:
    # "*" passes through, so a taxonomy can reach the top before its last level without repeating it.
    star = (series == SUPPRESSED).to_numpy(dtype=bool)
    known = series.isin(list(parents)).to_numpy(dtype=bool) | star | series.isna().to_numpy(dtype=bool)
    if not known.all():
        missing = ", ".join(repr(value) for value in pd.unique(series[~known])[:EXAMPLES])
        raise ValueError(f"the hierarchy gives no parent for: {missing}")
    mapped = series.map(dict(parents)).astype(object)
    mapped[star & ~series.isin(list(parents)).to_numpy(dtype=bool)] = SUPPRESSED
    mapped[series.isna().to_numpy(dtype=bool)] = None
    return mapped


def _mapping_step(previous: Callable[[Series], Series], parents: Mapping[Any, Any]) -> Callable[[Series], Series]:
    return lambda series: _map_parents(previous(series), parents)


def _identity(series: Series) -> Series:
    return series


@dataclass(frozen=True)
class Generalization:
    """A ``Hierarchy`` given level by level; every built-in hierarchy is one."""

    steps: tuple[Callable[[Series], Series], ...]
    """``steps[i]`` turns the exact column into the column at level ``i + 1``."""
    names: tuple[str, ...]
    """A short name per level, level 0 ("exact") first, for labels such as ``age: band 10``."""

    def __post_init__(self) -> None:
        if len(self.names) != len(self.steps) + 1:
            raise ValueError(f"a hierarchy with {len(self.steps)} steps needs {len(self.steps) + 1} level names")

    @classmethod
    def from_levels(cls, steps: Sequence[Step], names: Sequence[str] | None = None) -> Generalization:
        """A hierarchy from the caller's levels above the exact one.

        A callable receives the exact column and returns the column at that level. A mapping gives each value of
        the level below its parent (a taxonomy written one level at a time: ``{"flu": "respiratory"}`` then
        ``{"respiratory": "*"}``); a value without a parent raises ValueError.
        """
        previous: Callable[[Series], Series] = _identity
        built: list[Callable[[Series], Series]] = []
        for step in steps:
            previous = _mapping_step(previous, step) if isinstance(step, Mapping) else step
            built.append(previous)
        labels = tuple(names) if names is not None else ("exact", *(f"level {i}" for i in range(1, len(built) + 1)))
        return cls(tuple(built), labels)

    @property
    def levels(self) -> int:
        """Number of levels, the exact values included."""
        return len(self.steps) + 1

    def apply(self, series: Series, level: int) -> Series:
        """The column at ``level``."""
        if not 0 <= level < self.levels:
            raise ValueError(f"level {level} is outside 0..{self.levels - 1}")
        return series if level == 0 else self.steps[level - 1](series)

    def label(self, level: int) -> str:
        """The name of ``level``."""
        return self.names[level]


def _width_text(width: float) -> str:
    return f"{width:.10g}"


def _check_nested(widths: Sequence[float]) -> None:
    """Each width a whole multiple of the previous one, so every band lies inside one band of the next level."""
    if any(not width > 0 for width in widths):
        raise ValueError(f"band widths must be positive, got {list(widths)}")
    for smaller, larger in zip(widths, widths[1:], strict=False):
        ratio = larger / smaller
        if ratio < 1 or abs(ratio - round(ratio)) > 1e-9:
            raise ValueError(f"band widths must grow by whole multiples; {larger} is not a multiple of {smaller}")


def numeric_hierarchy(widths: Sequence[float] = (5, 10, 20, 40)) -> Generalization:
    """Exact, then bands of each width (``[10, 20)``), then ``*``; each width a whole multiple of the previous."""
    _check_nested(widths)
    steps = [partial(series_numeric_band, width=width) for width in widths]
    return Generalization((*steps, _suppress_all), ("exact", *(f"band {_width_text(w)}" for w in widths), "*"))


def age_hierarchy(widths: Sequence[int] = (5, 10, 20), top: int | None = 90) -> Generalization:
    """Exact, then age bands of each width (``30-39``), capped at ``top`` (``90+``), then ``*``."""
    _check_nested(widths)
    steps = [partial(series_age_band, width=width, top=top) for width in widths]
    return Generalization((*steps, _suppress_all), ("exact", *(f"band {w}" for w in widths), "*"))


def date_hierarchy(with_day: bool = False) -> Generalization:
    """Exact, (day, when the values carry a time,) month, year, then ``*``."""
    units = ("day", "month", "year") if with_day else ("month", "year")
    steps = [partial(series_date_to, level=unit) for unit in units]
    return Generalization((*steps, _suppress_all), ("exact", *units, "*"))


def zip_hierarchy(length: int) -> Generalization:
    """Exact, then the first ``length - 1``, ``length - 2``, ... 1 characters of a postal code, then ``*``."""
    keeps = range(length - 1, 0, -1)
    steps = [partial(series_zip_prefix, keep=keep) for keep in keeps]
    return Generalization((*steps, _suppress_all), ("exact", *(f"keep {keep}" for keep in keeps), "*"))


def suppression_hierarchy() -> Generalization:
    """Exact, then ``*``: for categories with no natural grouping."""
    return Generalization((_suppress_all,), ("exact", "*"))


_SAMPLE = 1000
"""Distinct values inspected to recognise dates and postal codes."""
_POSTAL_NAMES = ("zip", "postal", "postcode")


def _is_age(name: str) -> bool:
    # Whole words only (snake_case, camelCase, spaces): "age" inside "percentage", "usage" or "page" is no age.
    words = re.split(r"[^a-z]+", re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name).lower())
    return "age" in words or "ages" in words


def _distinct_sample(series: Series) -> list[Any]:
    return list(pd.unique(series.dropna())[:_SAMPLE])


def _looks_like_dates(series: Series) -> bool:
    if pd.api.types.is_datetime64_any_dtype(series):
        return True
    if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        return False
    sample = _distinct_sample(series)
    return bool(sample) and sum(date_to(value, "day") is not None for value in sample) >= 0.9 * len(sample)


def _finer_than_day(value: Any) -> bool:
    """A time of day, or text that is not already written as its day (US order): a "day" level changes it."""
    if isinstance(value, datetime):
        return value.time() != time(0)
    return isinstance(value, str) and value.strip() != date_to(value, "day")


def _has_time(series: Series) -> bool:
    values = series.dropna()
    if pd.api.types.is_datetime64_any_dtype(series):
        return bool((values != values.dt.normalize()).any())
    return any(_finer_than_day(value) for value in _distinct_sample(values))


def _code_length(series: Series) -> int:
    """The most letters and digits in one code (a float ZIP such as 2134.0 counts as 2134)."""
    # With keep=0 every letter and digit becomes the fill character, so counting it counts them (vectorised).
    masked = series_zip_prefix(pd.Series(pd.unique(series.dropna())), 0, fill="#").dropna()
    return max(int(pd.Series(masked, dtype="str").str.count("#").max()), 1) if len(masked) else 1


def _looks_like_postal(series: Series) -> bool:
    if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        return False
    sample = [str(value).strip() for value in _distinct_sample(series)]
    if not sample or len({len(text) for text in sample}) != 1 or len(sample[0]) < 3:
        return False
    return sum(text.isdigit() for text in sample) >= 0.8 * len(sample)


def _numeric_unit(series: Series) -> float:
    """A power of ten near a hundredth of the column's span, so bands fit incomes as well as ages."""
    values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    values = values[np.isfinite(values)]
    span = float(values.max() - values.min()) if values.size else 0.0
    unit = 10.0 ** math.floor(math.log10(span / 100)) if span > 0 else 1.0
    return max(unit, 1.0) if pd.api.types.is_integer_dtype(series) else unit


def default_hierarchy(series: Series, name: str) -> Generalization:
    """The built-in hierarchy for a column, chosen from its name and data.

    Postal codes (name with zip/postal/postcode, or text of one length, mostly digits): keep n-1 ... 1
    characters, then ``*``. Dates: (day,) month, year, ``*``. Numbers named like an age: bands of 5, 10 and 20
    years capped at 90+, then ``*``. Other numbers: bands of 5, 10, 20 and 40 units, where the unit is a power of
    ten fitted to the column's span (40 rather than 50, so every band nests in the next), then ``*``.
    Anything else: exact, then ``*``.
    """
    lowered = name.lower()
    numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
    if any(word in lowered for word in _POSTAL_NAMES) or _looks_like_postal(series):
        return zip_hierarchy(_code_length(series))
    if _looks_like_dates(series):
        return date_hierarchy(with_day=_has_time(series))
    if numeric and _is_age(name):
        return age_hierarchy()
    if numeric:
        unit = _numeric_unit(series)
        return numeric_hierarchy(tuple(unit * width for width in (5, 10, 20, 40)))
    return suppression_hierarchy()


def _as_hierarchy(name: str, given: Hierarchy | Sequence[Step]) -> Hierarchy:
    if isinstance(given, Hierarchy):
        return given
    if isinstance(given, str | bytes) or not isinstance(given, Sequence):
        raise ValueError(f"hierarchy for {name!r} must be a Hierarchy or a list of levels, got {type(given).__name__}")
    return Generalization.from_levels(given)


# --- the anonymised table -------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class AnonymizedTable:
    """What ``KAnonymizer.transform`` returns: the table, how it was generalised, and what was suppressed."""

    table: DataFrame
    """The output rows (original index labels kept): QIs generalised, all other columns untouched."""
    levels: dict[str, int]
    """Generalisation level chosen per QI (0 = exact)."""
    labels: dict[str, str]
    """A human label per QI, e.g. ``"age: band 10"``."""
    suppressed_rows: tuple[int, ...]
    """Positions (0-based, in the input) of the rows suppressed, ascending."""
    suppressed: DataFrame
    """The original QI values of the suppressed rows, for the report."""
    before: PrivacyMeasure
    """The input measured over the QIs."""
    after: PrivacyMeasure
    """The output measured over the QIs; with ``suppress="mask"`` only the rows not suppressed (as ARX does)."""
    input_rows: int
    """Rows given to ``transform``."""
    output_rows: int
    """Rows in ``table``."""
    suppress: str = "drop"
    """``"drop"``: suppressed rows are removed; ``"mask"``: kept with every QI replaced by ``*``."""

    def __post_init__(self) -> None:
        expected = self.input_rows - len(self.suppressed_rows) if self.suppress == "drop" else self.input_rows
        if self.output_rows != expected or len(self.table) != self.output_rows:
            raise ValueError(f"rows not accounted for: {self.input_rows} in, {len(self.suppressed_rows)} suppressed,"
                             f" {self.output_rows} out ({len(self.table)} in the table) with suppress={self.suppress}")
        if len(self.suppressed) != len(self.suppressed_rows):
            raise ValueError("the suppressed rows and their values disagree")


# --- the lattice search ---------------------------------------------------------------------------------------


@dataclass
class _Column:
    """One QI at every level of its hierarchy, computed once on the distinct values and spread over the rows."""

    rows: Codes
    """Code of every row's exact value."""
    values: list[Series]
    """Per level: the generalised distinct values, in code order."""
    codes: list[Codes]
    """Per level: the row codes of the generalised values."""
    cards: list[int]
    """Per level: how many codes are used."""


def _level_columns(series: Series, name: str, hierarchy: Hierarchy, levels: Sequence[int]) -> _Column:
    rows, distinct = _distinct(series)
    column = _Column(rows, [], [], [])
    for level in levels:
        values = hierarchy.apply(distinct, level)
        if len(values) != len(distinct):
            raise ValueError(f"the hierarchy of {name!r} returned {len(values)} values for {len(distinct)} "
                             f"at level {level}")
        codes, card = _codes(pd.Series(values).reset_index(drop=True))
        column.values.append(values)
        column.codes.append(codes[rows])
        column.cards.append(card)
    return column


class _Search:
    """Minimal-loss satisfying node of the lattice, with monotonicity tagging (see ``KAnonymizer``)."""

    def __init__(self, columns: list[_Column], sensitive: tuple[Codes, int] | None, rows: int,
                 target: tuple[int, int | None], budget: int) -> None:
        self.columns, self.sensitive, self.rows, self.target, self.budget = columns, sensitive, rows, target, budget
        self.shape = tuple(len(column.codes) for column in columns)
        self.nodes = np.indices(self.shape).reshape(len(self.shape), -1).T.astype(np.int32)
        depth = np.maximum(np.array(self.shape) - 1, 1)
        self.loss = (self.nodes / depth).mean(axis=1)
        self.status = np.zeros(len(self.nodes), dtype=np.int8)  # 1 satisfies, -1 fails, 0 unknown
        self.results: dict[int, tuple[int, int]] = {}  # node -> (rows to suppress, discernibility)

    def classes(self, index: int) -> _Classes:
        node = self.nodes[index]
        codes = [column.codes[level] for column, level in zip(self.columns, node.tolist(), strict=True)]
        cards = [column.cards[level] for column, level in zip(self.columns, node.tolist(), strict=True)]
        return _classes(*_combine(codes, cards, self.rows), self.sensitive)

    def evaluate(self, index: int) -> bool:
        if index not in self.results:
            classes = self.classes(index)
            failing = classes.failing(*self.target)
            dropped = int(classes.sizes[failing].sum())
            kept = classes.sizes[~failing]
            self.results[index] = (dropped, int((kept * kept).sum()) + dropped * self.rows)
            ok = dropped <= self.budget
            # Monotonicity: generalising only merges classes, so what satisfies stays satisfied above it.
            if ok:
                self.status[np.all(self.nodes >= self.nodes[index], axis=1)] = 1
            else:
                self.status[np.all(self.nodes <= self.nodes[index], axis=1)] = -1
        return self.results[index][0] <= self.budget

    def chain(self, index: int) -> list[int]:
        """From a node up to the top, raising one level at a time where the most levels remain."""
        node = self.nodes[index].copy()
        top = np.array(self.shape) - 1
        path = [index]
        while (node < top).any():
            node[int(np.argmax(top - node))] += 1
            path.append(int(np.ravel_multi_index(tuple(node.tolist()), self.shape)))
        return path

    def probe(self, index: int) -> None:
        """Binary search for the lowest satisfying node on the chain above ``index``; tags whole regions."""
        path = self.chain(index)
        low, high = 0, len(path) - 1  # the top (last) is known to satisfy
        while low < high:
            middle = (low + high) // 2
            if self.status[path[middle]] == 1 or (self.status[path[middle]] == 0 and self.evaluate(path[middle])):
                high = middle
            else:
                low = middle + 1
        if self.status[index] == 0:
            self.evaluate(index)

    def run(self) -> int | None:
        """The best node, or None when even the top fails."""
        top = len(self.nodes) - 1
        if not self.evaluate(top):
            return None
        order = np.lexsort((self.nodes.sum(axis=1), self.loss))
        found: list[int] = []
        for index in order.tolist():
            if found and self.loss[index] > self.loss[found[0]] + _LOSS_TIE:
                break
            if self.status[index] == 0:
                self.probe(index)
            if self.status[index] == 1:
                self.evaluate(index)  # ties are settled by suppression, then discernibility
                found.append(index)
        return min(found, key=lambda i: (*self.results[i], i))


def _best_within(values: Codes, sizes: Codes, budget: int) -> int:
    """The smallest per-class value left after suppressing the classes with the smallest values that fit the budget."""
    order = np.argsort(values, kind="stable")
    dropped = int(np.searchsorted(np.cumsum(sizes[order]), budget, side="right"))
    return int(values[order[dropped]]) if dropped < len(order) else 0


# --- the anonymiser -------------------------------------------------------------------------------------------


class KAnonymizer:
    """Generalise quasi-identifiers (and suppress what remains) until the table is k-anonymous (and l-diverse).

    Search. Each QI has a ``Hierarchy``; a lattice node picks one level per QI. A node *satisfies* when the rows
    in classes below ``k`` (or below ``l`` distinct sensitive values) are at most ``max_suppression`` of the table;
    those rows are then suppressed. Generalising only merges classes, so satisfaction is monotone: if a node
    satisfies, all its generalisations do, and if it fails, all its specialisations fail. Nodes are visited in
    order of loss; an unknown node triggers a binary search along a chain from it to the top, and every node
    evaluated tags its whole up-set (satisfies) or down-set (fails), so most nodes are never evaluated. The first
    satisfying node in loss order is optimal, since generalising always raises the loss.

    Loss. The mean over QIs of level / top level (Sweeney's precision loss): it does not depend on the data, so
    the lattice can be ordered before any evaluation, it grows strictly with every step up, and it weighs a QI
    with a deep hierarchy like one with a shallow one. Nodes of equal loss are compared by the rows they
    suppress, then by the discernibility metric (sum of squared class sizes, suppressed rows counting as the
    whole table).

    Parameters: ``quasi_identifiers`` (column names), ``k`` (minimum class size), ``l`` (minimum distinct
    sensitive values per class; needs ``sensitive``), ``sensitive`` (column name), ``max_suppression`` (fraction of
    rows that may be suppressed, in [0, 1)), ``hierarchies`` (per QI: a ``Hierarchy`` or a list of levels for
    ``Generalization.from_levels``; others get ``default_hierarchy``), ``suppress`` ("drop" or "mask"; see
    ``AnonymizedTable``), ``max_lattice_size`` (most nodes allowed: the product of the hierarchies' level counts).

    After ``fit``: ``levels_`` (level per QI), ``hierarchies_``, ``loss_``, ``nodes_evaluated_``, ``lattice_size_``.
    """

    def __init__(self, quasi_identifiers: Sequence[str] | str, k: int = 5, l: int | None = None,  # noqa: E741
                 sensitive: str | None = None, max_suppression: float = 0.05,
                 hierarchies: Mapping[str, Hierarchy | Sequence[Step]] | None = None, suppress: str = "drop",
                 max_lattice_size: int = 100_000) -> None:
        self.quasi_identifiers = quasi_identifiers
        self.k = k
        self.l = l
        self.sensitive = sensitive
        self.max_suppression = max_suppression
        self.hierarchies = hierarchies
        self.suppress = suppress
        self.max_lattice_size = max_lattice_size

    # -- parameters --

    def _check_params(self, names: tuple[str, ...]) -> None:
        if isinstance(self.k, bool) or not isinstance(self.k, int) or self.k < 1:
            raise ValueError(f"k must be a positive integer, got {self.k!r}")
        _check_target("l", self.l)
        if self.l is not None and self.sensitive is None:
            raise ValueError("l-diversity needs the sensitive column: pass sensitive=...")
        if not 0 <= self.max_suppression < 1:
            raise ValueError(f"max_suppression must be in [0, 1), got {self.max_suppression!r}")
        if self.suppress not in ("drop", "mask"):
            raise ValueError(f"suppress must be 'drop' or 'mask', got {self.suppress!r}")
        unknown = sorted(set(self.hierarchies or {}) - set(names))
        if unknown:
            raise ValueError(f"hierarchies given for columns that are not quasi-identifiers: {unknown}")

    def _resolve(self, table: DataFrame, names: tuple[str, ...]) -> dict[str, Hierarchy]:
        given = self.hierarchies or {}
        return {name: _as_hierarchy(name, given[name]) if name in given else default_hierarchy(table[name], name)
                for name in names}

    def _check_lattice(self, hierarchies: dict[str, Hierarchy]) -> None:
        size = math.prod(hierarchy.levels for hierarchy in hierarchies.values())
        if size > self.max_lattice_size:
            shape = " x ".join(f"{name} {h.levels}" for name, h in hierarchies.items())
            raise ValueError(f"the generalisation lattice has {size:,} nodes ({shape}), above max_lattice_size="
                             f"{self.max_lattice_size:,}; use fewer quasi-identifiers or shallower hierarchies")

    # -- fitting --

    def fit(self, table: DataFrame) -> KAnonymizer:
        """Choose the generalisation level of every QI (``levels_``) on ``table``."""
        names = _check_columns(table, self.quasi_identifiers, self.sensitive)
        self._check_params(names)
        hierarchies = self._resolve(table, names)
        self._check_lattice(hierarchies)
        rows = len(table)
        columns = [_level_columns(table[name], name, hierarchies[name], range(hierarchies[name].levels))
                   for name in names]
        sensitive = _codes(table[self.sensitive]) if self.sensitive is not None else None
        budget = math.floor(self.max_suppression * rows + 1e-9)
        search = _Search(columns, sensitive, rows, (self.k, self.l), budget)
        best = search.run() if rows else 0
        if best is None:
            raise self._impossible(search.classes(len(search.nodes) - 1), rows, budget)
        self.hierarchies_ = hierarchies
        self.levels_ = dict(zip(names, search.nodes[best].tolist(), strict=True))
        self.loss_ = float(search.loss[best])
        self.nodes_evaluated_ = len(search.results)
        self.lattice_size_ = len(search.nodes)
        return self

    def _impossible(self, top: _Classes, rows: int, budget: int) -> AnonymizationError:
        used = top.sizes > 0
        sizes = top.sizes[used]
        needed = int(top.sizes[top.failing(self.k, self.l)].sum())
        best_k = _best_within(sizes, sizes, budget)
        target = f"k={self.k}" + (f", l={self.l}" if self.l is not None else "")
        extra = ""
        if self.l is not None and top.distinct is not None:
            extra = f" and the best l is {_best_within(top.distinct[used], sizes, budget)}"
        message = (f"cannot reach {target} suppressing at most {self.max_suppression:.1%} of the rows ({budget} of "
                   f"{rows}): with every quasi-identifier at its most general level the best k within that budget is "
                   f"{best_k}{extra}, and reaching the target would need suppressing {needed} rows "
                   f"({needed / rows:.1%})")
        return AnonymizationError(message, best_k, needed)

    # -- transforming --

    def _fitted(self) -> tuple[dict[str, Hierarchy], dict[str, int]]:
        if not hasattr(self, "levels_"):
            raise RuntimeError("this KAnonymizer is not fitted yet: call fit (or fit_transform) first")
        return self.hierarchies_, self.levels_

    def transform(self, table: DataFrame) -> AnonymizedTable:
        """Generalise ``table`` to the fitted levels and suppress the rows of classes that still miss the target.

        On the table given to ``fit`` the suppression stays within ``max_suppression``; on another table the
        target still holds, but the suppression may be larger (check ``suppressed_rows``).
        """
        hierarchies, levels = self._fitted()
        names = _check_columns(table, self.quasi_identifiers, self.sensitive)
        rows = len(table)
        output = table.copy()
        codes: list[Codes] = []
        cards: list[int] = []
        for name in names:
            column = _level_columns(table[name], name, hierarchies[name], [levels[name]])
            codes.append(column.codes[0])
            cards.append(column.cards[0])
            if levels[name]:
                spread = pd.Series(column.values[0]).to_numpy(dtype=object)[column.rows]
                output[name] = pd.Series(spread, index=table.index, dtype=object)
        sensitive = _codes(table[self.sensitive]) if self.sensitive is not None else None
        classes = _classes(*_combine(codes, cards, rows), sensitive)
        suppressed = classes.failing(self.k, self.l)[classes.ids]
        return self._result(table, output, names, suppressed)

    def _result(self, table: DataFrame, output: DataFrame, names: tuple[str, ...],
                suppressed: npt.NDArray[np.bool_]) -> AnonymizedTable:
        hierarchies, levels = self._fitted()
        positions = np.flatnonzero(suppressed)
        if self.suppress == "drop":
            output = output.iloc[~suppressed]
            kept = output
        else:
            for name in names:  # object first: pandas refuses "*" in a numeric column
                output[name] = output[name].astype(object)
                output.iloc[positions, output.columns.get_loc(name)] = SUPPRESSED
            kept = output.iloc[~suppressed]
        return AnonymizedTable(
            table=output, levels=dict(levels),
            labels={name: f"{name}: {hierarchies[name].label(levels[name])}" for name in names},
            suppressed_rows=tuple(int(p) for p in positions), suppressed=table.iloc[positions][list(names)],
            before=measure(table, names, self.sensitive, self.k, self.l),
            after=measure(kept, names, self.sensitive, self.k, self.l),
            input_rows=len(table), output_rows=len(output), suppress=self.suppress,
        )

    def fit_transform(self, table: DataFrame) -> AnonymizedTable:
        """``fit`` then ``transform`` on the same table."""
        return self.fit(table).transform(table)
