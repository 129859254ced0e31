"""Response-time monitoring: a mergeable log-spaced histogram of reference latencies, a tail test, anomalies.

``LatencyProfile`` counts reference latencies (seconds) over a fixed grid of ``bins`` log-spaced bins from ``low``
to ``high`` plus an underflow and an overflow bin, with the exact minimum, maximum and sum. No latency is kept, so
profiles of partitions merge by adding counts. With the defaults (1 microsecond to 1 hour, 4000 bins) neighbouring
bin edges differ by a factor of ``(high / low) ** (1 / bins)``, about 1.0055: quantiles read from the grid are
within 0.55% of the exact ones.

Latencies must be finite and non-negative; others (NaN, infinities, negative values from clock skew) are invalid
measurements: a profile counts and skips them, ``test_latency`` reports them in its message and tests the rest.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Self

import numpy as np
from numpy.typing import ArrayLike, NDArray

from bastion.monitor.report import DatasetTest, check_header

FORMAT = "bastion.latency-profile"
"""The ``format`` key of a serialised profile."""
VERSION = 1
"""The ``version`` key of a serialised profile."""


class LatencyProfile:
    """Counts of reference latencies (seconds) over a fixed log-spaced grid; mergeable, serialisable, no rows kept."""

    def __init__(self, *, low: float = 1e-6, high: float = 3600.0, bins: int = 4000) -> None:
        if not (math.isfinite(low) and math.isfinite(high) and 0 < low < high):
            raise ValueError(f"LatencyProfile: need 0 < low < high, both finite, got low={low!r} high={high!r}")
        if isinstance(bins, bool) or not isinstance(bins, int) or not 1 <= bins <= 1_000_000:
            raise ValueError(f"LatencyProfile: bins must be an integer in [1, 1000000], got {bins!r}")
        self.low = float(low)
        self.high = float(high)
        self.bins = bins
        self._log_low = math.log(self.low)
        self._step = (math.log(self.high) - self._log_low) / bins
        self._counts = np.zeros(bins + 2, dtype=np.int64)  # [underflow, grid..., overflow]
        self._sum = 0.0
        self._min = math.inf
        self._max = -math.inf
        self._invalid = 0

    # ----------------------------------------------------------------- reading

    @property
    def n(self) -> int:
        """Valid latencies counted."""
        return int(self._counts.sum())

    @property
    def invalid(self) -> int:
        """Latencies skipped as NaN, infinite or negative."""
        return self._invalid

    @property
    def counts(self) -> NDArray[np.int64]:
        """Counts per bin: underflow (below ``low``), the ``bins`` grid bins, overflow (``high`` and above); a copy."""
        return self._counts.copy()

    @property
    def edges(self) -> NDArray[np.float64]:
        """The ``bins + 1`` grid edges, ``low`` to ``high``."""
        edges: NDArray[np.float64] = np.exp(self._log_low + self._step * np.arange(self.bins + 1))
        return edges

    @property
    def resolution(self) -> float:
        """Ratio of neighbouring grid edges: the relative precision of quantiles inside the grid."""
        return math.exp(self._step)

    @property
    def mean(self) -> float:
        """Mean latency (NaN when empty)."""
        return self._sum / self.n if self.n else math.nan

    @property
    def minimum(self) -> float:
        """Smallest latency (inf when empty)."""
        return self._min

    @property
    def maximum(self) -> float:
        """Largest latency (-inf when empty)."""
        return self._max

    def quantile(self, q: float) -> float:
        """The ``q`` quantile, as ``numpy.quantile``'s default (linear) method would give within ``resolution``."""
        return float(self.quantiles([q])[0])

    def quantiles(self, qs: ArrayLike) -> NDArray[np.float64]:
        """Several quantiles at once.

        Position ``h = (n - 1) q`` is read as numpy does, interpolating between the order statistics ``floor(h)``
        and ``ceil(h)``; an order statistic is placed inside its bin at its rank share, geometrically (the grid
        is logarithmic) and clamped to the exact minimum and maximum; the first and last are those, so q = 0 and q = 1
        are exact.
        """
        levels = np.asarray(qs, dtype=np.float64)
        if levels.ndim != 1 or not np.all((levels >= 0) & (levels <= 1)):
            raise ValueError(f"LatencyProfile.quantiles: quantile levels must be a 1-D sequence in [0, 1], got {qs!r}")
        if self.n == 0:
            raise ValueError("LatencyProfile.quantiles: the profile is empty")
        position = (self.n - 1) * levels
        below = np.floor(position)
        lower, upper = self._order_statistics(below), self._order_statistics(np.ceil(position))
        values: NDArray[np.float64] = lower + (position - below) * (upper - lower)
        return values

    def _order_statistics(self, ranks: NDArray[np.float64]) -> NDArray[np.float64]:
        """Approximate value of the 0-based ``ranks``-th smallest latency."""
        cumulative = np.cumsum(self._counts)
        slot = np.searchsorted(cumulative, ranks, side="right")
        before = np.where(slot > 0, cumulative[np.maximum(slot - 1, 0)], 0)
        share = (ranks - before + 0.5) / self._counts[slot]
        left = np.exp(self._log_low + self._step * (slot - 1.0))
        right = left * math.exp(self._step)
        # Outer slots span from the grid edge to the exact extreme, linearly.
        left = np.where(slot == 0, self._min, left)
        right = np.where(slot == 0, self.low, np.where(slot == self.bins + 1, self._max, right))
        left = np.where(slot == self.bins + 1, self.high, left)
        inner = (slot > 0) & (slot <= self.bins)
        with np.errstate(divide="ignore", invalid="ignore"):
            geometric = left * (right / left) ** share
        values = np.where(inner, geometric, left + share * (right - left))
        values = np.where(ranks <= 0, self._min, np.where(ranks >= self.n - 1, self._max, values))
        return np.clip(values, self._min, self._max)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LatencyProfile) and self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"LatencyProfile(n={self.n}, low={self.low:g}, high={self.high:g}, bins={self.bins})"

    # ---------------------------------------------------------------- building

    def update(self, latencies: ArrayLike) -> Self:
        """Count a batch of latencies in seconds in place and return the profile; invalid ones are counted apart."""
        values, invalid = _valid_latencies(latencies, "latencies")
        self._invalid += invalid
        if values.size == 0:
            return self
        self._counts += np.bincount(self._slots(values), minlength=self.bins + 2)
        self._sum += float(values.sum())
        self._min = min(self._min, float(values.min()))
        self._max = max(self._max, float(values.max()))
        return self

    def merge(self, other: LatencyProfile) -> LatencyProfile:
        """A new profile holding both (neither input changes); the grids must be the same."""
        if not isinstance(other, LatencyProfile):
            raise TypeError(f"LatencyProfile.merge: expected a LatencyProfile, got {type(other).__name__}")
        if (self.low, self.high, self.bins) != (other.low, other.high, other.bins):
            raise ValueError(f"LatencyProfile.merge: grids differ (low, high, bins): "
                             f"{(self.low, self.high, self.bins)} vs {(other.low, other.high, other.bins)}")
        merged = LatencyProfile(low=self.low, high=self.high, bins=self.bins)
        merged._counts = self._counts + other._counts
        merged._sum = self._sum + other._sum
        merged._min = min(self._min, other._min)
        merged._max = max(self._max, other._max)
        merged._invalid = self._invalid + other._invalid
        return merged

    def _slots(self, values: NDArray[np.float64]) -> NDArray[np.intp]:
        """Slot of each valid latency: 0 underflow, 1..bins the grid, bins + 1 overflow."""
        with np.errstate(divide="ignore"):  # log(0) is -inf: underflow
            position = (np.log(values) - self._log_low) / self._step
        np.floor(position, out=position)
        np.clip(position, -1, self.bins, out=position)
        slots = position.astype(np.intp)
        slots += 1
        return slots

    # ------------------------------------------------------------ serialising

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types only; ``from_dict`` reads it back. Empty profiles store min and max as None."""
        return {"format": FORMAT, "version": VERSION, "low": self.low, "high": self.high, "bins": self.bins,
                "counts": self._counts.tolist(), "sum": self._sum, "invalid": self._invalid,
                "min": self._min if self.n else None, "max": self._max if self.n else None}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LatencyProfile:
        """Read ``to_dict`` output; a missing or malformed key raises ValueError naming it."""
        check_header(data, "latency profile", FORMAT, VERSION)
        bins = _integer(data, "bins")
        try:
            profile = cls(low=_number(data, "low"), high=_number(data, "high"), bins=bins)
        except ValueError as exc:
            raise ValueError(f"latency profile: 'low', 'high' or 'bins': {exc}") from exc
        counts = data.get("counts")
        if not isinstance(counts, list) or len(counts) != bins + 2 or any(
                isinstance(item, bool) or not isinstance(item, int) or item < 0 for item in counts):
            raise ValueError(f"latency profile: 'counts' must be {bins + 2} non-negative integers")
        profile._counts = np.array(counts, dtype=np.int64)
        profile._invalid = _integer(data, "invalid")
        profile._sum = _number(data, "sum")
        if profile.n:
            profile._min, profile._max = _number(data, "min"), _number(data, "max")
            if not 0 <= profile._min <= profile._max or profile._sum < 0:
                raise ValueError("latency profile: 'min', 'max' and 'sum' must satisfy 0 <= min <= max, sum >= 0")
        elif data.get("min") is not None or data.get("max") is not None:
            raise ValueError("latency profile: 'min' and 'max' must be null when 'counts' are all zero")
        return profile


# --------------------------------------------------------------------------- tests


def test_latency(profile: LatencyProfile, latencies: ArrayLike, alpha: float = 0.05, *, quantile: float = 0.99,
                 account_for_reference: bool = True) -> DatasetTest:
    """Did responses get slower? (``name="latency"``)

    Counts current latencies above the reference ``quantile`` (p99) and tests, one-sided, whether that share
    exceeds ``1 - quantile`` (1%). With ``account_for_reference`` (default) the count is compared with its exact
    distribution when the threshold is itself the p99 of a finite reference, beta-binomial with parameters
    ``(n, n_ref (1 - q) + 1, n_ref q)``; this keeps the false-alarm rate at alpha when the reference is not much
    larger than the current sample, and tends to the exact binomial against 1% (``account_for_reference=False``)
    as the reference grows. ``statistic`` is the share above the reference p99, ``effect_size`` current p99 over
    reference p99. ``details`` holds p50, p95, p99 and the mean, reference (from the grid) and current (exact).
    """
    from scipy import stats  # type: ignore[import-untyped, unused-ignore]

    if not 0 < alpha < 1:
        raise ValueError(f"test_latency: alpha must lie in (0, 1), got {alpha!r}")
    if not 0.5 <= quantile < 1:
        raise ValueError(f"test_latency: quantile must lie in [0.5, 1), got {quantile!r}")
    if profile.n == 0:
        raise ValueError("test_latency: the reference profile is empty")
    values, invalid = _valid_latencies(latencies, "latencies")
    message = (f"{invalid} of {values.size + invalid} latencies were NaN, infinite or negative and were left out"
               if invalid else None)
    if values.size == 0:
        return DatasetTest("latency", None, None, None, None, False, {"rejected": invalid},
                           message or "no current latencies to test")
    levels = [0.5, 0.95, 0.99, quantile]
    reference_levels = profile.quantiles(levels)
    current_levels = np.quantile(values, levels)
    threshold = float(reference_levels[3])
    above = int(np.count_nonzero(values > threshold))
    n, expected = int(values.size), 1.0 - quantile
    if account_for_reference:
        p_value = _beta_binomial_tail(above, n, profile.n * expected + 1.0, profile.n * quantile)
    else:
        p_value = float(np.clip(stats.binom.sf(above - 1, n, expected), 0.0, 1.0))
    effect = float(current_levels[2] / reference_levels[2]) if reference_levels[2] > 0 else math.nan
    details = {"reference": _summary(reference_levels, profile.mean, profile.n),
               "current": _summary(current_levels, float(values.mean()), n),
               "quantile": quantile, "threshold": threshold, "above_threshold": above,
               "share_above_threshold": above / n, "expected_share": expected,
               "test": "beta-binomial" if account_for_reference else "binomial", "rejected": invalid}
    return DatasetTest("latency", above / n, p_value, None, effect, p_value < alpha, details, message)


test_latency.__test__ = False  # type: ignore[attr-defined]  # a library function, not a pytest test


def latency_anomalies(profile: LatencyProfile, latencies: ArrayLike, *, quantile: float = 0.999,
                      margin: float = 1.5) -> NDArray[np.intp]:
    """Indices of requests slower than ``margin`` times the reference ``quantile`` (p99.9), in input order.

    The margin keeps ordinary tail requests out: for lognormal latencies with a log-spread of 0.5, 1.5 x p99.9 is
    reached by about 5 requests in 100,000. +inf (a request that never finished) is anomalous; NaN and negative
    values are invalid measurements, not anomalies (``test_latency`` reports them).
    """
    if not 0 < quantile <= 1 or not margin >= 1:
        raise ValueError(f"latency_anomalies: need 0 < quantile <= 1 and margin >= 1, got {quantile!r}, {margin!r}")
    if profile.n == 0:
        raise ValueError("latency_anomalies: the reference profile is empty")
    values = _latency_array(latencies, "latencies")
    limit = margin * profile.quantile(quantile)
    with np.errstate(invalid="ignore"):
        return np.flatnonzero(values > limit)


def _beta_binomial_tail(k: int, n: int, a: float, b: float) -> float:
    """P(K >= k) for K ~ BetaBinomial(n, a, b).

    scipy's ``sf`` is ``1 - cdf`` and bottoms out near 1e-9; above the mean the tail is summed from the log
    probabilities instead, over 40 standard deviations past ``k`` (beyond, the terms are far below a double's
    precision relative to the first).
    """
    from scipy import stats  # type: ignore[import-untyped, unused-ignore]
    from scipy.special import logsumexp  # type: ignore[import-untyped, unused-ignore]

    distribution = stats.betabinom(n, a, b)
    if k <= distribution.mean():
        return float(np.clip(distribution.sf(k - 1), 0.0, 1.0))
    last = int(min(n, k + 40 * math.sqrt(distribution.var()) + 1000))
    log_tail = float(logsumexp(distribution.logpmf(np.arange(k, last + 1))))
    return min(math.exp(log_tail), 1.0)


def _summary(levels: NDArray[np.float64], mean: float, n: int) -> dict[str, float]:
    return {"p50": float(levels[0]), "p95": float(levels[1]), "p99": float(levels[2]), "mean": mean, "n": n}


def _latency_array(latencies: ArrayLike, name: str) -> NDArray[np.float64]:
    try:
        values = np.asarray(latencies, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numbers of seconds: {exc}") from exc
    if values.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {values.shape}")
    return values


def _valid_latencies(latencies: ArrayLike, name: str) -> tuple[NDArray[np.float64], int]:
    """The finite, non-negative latencies and how many others there were."""
    values = _latency_array(latencies, name)
    if values.size and math.isfinite(values.sum()) and values.min() >= 0:  # common case: one pass, no copy
        return values, 0
    valid = np.isfinite(values) & (values >= 0)
    kept = values[valid]
    return kept, int(values.size - kept.size)


def _number(data: Mapping[str, Any], key: str) -> float:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"latency profile: {key!r} must be a finite number, got {value!r}")
    return float(value)


def _integer(data: Mapping[str, Any], key: str) -> int:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"latency profile: {key!r} must be a non-negative integer, got {value!r}")
    return value
