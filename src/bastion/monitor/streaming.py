"""Watching a stream against a reference profile: one online detector per column, calibrated together.

``StreamMonitor`` turns a ``DatasetProfile`` into online detectors (``online.py``). Each numeric column's values map
to reference-quantile bins (20 for a window of 200, fewer for shorter windows: about 10 values each), each
categorical column's to its categories plus an "unseen" bin, and a windowed chi-square detector watches the bin
counts. A latency column gets a one-sided CUSUM (slowdowns only), calibrated on values drawn from the profile. Each
column's detector gets ``ert * columns`` observations between false alarms, so by the union bound the whole monitor
raises a false alarm at most once per ``ert`` rows on average.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from bastion.monitor.column_tests import PLOT_BINS
from bastion.monitor.columns import numeric_values
from bastion.monitor.dataset import DatasetProfile
from bastion.monitor.online import CusumDetector, WindowedBinDetector, calibrate_for_columns
from bastion.monitor.profile import CategoricalProfile, NumericProfile

CUSUM_REFERENCE = 50_000
"""Values drawn from a latency profile to calibrate its CUSUM."""


@dataclass(frozen=True)
class Alarm:
    """One online alarm."""

    row: int
    """Position of the observation that raised it, counted from the first row the monitor saw."""
    column: str
    """The column whose detector alarmed."""
    detector: str
    """``windowed_chi2`` or ``cusum``."""


class NumericBinner:
    """Maps values to about ``groups`` reference-quantile bins (missing and infinite values: a bin of their own)."""

    def __init__(self, profile: NumericProfile, groups: int = PLOT_BINS) -> None:
        chosen = profile.group_edges(groups)
        self.edges = profile.edges[chosen]
        counts = np.diff(np.concatenate([[0], profile.counts_le[chosen], [profile.count]]))
        invalid = profile.missing + profile.posinf + profile.neginf
        self.probabilities = _floored(np.append(counts, invalid).astype(np.float64))

    def bins(self, array: Any) -> NDArray[np.int64]:
        """Bin index per value of an arrow array; the last bin holds missing and infinite values."""
        values = numeric_values(array)
        index = np.searchsorted(self.edges, values, side="left").astype(np.int64)
        index[~np.isfinite(values)] = len(self.edges) + 1
        return index


class CategoryBinner:
    """Maps categories to bins: the reference's categories, then one bin for unseen and missing values (its
    probability under no drift: the missing share plus the Good-Turing estimate of unseen values)."""

    def __init__(self, profile: CategoricalProfile) -> None:
        self.labels = {label: index for index, label in enumerate(profile.counts)}
        seen = np.array(list(profile.counts.values()), dtype=np.float64)
        # Good-Turing: a new value is unseen about as often as the reference saw a category exactly once.
        unseen = float(np.sum(seen == 1))
        self.probabilities = _floored(np.append(seen, profile.missing + unseen))

    def bins(self, array: Any) -> NDArray[np.int64]:
        """Bin index per value of an arrow array, looked up in Arrow (values spelled as the profile spelled them)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        if pa.types.is_dictionary(array.type):
            array = array.dictionary_decode()
        if not pa.types.is_string(array.type):
            array = pc.cast(array, pa.string())
        codes = pc.index_in(array, value_set=pa.array(list(self.labels), pa.string()))
        return np.asarray(codes.fill_null(len(self.labels)).to_numpy(zero_copy_only=False), dtype=np.int64)


def draw_from_profile(profile: NumericProfile, size: int, seed: int) -> NDArray[np.float64]:
    """Values drawn from a numeric profile: its own values in exact mode, else uniform within quantile bins."""
    rng = np.random.default_rng(seed)
    if profile.values is not None:
        return rng.choice(profile.values, size=size, replace=True)
    low = np.concatenate([[profile.minimum], profile.edges])
    high = np.concatenate([profile.edges, [profile.maximum]])
    counts = np.diff(np.concatenate([[0], profile.counts_le, [profile.count]]))
    chosen = rng.choice(len(counts), size=size, p=counts / counts.sum())
    return np.asarray(low[chosen] + rng.random(size) * (high[chosen] - low[chosen]), dtype=np.float64)


class StreamMonitor:
    """Online drift detection for rows arriving one batch at a time; ``update(batch)`` returns the alarms."""

    def __init__(self, profile: DatasetProfile, columns: Sequence[str] | None = None, window: int = 200,
                 ert: float = 10_000, seed: int = 0) -> None:
        names = [name for name in (columns or profile.columns) if isinstance(
            profile.columns.get(name), NumericProfile | CategoricalProfile)]
        if not names:
            raise ValueError("no numeric or categorical column of the profile to watch")
        per_column = calibrate_for_columns(ert, len(names))
        self.window = window
        self.ert = ert
        self.rows_seen = 0
        self.binners: dict[str, NumericBinner | CategoryBinner] = {}
        self.detectors: dict[str, WindowedBinDetector | CusumDetector] = {}
        for index, name in enumerate(names):
            column = profile.columns[name]
            if profile.roles.get(name) == "latency" and isinstance(column, NumericProfile):
                reference = draw_from_profile(column, CUSUM_REFERENCE, seed + index)
                self.detectors[name] = CusumDetector(per_column, side="up", seed=seed + index).fit(reference)
                continue
            binner: NumericBinner | CategoryBinner
            if isinstance(column, NumericProfile):
                binner = NumericBinner(column, _groups_for(window))
            elif isinstance(column, CategoricalProfile):
                binner = CategoryBinner(column)
            else:  # names holds only these two kinds
                continue
            self.binners[name] = binner
            self.detectors[name] = WindowedBinDetector(window, per_column, seed=seed + index).fit(
                binner.probabilities)

    def update(self, batch: Any) -> list[Alarm]:
        """Feed a batch of rows (a DataFrame, pyarrow Table or RecordBatch) in arrival order."""
        from bastion.monitor.columns import partitions

        table = partitions(batch, "stream")[0].table
        alarms: list[Alarm] = []
        for name, detector in self.detectors.items():
            if name not in table.column_names:
                raise ValueError(f"stream: the batch has no column {name!r}")
            array = table.column(name).combine_chunks()
            if isinstance(detector, CusumDetector):
                values = numeric_values(array)
                values = np.where(np.isfinite(values), values, np.nan)
                positions = np.flatnonzero(np.isfinite(values))
                hits = positions[detector.update_many(values[positions])] if positions.size else positions
                alarms += [Alarm(self.rows_seen + int(row), name, "cusum") for row in hits]
                continue
            hits = detector.update_many(self.binners[name].bins(array))
            alarms += [Alarm(self.rows_seen + int(row), name, "windowed_chi2") for row in hits]
        self.rows_seen += table.num_rows
        alarms.sort(key=lambda alarm: (alarm.row, alarm.column))
        return alarms


def _groups_for(window: int) -> int:
    """Reference-quantile bins for a window: about 10 expected values each (the chi-square needs 5), at most 20."""
    return max(2, min(PLOT_BINS, window // 10))


def _floored(counts: NDArray[np.float64]) -> NDArray[np.float64]:
    """Shares with half a count in every empty bin: a value the reference never had (an unseen category, a
    missing value in a complete column) must stay possible under the null, where it weighs almost nothing, so a
    burst of them shows in the detector's pooled rare cell."""
    counts = np.where(counts > 0, counts, 0.5)
    return np.asarray(counts / counts.sum(), dtype=np.float64)


__all__ = ["Alarm", "StreamMonitor", "draw_from_profile"]
