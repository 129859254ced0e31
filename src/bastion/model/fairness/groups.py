"""Groups of rows by one or several sensitive columns (intersectional groups), as integer codes.

Every fairness number is a statistic per group, so the rows are turned once into a group number per row
(``GroupIndex.codes``) and everything after that is ``np.bincount`` over those codes. Each column is factorised by
pandas (hash based: strings, categoricals, numbers and booleans alike) and the per-column codes are combined in
mixed radix, keeping only the combinations present in the data. Groups are ordered by their values, column by
column (sorted, missing last), so the same data always gives the same group numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

MAX_GROUPS = 1000
"""Default limit on the number of groups: more usually means a continuous column was given as sensitive."""


@dataclass(frozen=True)
class GroupIndex:
    """The group of every row, for one or several sensitive columns."""

    columns: tuple[str, ...]
    """The sensitive columns, in the order given; several columns give intersectional groups."""
    codes: np.ndarray
    """Group number of each row, shape (n,), int64, in ``0..len(groups) - 1``."""
    groups: tuple[dict[str, object], ...]
    """Per group, column -> value as a plain Python scalar (missing values as ``None``)."""
    sizes: np.ndarray
    """Rows per group, shape (G,), int64; every group has at least one row."""

    @property
    def n_groups(self) -> int:
        """Number of groups (G)."""
        return len(self.groups)

    @property
    def rows(self) -> int:
        """Number of rows (n)."""
        return int(self.codes.shape[0])

    def label(self, group: int) -> str:
        """The group as text: ``sex=F, race=Other``."""
        return ", ".join(f"{column}={value}" for column, value in self.groups[group].items())

    def select(self, values: Mapping[str, object]) -> np.ndarray:
        """Boolean mask over groups (G,) of the groups whose value in every column named by ``values`` matches.

        Columns of the index not named in ``values`` may take any value, as in AIF360's group dicts. ``ValueError``
        naming the column when ``values`` names a column that is not sensitive.
        """
        unknown = [column for column in values if column not in self.columns]
        if unknown:
            raise ValueError(f"{unknown[0]!r} is not a sensitive column ({list(self.columns)})")
        wanted = {column: _plain(value) for column, value in values.items()}
        return np.array([all(_same(group[c], v) for c, v in wanted.items()) for group in self.groups], dtype=bool)

    @classmethod
    def from_columns(cls, columns: Any, *, max_groups: int = MAX_GROUPS) -> GroupIndex:
        """Group the rows by ``columns``: a pandas DataFrame, a mapping of name -> array-like, or a single
        pandas Series (named by its name) or array (named ``group``).

        ``ValueError`` for no columns, columns of different lengths, a column with no value at all, or more than
        ``max_groups`` groups (naming the column or columns).
        """
        if isinstance(max_groups, bool) or not isinstance(max_groups, int) or max_groups < 1:
            raise ValueError(f"max_groups must be a positive integer, got {max_groups!r}")
        named = _named_columns(columns)
        if not named:
            raise ValueError("sensitive: give at least one column")
        lengths = {name: len(values) for name, values in named}
        first = named[0][0]
        for name, length in lengths.items():
            if length != lengths[first]:
                raise ValueError(f"sensitive column {name!r} has {length} rows but {first!r} has {lengths[first]}")
        if lengths[first] == 0:
            raise ValueError("sensitive: the columns have no rows")
        codes = np.zeros(lengths[first], dtype=np.int64)
        values: list[tuple[object, ...]] = []
        names: list[str] = []
        for name, column in named:
            column_codes, uniques = _factorize(name, column, max_groups)
            names.append(name)
            if len(names) == 1:  # factorize codes only the values present: already dense and ordered
                codes, values = column_codes, [(value,) for value in uniques]
            else:
                codes, values = _combine(codes, values, column_codes, uniques, names, max_groups)
        sizes = np.bincount(codes, minlength=len(values)).astype(np.int64)
        groups = tuple(dict(zip(names, combo, strict=True)) for combo in values)
        return cls(columns=tuple(names), codes=codes, groups=groups, sizes=sizes)


def _named_columns(columns: Any) -> list[tuple[str, Any]]:
    """(name, values) pairs from a DataFrame, a mapping, a Series or a plain array."""
    import pandas as pd

    if isinstance(columns, pd.DataFrame):
        if len(set(map(str, columns.columns))) != len(columns.columns):
            raise ValueError("sensitive: the columns have duplicate names")
        return [(str(name), columns[name].array) for name in columns.columns]
    if isinstance(columns, pd.Series):
        return [(str(columns.name) if columns.name is not None else "group", columns.array)]
    if isinstance(columns, Mapping):
        return [(str(name), values) for name, values in columns.items()]
    if isinstance(columns, (np.ndarray, Sequence)) and not isinstance(columns, (str, bytes)):
        return [("group", columns)]
    raise ValueError(f"sensitive: give a DataFrame, a mapping of column -> values or one column, "
                     f"not {type(columns).__name__}")


def _factorize(name: str, column: Any, max_groups: int) -> tuple[np.ndarray, list[object]]:
    """Codes (n,) with missing values coded last, and the sorted plain values (``None`` last when present)."""
    import pandas as pd

    if isinstance(column, np.ndarray) and column.ndim != 1:
        raise ValueError(f"sensitive column {name!r} must be one-dimensional, got shape {column.shape}")
    if not isinstance(column, (np.ndarray, pd.api.extensions.ExtensionArray, pd.Series, pd.Index)):
        column = np.asarray(column, dtype=object) if not _all_plain_numbers(column) else np.asarray(column)
        if column.ndim != 1:
            raise ValueError(f"sensitive column {name!r} must be one-dimensional, got shape {column.shape}")
    try:
        codes, uniques = pd.factorize(column, sort=True, use_na_sentinel=True)
        plain = [_plain(v) for v in np.asarray(uniques, dtype=object).tolist()]
    except TypeError:  # values of several types that do not compare (1 and "a"): order by type, then text
        codes, uniques = pd.factorize(column, sort=False, use_na_sentinel=True)
        raw = [_plain(v) for v in np.asarray(uniques, dtype=object).tolist()]
        order = sorted(range(len(raw)), key=lambda i: (type(raw[i]).__name__, str(raw[i])))
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        codes = np.where(codes >= 0, rank[np.maximum(codes, 0)], -1)
        plain = [raw[i] for i in order]
    codes = np.asarray(codes, dtype=np.int64)
    if not plain:
        raise ValueError(f"sensitive column {name!r} is empty: every value is missing")
    missing = codes < 0
    if missing.any():
        codes = np.where(missing, len(plain), codes)
        plain.append(None)
    if len(plain) > max_groups:
        raise ValueError(f"sensitive column {name!r} has {len(plain)} distinct values (more than max_groups="
                         f"{max_groups}): a continuous column? bin it first")
    return codes, plain


def _combine(codes: np.ndarray, values: list[tuple[object, ...]], column_codes: np.ndarray, uniques: list[object],
             names: list[str], max_groups: int) -> tuple[np.ndarray, list[tuple[object, ...]]]:
    """Merge one more column into the group codes, keeping only the combinations present, in lexicographic order."""
    radix = len(uniques)
    combined = codes * radix + column_codes
    cells = len(values) * radix
    present = np.flatnonzero(np.bincount(combined, minlength=cells))  # cells <= max_groups ** 2, so small
    if len(present) > max_groups:
        shown = ", ".join(repr(n) for n in names)
        raise ValueError(f"sensitive columns {shown} together form {len(present)} groups (more than max_groups="
                         f"{max_groups}): a continuous column? bin it first")
    remap = np.full(cells, -1, dtype=np.int64)
    remap[present] = np.arange(len(present))
    merged = [(*values[cell // radix], uniques[cell % radix]) for cell in present.tolist()]
    return remap[combined], merged


def _all_plain_numbers(values: Any) -> bool:
    """True for a list of ints, floats and bools (safe to turn into a numeric array)."""
    try:
        return all(isinstance(v, (int, float, np.number, np.bool_)) for v in values)
    except TypeError:
        return False


def _plain(value: object) -> object:
    """A plain Python scalar: NumPy scalars unwrapped, every kind of missing value as ``None``."""
    import pandas as pd

    if isinstance(value, np.generic):
        value = value.item()
    try:
        if value is None or bool(pd.isna(value)):
            return None
    except (TypeError, ValueError):  # pd.isna of a non-scalar
        return value
    return value


def _same(left: object, right: object) -> bool:
    """Equality of two plain values, where ``None`` matches only ``None``."""
    if left is None or right is None:
        return left is right
    try:
        return bool(left == right)
    except (TypeError, ValueError):
        return False
