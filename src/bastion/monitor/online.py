"""Online (streaming) drift detectors calibrated by the expected run time between false alarms (ERT).

Two detectors watch one column each, one observation at a time, and raise an alarm when the stream stops
looking like the reference:

- :class:`WindowedBinDetector` compares the bin counts of the last ``window`` observations with the reference bin
  probabilities through Pearson's chi-square statistic (numbers: the caller maps each value to a reference-quantile
  bin; categories: one bin per category plus an "unseen" bin).
- :class:`CusumDetector` runs Page's CUSUM on values standardised by the reference mean and standard deviation.

Both choose their alarm threshold by simulation under the null hypothesis (no drift), so that the mean number of
observations between false alarms is at least the requested ``ert``; both restart after an alarm. Thresholds are
compared on integers (the chi-square statistic with integer weights, CUSUM on fixed-point values), so ``update``
and ``update_many`` agree exactly and the simulation sees the very statistic the live detector computes.

Calibration: ``n_simulations`` no-drift streams (bins drawn from ``p``; CUSUM values bootstrapped from the
reference sample) of ``2 * ert`` observations each, capped at ``max_steps`` observations in all. For a candidate
threshold each stream's first crossing comes from its running maximum; the ERT estimate is the exponential MLE with
censoring (observed steps over all streams, crossing or not, divided by the number of crossings; the windowed
detector's ``window - 1`` warm-up steps are added outside the exponential part), and the threshold is the smallest
one whose estimate reaches ``ert``. When the budget cannot show 20 crossings at that level (``ert`` beyond about
``max_steps / 20``), log ERT is fitted linearly in the threshold and extrapolated (``Calibration.extrapolated``).

The module depends on NumPy only, so the gateway can use it without the batch drift machinery.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "Calibration",
    "CusumDetector",
    "OnlineDetectorError",
    "WindowedBinDetector",
    "calibrate_for_columns",
]

IntArray = NDArray[np.int64]
Side = Literal["both", "up", "down"]

_MIN_CROSSINGS = 20  # below this many simulated first crossings an ERT estimate is too noisy to trust directly
_HORIZON = 2.0  # simulated streams run to twice the requested ERT when the step budget allows
_MAX_WINDOW = 100_000  # keeps the integer chi-square weights precise (see _cell_weights)
_CHUNK_ELEMENTS = 1 << 20  # elements per simulation chunk: bounds memory whatever the stream length
_CUSUM_SCALE = 1 << 16  # CUSUM fixed point: 1/65536 of a reference standard deviation
_CUSUM_CLIP = 1e6  # standardised values are clipped here so fixed-point sums cannot overflow int64


class OnlineDetectorError(ValueError):
    """A parameter, a reference or an observation given to an online detector is invalid; the message names it."""


@dataclass(frozen=True)
class Calibration:
    """How an online detector's alarm threshold was chosen."""

    threshold: float
    """Alarm threshold in the statistic's units: an alarm is raised when the statistic exceeds it."""
    ert_target: float
    """Requested expected run time between false alarms, in observations."""
    ert_estimate: float
    """ERT of ``threshold`` estimated from the simulation (exponential MLE with censoring, or the fitted tail)."""
    n_simulations: int
    """Simulated no-drift streams."""
    stream_length: int
    """Observations per simulated stream."""
    n_crossings: int
    """Simulated streams that crossed ``threshold`` (a direct estimate rests on at least 20)."""
    extrapolated: bool
    """True when the ERT was beyond what the step budget can observe and the threshold comes from a log-linear fit
    of the ERT's tail (conservative: the ERT grows faster than exponentially in the threshold)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"threshold": self.threshold, "ert_target": self.ert_target, "ert_estimate": self.ert_estimate,
                "n_simulations": self.n_simulations, "stream_length": self.stream_length,
                "n_crossings": self.n_crossings, "extrapolated": self.extrapolated}


def calibrate_for_columns(ert: float, n_columns: int) -> float:
    """Per-column ERT that keeps the overall false-alarm rate of ``n_columns`` detectors at or below ``1 / ert``.

    Each detector's run length is close to geometric, so it alarms falsely at a rate of about ``1 / ert_column``
    per observation. The rate of "any column alarms" is at most the sum of the column rates (the union bound),
    whatever the dependence between columns, so ``ert_column = ert * n_columns`` gives an overall rate of at most
    ``n_columns / ert_column = 1 / ert``. The bound is tight for independent columns with rare alarms and
    conservative (fewer alarms than allowed) when columns move together.
    """
    _check_number("ert", ert, low=1.0)
    if not _is_int(n_columns) or n_columns < 1:
        raise OnlineDetectorError(f"calibrate_for_columns: n_columns must be an integer >= 1, got {n_columns!r}")
    return float(ert) * int(n_columns)


def _is_int(value: object) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)


def _check_int(name: str, value: object, low: int, high: int | None = None) -> int:
    number = int(value) if isinstance(value, int | np.integer) and not isinstance(value, bool) else None
    if number is None or number < low or (high is not None and number > high):
        bound = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise OnlineDetectorError(f"{name} must be an integer {bound}, got {value!r}")
    return number


def _check_number(name: str, value: object, low: float, strict: bool = False) -> float:
    number = _as_float(value)
    if not math.isfinite(number) or number < low or (strict and number == low):
        raise OnlineDetectorError(f"{name} must be a finite number {'>' if strict else '>='} {low}, got {value!r}")
    return number


def _as_float(value: object) -> float:
    """The value as a float, NaN when it is not a real number (bools are not numbers here)."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | float | np.integer | np.floating):
        return math.nan
    return float(value)


