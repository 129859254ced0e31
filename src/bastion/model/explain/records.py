"""Compact per-decision explanations that a gateway can store beside each logged decision.

A record keeps the ``top`` contributions by absolute size, each with the raw value the row had, and folds every
other feature into ``rest``, so ``base_value + sum(contributions) + rest == value`` still holds. Contributions,
``rest``, ``value`` and ``base_value`` keep full float precision (Python floats round-trip through JSON exactly);
only the raw feature values are shortened for display.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

    from bastion.model.explain.shapley import ShapValues

MAX_TEXT = 40
"""Characters kept of a text feature value in a record."""

SIGNIFICANT = 6
"""Significant digits kept of a numeric feature value in a record."""


@dataclass(frozen=True)
class Contribution:
    """One feature's share of a decision."""

    feature: str
    """The raw column."""
    value: str | int | float | bool | None
    """The row's value in that column, shortened for display (``None`` when missing)."""
    contribution: float
    """Its SHAP value: how far it moved the output from the base value."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"feature": self.feature, "value": self.value, "contribution": self.contribution}


@dataclass(frozen=True)
class LocalExplanation:
    """Why the model decided as it did on one row: the largest contributions, and the sum of the others."""

    row: int
    """Position (0-based) of the row in the data explained."""
    prediction: str | int | float | bool | None
    """The model's decision: its label (classifiers) or value (regressors)."""
    output: str
    """What was explained, e.g. ``P(>50K)`` or ``prediction``."""
    value: float
    """The explained output on this row, ``f(x)``."""
    base_value: float
    """The expected output over the background."""
    contributions: tuple[Contribution, ...]
    """At most ``top`` features, largest ``|contribution|`` first."""
    rest: float
    """Sum of the contributions of the features left out, so the record adds up."""
    method: str
    """``tree``, ``permutation`` or ``kernel``."""

    @property
    def residual(self) -> float:
        """``value - base_value - sum(contributions) - rest``: zero up to rounding when the SHAP values add up."""
        return self.value - self.base_value - math.fsum(c.contribution for c in self.contributions) - self.rest

    def to_dict(self) -> dict[str, Any]:
        """Small JSON-ready form (full-precision floats)."""
        return {"row": self.row, "prediction": self.prediction, "output": self.output, "value": self.value,
                "base_value": self.base_value, "contributions": [c.to_dict() for c in self.contributions],
                "rest": self.rest, "method": self.method}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LocalExplanation:
        """The record ``to_dict`` wrote; ``ValueError`` naming the field that is missing or malformed."""
        try:
            contributions = tuple(Contribution(str(c["feature"]), c.get("value"), float(c["contribution"]))
                                  for c in data["contributions"])
            return cls(row=int(data["row"]), prediction=data.get("prediction"), output=str(data["output"]),
                       value=float(data["value"]), base_value=float(data["base_value"]),
                       contributions=contributions, rest=float(data["rest"]), method=str(data["method"]))
        except KeyError as exc:
            raise ValueError(f"explanation record: field {exc.args[0]!r} is missing") from None
        except (TypeError, ValueError) as exc:
            raise ValueError(f"explanation record: malformed ({exc})") from None


def display_value(value: Any) -> str | int | float | bool | None:
    """A feature value as a short JSON-safe scalar: ints and bools kept, floats to 6 significant digits, text cut."""
    import pandas as pd

    try:
        if value is None or pd.isna(value):
            return None
    except (TypeError, ValueError):  # not a scalar pandas can judge
        pass
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        number = float(value)
        return float(f"{number:.{SIGNIFICANT}g}") if math.isfinite(number) else str(number)
    text = str(value)
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT - 1] + "\u2026"


def local_explanations(shap_values: ShapValues, frame: pd.DataFrame, *, top: int = 10,
                       predictions: Any = None) -> list[LocalExplanation]:
    """One record per explained row of ``shap_values`` (rows are positions in ``frame``), keeping ``top`` features.

    ``predictions``: the model's decision per explained row (labels or values); defaults to the explained output.
    """
    if not isinstance(top, int) or isinstance(top, bool) or top < 1:
        raise ValueError(f"top: must be a positive integer, got {top!r}")
    rows = shap_values.rows
    if predictions is not None and len(predictions) != len(rows):
        raise ValueError(f"predictions: {len(predictions)} values for {len(rows)} explained rows")
    columns = list(shap_values.features)
    raw = frame[columns].iloc[rows]
    records = []
    for i, row in enumerate(rows.tolist()):
        values = shap_values.values[i]
        keep = np.argsort(-np.abs(values), kind="stable")[:top]
        others = np.setdiff1d(np.arange(len(values)), keep)
        contributions = tuple(Contribution(columns[j], display_value(raw.iat[i, j]), float(values[j])) for j in keep)
        decision = shap_values.predictions[i] if predictions is None else predictions[i]
        records.append(LocalExplanation(
            row=int(row), prediction=display_value(decision),
            output=shap_values.outputs[i], value=float(shap_values.predictions[i]),
            base_value=float(shap_values.base_values[i]), contributions=contributions,
            rest=math.fsum(float(values[j]) for j in others), method=shap_values.method))
    return records
