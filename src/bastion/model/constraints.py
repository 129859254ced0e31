"""Feasibility rules for adversarial examples on tabular (and image) data, applied by every attack after each step.

A perturbed loan application that changes the applicant's age, or sets ``n_children`` to 2.37, is not an attack a
defender needs to fear. ``Constraints.project`` maps any candidate back into the feasible set around the original
sample; ``Constraints.gradient_mask`` zeroes the directions an attack may not move in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


class ConstraintError(ValueError):
    """Constraints that contradict themselves or the data; the message names the feature."""


@dataclass(frozen=True)
class Constraints:
    """What an attack may change, per feature of a flattened sample (index into ``x.reshape(n, -1)``)."""

    lower: np.ndarray | None = None
    """Smallest allowed value per feature (or one value for all), ``None`` for unbounded."""
    upper: np.ndarray | None = None
    """Largest allowed value per feature (or one value for all), ``None`` for unbounded."""
    immutable: tuple[int, ...] = ()
    """Features an attack must leave exactly as they are (age, a protected attribute, an ID)."""
    integer: tuple[int, ...] = ()
    """Features that take whole numbers only (counts, years)."""
    categorical: tuple[tuple[int, ...], ...] = ()
    """Groups of one-hot columns: exactly one of each group is 1 after projection."""
    allowed_values: tuple[tuple[int, tuple[float, ...]], ...] = ()
    """Label-encoded categorical features and the values they may take: ``(feature, (v1, v2, ...))``."""
    names: tuple[str, ...] = ()
    """Feature names, for messages (optional)."""

    def __post_init__(self) -> None:
        if self.lower is not None and self.upper is not None and np.any(np.asarray(self.lower) > self.upper):
            bad = int(np.argmax(np.atleast_1d(np.asarray(self.lower) > np.asarray(self.upper))))
            raise ConstraintError(f"feature {self._name(bad)}: lower bound is above the upper bound")
        for _, values in self.allowed_values:
            if not values:
                raise ConstraintError("a categorical feature needs at least one allowed value")

    @classmethod
    def box(cls, lower: float, upper: float) -> Constraints:
        """One range for every feature: pixels in ``[0, 1]``, say."""
        return cls(lower=np.asarray(lower, dtype=np.float32), upper=np.asarray(upper, dtype=np.float32))

    @classmethod
    def from_data(cls, x: np.ndarray, *, names: Sequence[str] = (), immutable: Sequence[int] = (),
                  integer: Sequence[int] | None = None, categorical: Sequence[Sequence[int]] = (),
                  allowed_values: Sequence[tuple[int, Sequence[float]]] = ()) -> Constraints:
        """Bounds from the data's per-feature min and max; integer features detected when ``integer`` is None."""
        if len(x) == 0:
            raise ConstraintError("constraints from data need at least one sample")
        flat = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
        finite = np.where(np.isfinite(flat), flat, np.nan)
        lower, upper = np.nanmin(finite, axis=0), np.nanmax(finite, axis=0)
        if integer is None:
            integer = tuple(int(i) for i in np.flatnonzero(np.all(np.nan_to_num(flat) == np.round(
                np.nan_to_num(flat)), axis=0) & (upper - lower > 1)))
        return cls(lower=lower.astype(np.float32), upper=upper.astype(np.float32), immutable=tuple(immutable),
                   integer=tuple(integer), categorical=tuple(tuple(g) for g in categorical),
                   allowed_values=tuple((f, tuple(float(v) for v in vals)) for f, vals in allowed_values),
                   names=tuple(names))

    def check(self, n_features: int) -> None:
        """Raise when an index or bound does not fit samples of ``n_features`` features."""
        for label, values in (("lower", self.lower), ("upper", self.upper)):
            if values is not None and np.ndim(values) and np.size(values) != n_features:
                raise ConstraintError(f"{label} bounds give {np.size(values)} values for {n_features} features")
        indices = [*self.immutable, *self.integer, *(i for g in self.categorical for i in g),
                   *(f for f, _ in self.allowed_values)]
        bad = [i for i in indices if not 0 <= i < n_features]
        if bad:
            raise ConstraintError(f"feature index {bad[0]} is outside the {n_features} features")

    def gradient_mask(self, n_features: int) -> np.ndarray:
        """1.0 where a continuous attack may move, 0.0 on immutable and categorical features."""
        mask = np.ones(n_features, dtype=np.float32)
        frozen = [*self.immutable, *(i for g in self.categorical for i in g), *(f for f, _ in self.allowed_values)]
        mask[list(frozen)] = 0.0
        return mask

    def project(self, candidate: np.ndarray, original: np.ndarray) -> np.ndarray:
        """The feasible point for each candidate row: bounds, immutables, integers and categories enforced."""
        shape = candidate.shape
        out = _rows(np.array(candidate, dtype=np.float32))
        base = _rows(np.asarray(original, dtype=np.float32))
        if self.lower is not None or self.upper is not None:
            np.clip(out, self.lower, self.upper, out=out)
        if self.integer:
            idx = list(self.integer)
            out[:, idx] = np.round(out[:, idx])
            if self.lower is not None or self.upper is not None:  # a fractional bound: the nearest whole number inside
                lo = None if self.lower is None else np.ceil(np.broadcast_to(self.lower, out.shape[1:])[idx])
                hi = None if self.upper is None else np.floor(np.broadcast_to(self.upper, out.shape[1:])[idx])
                out[:, idx] = np.clip(out[:, idx], lo, hi)
        for feature, values in self.allowed_values:
            choices = np.asarray(values, dtype=np.float32)
            out[:, feature] = choices[np.abs(out[:, feature, None] - choices[None, :]).argmin(axis=1)]
        for group in self.categorical:
            cols = list(group)
            winner = out[:, cols].argmax(axis=1)
            out[:, cols] = 0.0
            out[np.arange(len(out)), np.asarray(cols)[winner]] = 1.0
        if self.immutable:
            idx = list(self.immutable)
            out[:, idx] = base[:, idx]
        return out.reshape(shape)

    def satisfied(self, candidate: np.ndarray, original: np.ndarray, atol: float = 1e-5) -> np.ndarray:
        """Per row: whether the candidate already is feasible (projection moves it less than ``atol``)."""
        projected = self.project(candidate, original)
        diff = np.abs(_rows(projected) - _rows(np.asarray(candidate)))
        return np.asarray(diff.max(axis=1, initial=0.0) <= atol)

    def _name(self, index: int) -> str:
        return f"{self.names[index]!r}" if index < len(self.names) else f"#{index}"


def _rows(values: np.ndarray) -> np.ndarray:
    """``(n, features)`` view of a batch; unlike ``reshape(n, -1)`` it also works for an empty batch."""
    return values.reshape(len(values), int(np.prod(values.shape[1:])))