# ----------------------------------------------------------------------------------------------------------------
# Threshold choice shared by both detectors
# ----------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Records:
    """Record highs of the statistic's running maximum in each simulated stream (enough to find first crossings)."""

    values: IntArray
    """Record values, stream after stream, increasing within a stream."""
    steps: IntArray
    """Observation count (1-based, from the stream's start) at which each record was set."""
    starts: IntArray
    """Offset of each stream's first record in ``values``."""
    counts: IntArray
    """Records per stream."""
    stream_length: int
    """Observations per stream (streams that never cross are censored here)."""
    warmup: int
    """Observations before the statistic exists (window - 1 for the windowed detector, 0 for CUSUM)."""


def _records_of(stats: IntArray, warmup: int) -> tuple[IntArray, IntArray, IntArray]:
    """Record values, steps and per-row counts of a (streams, steps) block of statistics."""
    running = np.maximum.accumulate(stats, axis=1)
    new = np.ones(running.shape, dtype=bool)
    new[:, 1:] = running[:, 1:] > running[:, :-1]
    rows, cols = np.nonzero(new)
    counts = np.bincount(rows, minlength=stats.shape[0]).astype(np.int64)
    return running[rows, cols], (cols + warmup + 1).astype(np.int64), counts


def _merge_records(parts: Sequence[tuple[IntArray, IntArray, IntArray]], stream_length: int, warmup: int) -> _Records:
    counts = np.concatenate([p[2] for p in parts])
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    return _Records(np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]), starts, counts,
                    stream_length, warmup)


def _ert_at(rec: _Records, threshold: int) -> tuple[float, int]:
    """Estimated ERT and number of first crossings for ``statistic > threshold``.

    The run length is ``warmup`` plus a roughly exponential excess; the excess mean is the exponential MLE with
    censoring: observed excess steps over all streams (crossing or not) divided by the number of crossings.
    """
    below = np.add.reduceat((rec.values <= threshold).astype(np.int64), rec.starts)
    crossed = below < rec.counts
    n_crossed = int(crossed.sum())
    if n_crossed == 0:
        return math.inf, 0
    first = rec.steps[(rec.starts + below)[crossed]]
    excess = int(first.sum()) + (crossed.size - n_crossed) * rec.stream_length - crossed.size * rec.warmup
    return rec.warmup + excess / n_crossed, n_crossed


