"""Values as the fairness reports handle them (plain Python scalars, matched across spellings, JSON-safe), and the
checks of a table's target and sensitive columns that every fairness entry point makes."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from bastion.model.tabular import require_columns


def plain(value: object) -> object:
    """A NumPy scalar as the Python scalar it holds; anything else unchanged."""
    return value.item() if isinstance(value, np.generic) else value


def value_key(value: object) -> str:
    """Text that matches a value across spellings: ``"1"``, ``1`` and ``1.0`` agree, as do ``True`` and ``"True"``."""
    value = plain(value)
    if isinstance(value, float) and not isinstance(value, bool) and value.is_integer():
        value = int(value)
    return str(value)


def json_value(value: object) -> object:
    """A value as JSON can hold it: plain scalars kept, NaN and infinities as ``None``, anything else as text."""
    value = plain(value)
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return str(value)


def finite(value: float | None) -> float | None:
    """``value`` as a float, or ``None`` when it is missing, NaN or infinite (JSON has no NaN)."""
    return None if value is None or not math.isfinite(value) else float(value)


def sorted_values(values: Any) -> list[object]:
    """The distinct values as plain scalars, sorted (by type name, then text, when they do not compare)."""
    import pandas as pd

    distinct = list(dict.fromkeys(plain(v) for v in pd.unique(np.asarray(values, dtype=object))))
    try:
        return sorted(distinct)  # type: ignore[type-var]
    except TypeError:
        return sorted(distinct, key=lambda v: (type(v).__name__, str(v)))


def check_roles(frame: Any, target: str, sensitive: Sequence[str]) -> None:
    """``frame`` has the target and at least one sensitive column, and the target is not also sensitive."""
    if not sensitive:
        raise ValueError("name at least one sensitive column")
    require_columns(frame, [target], "target column")
    require_columns(frame, sensitive, "sensitive column")
    if target in sensitive:
        raise ValueError(f"the target column {target!r} cannot also be sensitive")