def _first_candidate(candidates: IntArray, test: Callable[[int], bool]) -> int:
    """Index of the first candidate passing ``test`` (monotone: fails, then passes); ``size`` when none does."""
    lo, hi = 0, candidates.size
    while lo < hi:
        mid = (lo + hi) // 2
        if test(int(candidates[mid])):
            hi = mid
        else:
            lo = mid + 1
    return lo


def _choose_threshold(rec: _Records, ert: float) -> tuple[int, float, int, bool]:
    """Smallest integer threshold whose estimated ERT reaches ``ert``: (threshold, ERT, crossings, extrapolated).

    The estimate never decreases with the threshold (first crossings come later and fewer), so a bisection over
    the record values finds it; the largest record is never crossed, so its ERT is infinite and a choice exists.
    """
    candidates = np.unique(rec.values)
    threshold = int(candidates[_first_candidate(candidates, lambda h: _ert_at(rec, h)[0] >= ert)])
    estimate, crossings = _ert_at(rec, threshold)
    if crossings >= _MIN_CROSSINGS:
        return threshold, estimate, crossings, False
    return _extrapolate(rec, candidates, ert)


def _extrapolate(rec: _Records, candidates: IntArray, ert: float) -> tuple[int, float, int, bool]:
    """Fit log ERT linearly in the threshold over the well-observed tail and solve for ``ert``.

    The tail is where between 20 and half of the streams cross. For the chi-square statistic and for CUSUM on
    light-tailed data log ERT is convex in the threshold, so the line underestimates the ERT of higher thresholds
    and the choice errs towards fewer false alarms; for CUSUM on heavy-tailed data (single huge values cause the
    alarms) it can err the other way, which ``Calibration.extrapolated`` flags.
    """
    half = rec.counts.size // 2
    first = _first_candidate(candidates, lambda h: _ert_at(rec, h)[1] <= half)
    stop = _first_candidate(candidates, lambda h: _ert_at(rec, h)[1] < _MIN_CROSSINGS)
    if stop - first < 3:
        raise OnlineDetectorError("calibration: too few simulated false alarms to fit the ERT tail; "
                                  "raise n_simulations or max_steps")
    picks = candidates[np.unique(np.linspace(first, stop - 1, 16).round().astype(np.int64))]
    ys = np.log([_ert_at(rec, int(h))[0] for h in picks])
    slope, intercept = np.polyfit(picks.astype(np.float64), ys, 1)
    if not slope > 0:
        raise OnlineDetectorError("calibration: the simulated ERT does not grow with the threshold; "
                                  "raise n_simulations or max_steps")
    threshold = max(math.ceil((math.log(ert) - intercept) / slope), int(candidates[stop - 1]))
    return threshold, float(math.exp(intercept + slope * threshold)), _ert_at(rec, threshold)[1], True


def _stream_length(ert: float, n_simulations: int, max_steps: int, minimum: int, where: str) -> int:
    length = min(math.ceil(_HORIZON * ert), max_steps // n_simulations)
    if length < minimum:
        raise OnlineDetectorError(f"{where}: max_steps // n_simulations = {max_steps // n_simulations} leaves "
                                  f"simulated streams shorter than {minimum} observations; raise max_steps")
    return length


def _first_alarms(exceed: IntArray, first_allowed: int, gap: int) -> list[int]:
    """Alarm positions among sorted exceedance positions when an alarm forbids the next ``gap - 1`` positions."""
    alarms: list[int] = []
    i = int(np.searchsorted(exceed, first_allowed))
    while i < exceed.size:
        alarms.append(int(exceed[i]))
        i = int(np.searchsorted(exceed, alarms[-1] + gap))
    return alarms


# ----------------------------------------------------------------------------------------------------------------
# Windowed chi-square on bins
# ----------------------------------------------------------------------------------------------------------------


def _merge_tiny_bins(p: NDArray[np.float64], window: int, min_expected: float) -> IntArray:
    """Cell index of each bin after pooling the bins whose expected window count is below ``min_expected``.

    Regular bins keep a cell each, in order. All tiny bins (rare categories, the unseen bin, empty quantile bins)
    share one pooled cell, last, which still reacts when rare values as a group become common. If the pooled cell
    is itself tiny, it joins the regular bin with the smallest probability (the first one on ties), so no cell
    dominates the statistic through a near-zero expected count.
    """
    tiny = window * p < min_expected
    regular = np.flatnonzero(~tiny)
    cells = np.empty(p.size, dtype=np.int64)
    cells[regular] = np.arange(regular.size)
    if tiny.any():
        pooled = regular.size
        if window * p[tiny].sum() < min_expected and regular.size:
            pooled = int(np.argmin(p[regular]))
        cells[tiny] = pooled
    if int(cells.max()) < 1:
        raise OnlineDetectorError(f"WindowedBinDetector.fit: fewer than two cells with an expected count >= "
                                  f"{min_expected} in a window of {window}; raise window or coarsen the bins")
    return cells


def _cell_weights(cell_p: NDArray[np.float64], window: int) -> tuple[IntArray, float]:
    """Integer weights ``round(scale / p_k)`` and ``scale`` such that sum_k c_k^2 w_k stays below 2**61.

    With these, chi-square = sum_k c_k^2 w_k / (window * scale) - window, computed exactly in integers.
    """
    scale = 2.0**61 * float(cell_p.min()) / window**2
    return np.rint(scale / cell_p).astype(np.int64), scale


def _window_q(cells: IntArray, window: int, weights: IntArray) -> IntArray:
    """Integer statistic sum_k c_k^2 w_k of every full window along the last axis of a (rows, steps) array.

    One cumulative count per cell makes each window's counts a difference of two cumulative sums: O(1) per step
    and cell, whatever the window.
    """
    rows, steps = cells.shape
    q = np.zeros((rows, steps - window + 1), dtype=np.int64)
    for k, weight in enumerate(weights.tolist()):
        cumulative = np.cumsum(cells == k, axis=1, dtype=np.int32)
        counts = cumulative[:, window - 1:].astype(np.int64)
        counts[:, 1:] -= cumulative[:, :-window]
        q += counts * counts * weight
    return q


class _Calibrated:
    """What both detectors share once fitted: the calibration and its read-outs."""

    _fitted: bool
    calibration_: Calibration
    _FIT_HINT = "fit"

    def _require_fitted(self, where: str) -> None:
        if not self._fitted:
            raise OnlineDetectorError(f"{type(self).__name__}.{where}: call {self._FIT_HINT} first")

    @property
    def threshold(self) -> float:
        """Statistic value above which the detector alarms (chi-square, or CUSUM in reference standard deviations)."""
        self._require_fitted("threshold")
        return self.calibration_.threshold

    @property
    def ert_estimate(self) -> float:
        """Estimated ERT (observations between false alarms) of :attr:`threshold`."""
        self._require_fitted("ert_estimate")
        return self.calibration_.ert_estimate


class WindowedBinDetector(_Calibrated):
    """Sliding-window Pearson chi-square between the last ``window`` bin indices and reference bin probabilities.

    Usage: ``WindowedBinDetector(window=200, ert=10_000).fit(p)``, then ``update(bin_index)`` per observation or
    ``update_many(bin_indices)`` per batch. The statistic exists once the window is full; an alarm empties the
    window, so the next alarm needs ``window`` fresh observations. Bins whose expected count ``window * p_k`` is
    below ``min_expected`` are pooled (see :attr:`cell_of_bin`).

    Parameters: ``window`` observations per window (10 to 100,000); ``ert`` requested observations between false
    alarms (more than ``window``); ``seed`` for the calibration simulation; ``n_simulations`` simulated streams
    (>= 50); ``min_expected`` smallest expected count a cell may have; ``max_steps`` simulated observations in all.
    """

    _FIT_HINT = "fit(p)"

    def __init__(self, window: int = 200, ert: float = 10_000, *, seed: int = 0, n_simulations: int = 200,
                 min_expected: float = 5.0, max_steps: int = 4_000_000) -> None:
        self.window = _check_int("WindowedBinDetector: window", window, 10, _MAX_WINDOW)
        self.ert = _check_number("WindowedBinDetector: ert", ert, float(self.window), strict=True)
        self.seed = _check_int("WindowedBinDetector: seed", seed, 0)
        self.n_simulations = _check_int("WindowedBinDetector: n_simulations", n_simulations, 50)
        self.min_expected = _check_number("WindowedBinDetector: min_expected", min_expected, 0.0, strict=True)
        self.max_steps = _check_int("WindowedBinDetector: max_steps", max_steps, 1)
        self._fitted = False

    # -- learning -------------------------------------------------------------------------------------------------

    def fit(self, p: NDArray[np.floating[Any]] | Sequence[float]) -> WindowedBinDetector:
        """Take the reference bin probabilities, pool tiny bins and calibrate the threshold by simulation."""
        self._fitted = False
        probs = self._check_p(p)
        length = _stream_length(self.ert, self.n_simulations, self.max_steps, 2 * self.window,
                                "WindowedBinDetector.fit")
        self._cells = _merge_tiny_bins(probs, self.window, self.min_expected)
        self._cell_p = np.bincount(self._cells, weights=probs).astype(np.float64)
        self._cell_p /= self._cell_p.sum()
        self._weights, self._scale = _cell_weights(self._cell_p, self.window)
        self._weights_list: list[int] = self._weights.tolist()
        self._n_bins = probs.size
        threshold, estimate, crossings, extrapolated = _choose_threshold(self._simulate(length), self.ert)
        self._q_threshold = threshold
        self.calibration_ = Calibration(self._to_statistic(threshold), self.ert, estimate, self.n_simulations,
                                        length, crossings, extrapolated)
        self._fitted = True
        self.reset()
        return self

    @staticmethod
    def _check_p(p: NDArray[np.floating[Any]] | Sequence[float]) -> NDArray[np.float64]:
        try:
            probs = np.asarray(p, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise OnlineDetectorError(f"WindowedBinDetector.fit: p must be numbers ({exc})") from exc
        if probs.ndim != 1 or probs.size < 2:
            raise OnlineDetectorError(f"WindowedBinDetector.fit: p must be 1-D with >= 2 bins, got shape {probs.shape}")
        if not np.isfinite(probs).all() or (probs < 0).any():
            raise OnlineDetectorError("WindowedBinDetector.fit: p must be finite and non-negative")
        if abs(float(probs.sum()) - 1.0) > 1e-6:
            raise OnlineDetectorError(f"WindowedBinDetector.fit: p must sum to 1 (within 1e-6), got {probs.sum()!r}")
        return probs

    def _simulate(self, length: int) -> _Records:
        rng = np.random.default_rng(self.seed)
        rows = max(1, _CHUNK_ELEMENTS // length)
        parts = []
        for start in range(0, self.n_simulations, rows):
            block = rng.choice(self._cell_p.size, size=(min(rows, self.n_simulations - start), length),
                               p=self._cell_p)
            parts.append(_records_of(_window_q(block, self.window, self._weights), self.window - 1))
        return _merge_records(parts, length, self.window - 1)

    # -- watching -------------------------------------------------------------------------------------------------

    def reset(self) -> None:
        """Empty the window (as after an alarm)."""
        self._require_fitted("reset")
        self._buffer = [0] * self.window
        self._pos = 0
        self._filled = 0
        self._counts = [0] * int(self._cell_p.size)
        self._q = 0

    def update(self, bin_index: int) -> bool:
        """Add one observation's bin index; True when it raises an alarm (the window then restarts)."""
        self._require_fitted("update")
        if not _is_int(bin_index) or not 0 <= int(bin_index) < self._n_bins:
            raise OnlineDetectorError(f"WindowedBinDetector.update: bin_index must be an integer in "
                                      f"[0, {self._n_bins}), got {bin_index!r}")
        cell = int(self._cells[int(bin_index)])
        weights, counts = self._weights_list, self._counts
        if self._filled == self.window:  # drop the oldest: c^2 - (c-1)^2 = 2c - 1
            old = self._buffer[self._pos]
            self._q -= weights[old] * (2 * counts[old] - 1)
            counts[old] -= 1
        self._q += weights[cell] * (2 * counts[cell] + 1)
        counts[cell] += 1
        self._buffer[self._pos] = cell
        self._pos = (self._pos + 1) % self.window
        self._filled = min(self._filled + 1, self.window)
        if self._filled == self.window and self._q > self._q_threshold:
            self.reset()
            return True
        return False

    def update_many(self, bin_indices: NDArray[np.integer[Any]] | Sequence[int]) -> IntArray:
        """Add a batch; returns the positions in the batch that raised alarms, exactly as repeated ``update`` would.

        A window's statistic depends on its own observations only, so all windows are computed at once and the
        restarts reduce to a rule on alarm positions: after an alarm, the next ``window - 1`` windows straddle it.
        """
        self._require_fitted("update_many")
        cells = self._cells[self._check_indices(bin_indices)]
        if cells.size == 0:
            return np.empty(0, dtype=np.int64)
        history = self._window_contents()[-(self.window - 1):]
        stream = np.concatenate([np.asarray(history, dtype=np.int64), cells])
        alarms = self._alarms_in(stream)
        since_restart = stream[alarms[-1] + 1:] if alarms else stream
        self._load_window(since_restart[-self.window:])
        return np.asarray(alarms, dtype=np.int64) - len(history)

    def _check_indices(self, bin_indices: NDArray[np.integer[Any]] | Sequence[int]) -> IntArray:
        values = np.asarray(bin_indices)
        if values.ndim != 1 or (values.size and values.dtype.kind not in "iu"):
            raise OnlineDetectorError("WindowedBinDetector.update_many: bin_indices must be a 1-D integer array")
        if values.size and (int(values.min()) < 0 or int(values.max()) >= self._n_bins):
            raise OnlineDetectorError(f"WindowedBinDetector.update_many: bin indices must be in [0, {self._n_bins})")
        return values.astype(np.int64)

    def _alarms_in(self, stream: IntArray) -> list[int]:
        """Alarm positions in ``stream`` (all of it since the last restart), processed in bounded chunks."""
        span = max(self.window, _CHUNK_ELEMENTS // max(1, int(self._cell_p.size)))
        alarms: list[int] = []
        allowed = self.window - 1
        for end in range(self.window - 1, stream.size, span):  # ``end``: first window end in this chunk
            piece = stream[end - self.window + 1:end + span]
            q = _window_q(piece[None, :], self.window, self._weights)[0]
            exceed = np.flatnonzero(q > self._q_threshold) + end
            found = _first_alarms(exceed, allowed, self.window)
            alarms += found
            if found:
                allowed = found[-1] + self.window
        return alarms

    def _window_contents(self) -> list[int]:
        if self._filled < self.window:
            return self._buffer[:self._filled]
        return self._buffer[self._pos:] + self._buffer[:self._pos]

    def _load_window(self, contents: IntArray) -> None:
        self.reset()
        self._filled = int(contents.size)
        self._buffer[:self._filled] = contents.tolist()
        self._pos = self._filled % self.window
        self._counts = np.bincount(contents, minlength=len(self._counts)).tolist()
        self._q = sum(c * c * w for c, w in zip(self._counts, self._weights_list, strict=True))

    # -- reading --------------------------------------------------------------------------------------------------

    def _to_statistic(self, q: int) -> float:
        return q / (self.window * self._scale) - self.window

    @property
    def statistic(self) -> float:
        """Pearson chi-square of the current window; NaN until the window is full."""
        self._require_fitted("statistic")
        return self._to_statistic(self._q) if self._filled == self.window else math.nan

    @property
    def cell_of_bin(self) -> IntArray:
        """Cell that each input bin counts in after pooling tiny bins (pooled bins share the last cell)."""
        self._require_fitted("cell_of_bin")
        return self._cells.copy()

    @property
    def cell_probabilities(self) -> NDArray[np.float64]:
        """Reference probability of each cell."""
        self._require_fitted("cell_probabilities")
        return self._cell_p.copy()


# ----------------------------------------------------------------------------------------------------------------
# CUSUM
# ----------------------------------------------------------------------------------------------------------------


def _cusum_paths(zq: IntArray, drift: int, start_up: int, start_down: int,
                 side: Side) -> tuple[IntArray, IntArray]:
    """Upper and lower CUSUM paths along the last axis, from the given starting values (fixed point).

    S_t = max(0, S_{t-1} + y_t) equals X_t - min(-S_0, X_1, ..., X_t) with X the cumulative sum of y,
    which vectorises the recursion exactly on integers.
    """
    zeros = np.zeros(zq.shape, dtype=np.int64)
    up = _cusum_path(zq - drift, start_up) if side != "down" else zeros
    down = _cusum_path(-zq - drift, start_down) if side != "up" else zeros
    return up, down


def _cusum_path(steps: IntArray, start: int) -> IntArray:
    total = np.cumsum(steps, axis=-1)
    low = np.minimum(np.minimum.accumulate(total, axis=-1), -start)
    return total - low


class CusumDetector(_Calibrated):
    """Page's CUSUM on ``z = (x - mean) / std`` of the reference, with drift allowance ``k`` (in reference stds).

    ``side`` is ``"both"`` (two-sided: alarm on a shift either way), ``"up"`` (increases only, e.g. latency) or
    ``"down"``. ``fit(reference)`` takes a sample of reference values (e.g. up to 100k); the mean and standard
    deviation standardise, and the threshold is calibrated on bootstrap streams drawn from the sample itself, so
    skewed data such as lognormal latencies get the ERT they ask for. An alarm resets both sums to zero.

    Parameters: ``ert`` requested observations between false alarms (>= 10); ``k`` drift allowance in reference
    standard deviations (the CUSUM is tuned to shifts of about ``2 k``); ``side``; ``seed`` for the bootstrap;
    ``n_simulations`` simulated streams (>= 50); ``max_steps`` simulated observations in all.
    """

    _FIT_HINT = "fit(reference)"

    def __init__(self, ert: float = 10_000, *, k: float = 0.5, side: Side = "both", seed: int = 0,
                 n_simulations: int = 200, max_steps: int = 4_000_000) -> None:
        self.ert = _check_number("CusumDetector: ert", ert, 10.0)
        self.k = _check_number("CusumDetector: k", k, 0.0)
        if side not in ("both", "up", "down"):
            raise OnlineDetectorError(f"CusumDetector: side must be 'both', 'up' or 'down', got {side!r}")
        self.side: Side = side
        self.seed = _check_int("CusumDetector: seed", seed, 0)
        self.n_simulations = _check_int("CusumDetector: n_simulations", n_simulations, 50)
        self.max_steps = _check_int("CusumDetector: max_steps", max_steps, 1)
        self._drift = round(self.k * _CUSUM_SCALE)
        self._fitted = False

    def fit(self, reference: NDArray[np.floating[Any]] | Sequence[float]) -> CusumDetector:
        """Learn the reference mean and standard deviation and calibrate the threshold on bootstrap streams."""
        self._fitted = False
        values = self._check_values(reference, "fit", "reference")
        if values.size < 30:
            raise OnlineDetectorError(f"CusumDetector.fit: reference needs >= 30 values, got {values.size}")
        self.mean_ = float(values.mean())
        self.std_ = float(values.std(ddof=1))
        if not self.std_ > 0 or not math.isfinite(self.std_):
            raise OnlineDetectorError("CusumDetector.fit: reference has no spread (standard deviation 0)")
        length = _stream_length(self.ert, self.n_simulations, self.max_steps, 10, "CusumDetector.fit")
        pool = self._quantise(values)
        threshold, estimate, crossings, extrapolated = _choose_threshold(self._simulate(pool, length), self.ert)
        self._q_threshold = threshold
        self.calibration_ = Calibration(threshold / _CUSUM_SCALE, self.ert, estimate, self.n_simulations, length,
                                        crossings, extrapolated)
        self._fitted = True
        self.reset()
        return self

    def _simulate(self, pool: IntArray, length: int) -> _Records:
        rng = np.random.default_rng(self.seed)
        rows = max(1, _CHUNK_ELEMENTS // length)
        parts = []
        for start in range(0, self.n_simulations, rows):
            block = pool[rng.integers(0, pool.size, size=(min(rows, self.n_simulations - start), length))]
            up, down = _cusum_paths(block, self._drift, 0, 0, self.side)
            parts.append(_records_of(np.maximum(up, down), 0))
        return _merge_records(parts, length, 0)

    @staticmethod
    def _check_values(values: NDArray[np.floating[Any]] | Sequence[float], where: str, name: str
                      ) -> NDArray[np.float64]:
        try:
            array = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise OnlineDetectorError(f"CusumDetector.{where}: {name} must be numbers ({exc})") from exc
        if array.ndim != 1:
            raise OnlineDetectorError(f"CusumDetector.{where}: {name} must be 1-D, got shape {array.shape}")
        if not np.isfinite(array).all():
            raise OnlineDetectorError(f"CusumDetector.{where}: {name} must be finite (no NaN or infinity)")
        return array

    def _quantise(self, values: NDArray[np.float64]) -> IntArray:
        """Fixed-point standardised values; ``update`` repeats these IEEE operations on Python floats."""
        z = np.clip((values - self.mean_) / self.std_, -_CUSUM_CLIP, _CUSUM_CLIP)
        return np.rint(z * _CUSUM_SCALE).astype(np.int64)

    def reset(self) -> None:
        """Set both sums to zero (as after an alarm)."""
        self._up = 0
        self._down = 0

    def update(self, value: float) -> bool:
        """Add one observation; True when it raises an alarm (the sums then restart from zero)."""
        self._require_fitted("update")
        x = _as_float(value)
        if not math.isfinite(x):
            raise OnlineDetectorError(f"CusumDetector.update: value must be a finite number, got {value!r}")
        zq = round(min(max((x - self.mean_) / self.std_, -_CUSUM_CLIP), _CUSUM_CLIP) * _CUSUM_SCALE)
        if self.side != "down":
            self._up = max(0, self._up + zq - self._drift)
        if self.side != "up":
            self._down = max(0, self._down - zq - self._drift)
        if max(self._up, self._down) > self._q_threshold:
            self.reset()
            return True
        return False

    def update_many(self, values: NDArray[np.floating[Any]] | Sequence[float]) -> IntArray:
        """Add a batch; returns the positions in the batch that raised alarms, exactly as repeated ``update`` would.

        The recursion is vectorised per chunk; an alarm restarts the next chunk at the following observation.
        Chunks grow while no alarm comes and shrink to about twice the last gap after one, so the work stays close
        to linear whether alarms are rare or frequent.
        """
        self._require_fitted("update_many")
        zq = self._quantise(self._check_values(values, "update_many", "values"))
        alarms: list[int] = []
        pos, chunk = 0, 64
        while pos < zq.size:
            up, down = _cusum_paths(zq[pos:pos + chunk], self._drift, self._up, self._down, self.side)
            hits = np.flatnonzero((up > self._q_threshold) | (down > self._q_threshold))
            if hits.size:
                gap = int(hits[0]) + 1
                alarms.append(pos + gap - 1)
                self.reset()
                pos, chunk = pos + gap, min(max(2 * gap, 64), 1 << 16)
            else:
                self._up, self._down = int(up[-1]), int(down[-1])
                pos, chunk = pos + up.size, min(2 * chunk, 1 << 16)
        return np.asarray(alarms, dtype=np.int64)

    @property
    def statistic(self) -> float:
        """Current CUSUM (the larger of the watched sides), in reference standard deviations."""
        self._require_fitted("statistic")
        return max(self._up, self._down) / _CUSUM_SCALE
