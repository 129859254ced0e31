"""Summarising the current data against a reference profile: one map + merge pass, like fitting's second pass.

Per numeric column the pass counts current values at or below (and, for exact reference columns, strictly below)
every reference edge; that is all a KS distance needs. Categories are counted; a small column keeps its values so
small-sample tests are scipy's exact ones. Nothing else of the current data is held, except the row sample for the
domain classifier and the model columns (predictions, probabilities, latencies) when they are monitored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from bastion.data.files import DataError
from bastion.monitor.columns import (
    CATEGORICAL,
    NUMERIC,
    Partition,
    category_counts,
    column_kind,
    non_numbers,
    numeric_values,
)
from bastion.monitor.dataset import DatasetProfile
from bastion.monitor.fitting import numeric_matrix
from bastion.monitor.profile import (
    CategoricalProfile,
    ColumnTally,
    NumericProfile,
    RowSample,
    count_le,
)
from bastion.monitor.stats import EXACT_KS_LIMIT


@dataclass
class NumericCounts:
    """Current values of one numeric column, counted against the reference edges."""

    tally: ColumnTally
    le: NDArray[np.int64]
    lt: NDArray[np.int64] | None
    values: list[NDArray[np.float64]] | None = field(default_factory=list)

    def add(self, raw: NDArray[np.float64], reference: NumericProfile) -> None:
        """Count a batch of values."""
        values = np.sort(self.tally.add_numeric(raw))
        self.le += count_le(values, reference.edges)
        if self.lt is not None:
            self.lt += np.searchsorted(values, reference.edges, side="left")
        self._keep(values)

    def _keep(self, values: NDArray[np.float64]) -> None:
        if self.values is None:
            return
        if sum(part.size for part in self.values) + values.size > EXACT_KS_LIMIT:
            self.values = None  # too many for the exact test: the counts carry on alone
        else:
            self.values.append(values)

    def merge(self, other: NumericCounts) -> NumericCounts:
        """Both partitions' counts (in place)."""
        self.tally = self.tally.merge(other.tally)
        self.le = self.le + other.le
        if self.lt is not None and other.lt is not None:
            self.lt = self.lt + other.lt
        if self.values is not None and other.values is not None:
            self.values.extend(other.values)
            if sum(part.size for part in self.values) > EXACT_KS_LIMIT:
                self.values = None
        else:
            self.values = None
        return self

    def kept(self) -> NDArray[np.float64] | None:
        """Every finite current value, sorted, when there are few enough to keep."""
        return None if self.values is None else np.sort(np.concatenate(self.values or [np.empty(0)]))


@dataclass(frozen=True)
class SummaryPlan:
    """What to collect from the current data; picklable."""

    profile: DatasetProfile
    """The reference profile."""
    sample_rows: int
    """Rows to sample for the domain classifier (0: none)."""
    model_columns: tuple[str, ...]
    """Columns kept whole for the model-level tests (predictions, probabilities, targets, latencies)."""
    seed: int
    """Seeds the row sample."""


@dataclass
class CurrentSummary:
    """The current data as the tests need it; one per partition, then merged."""

    label: str
    rows: int = 0
    names: list[str] = field(default_factory=list)
    numeric: dict[str, NumericCounts] = field(default_factory=dict)
    categorical: dict[str, ColumnTally] = field(default_factory=dict)
    mismatched: dict[str, str] = field(default_factory=dict)
    not_numbers: dict[str, list[int]] = field(default_factory=dict)
    errors: NumericCounts | None = None
    sample: RowSample = field(default_factory=lambda: RowSample(0))
    model: dict[str, list[Any]] = field(default_factory=dict)

    def mismatch_message(self, name: str) -> str:
        """Why a reference numeric column cannot be tested in the current data."""
        bad, present = self.not_numbers.get(name, [0, 0])
        detail = f": {bad:,} of {present:,} values are not numbers" if present else ""
        return self.mismatched[name] + detail

    def model_table(self) -> Any:
        """The collected model columns as one pyarrow Table (None when none were collected)."""
        import pyarrow as pa

        if not self.model:
            return None
        return pa.table({name: pa.chunked_array(parts) for name, parts in self.model.items()})

    def merge(self, other: CurrentSummary) -> CurrentSummary:
        """Merge another partition's summary (in place)."""
        if not self.names:
            return other
        if set(other.names) != set(self.names):
            raise DataError(f"{other.label}: columns differ from {self.label}")
        self.rows += other.rows
        for name, counts in other.numeric.items():
            self.numeric[name] = self.numeric[name].merge(counts) if name in self.numeric else counts
        for name, tally in other.categorical.items():
            self.categorical[name] = self.categorical[name].merge(tally) if name in self.categorical else tally
        for name, message in other.mismatched.items():
            self.mismatched.setdefault(name, message)
        for name, (bad, present) in other.not_numbers.items():
            seen = self.not_numbers.setdefault(name, [0, 0])
            seen[0] += bad
            seen[1] += present
        if self.errors is not None and other.errors is not None:
            self.errors = self.errors.merge(other.errors)
        self.sample.merge(other.sample)
        for name, parts in other.model.items():
            self.model.setdefault(name, []).extend(parts)
        return self


def summarize(plan: SummaryPlan, item: tuple[int, Partition]) -> CurrentSummary:
    """Summarise one partition of the current data."""
    index, partition = item
    profile = plan.profile
    state = CurrentSummary(partition.label, sample=RowSample(plan.sample_rows))
    for batch_index, batch in enumerate(partition.batches()):
        if not state.names:
            state.names = list(batch.schema.names)
            _start(state, profile, batch.schema)
        state.rows += batch.num_rows
        _count_columns(state, profile, batch)
        if state.errors is not None and profile.pca is not None and profile.pca_errors is not None:
            state.errors.add(profile.pca.errors(numeric_matrix(batch, profile.pca.columns)), profile.pca_errors)
        for name in plan.model_columns:
            if name in state.names:
                state.model.setdefault(name, []).append(batch.column(name))
        if plan.sample_rows:
            priorities = np.random.default_rng([plan.seed, 1, index, batch_index]).random(batch.num_rows)
            state.sample.add(batch, priorities)
    return state


def _start(state: CurrentSummary, profile: DatasetProfile, schema: Any) -> None:
    """Set up counters for the reference columns this partition has, and note type changes."""
    for name, reference in profile.columns.items():
        if name not in schema.names:
            continue
        kind, message = column_kind(schema.field(name))
        if isinstance(reference, NumericProfile):
            state.numeric[name] = _counts_for(reference)
            if kind != NUMERIC:
                state.mismatched[name] = message or "numeric in the reference, text in the current data"
        elif isinstance(reference, CategoricalProfile):
            state.categorical[name] = ColumnTally(CATEGORICAL)
    if profile.pca is not None and profile.pca_errors is not None and all(
            name in schema.names and name not in state.mismatched for name in profile.pca.columns):
        state.errors = _counts_for(profile.pca_errors)


def _counts_for(reference: NumericProfile) -> NumericCounts:
    return NumericCounts(ColumnTally(NUMERIC), np.zeros(len(reference.edges), np.int64),
                         np.zeros(len(reference.edges), np.int64) if reference.exact else None,
                         [] if reference.exact else None)


def _count_columns(state: CurrentSummary, profile: DatasetProfile, batch: Any) -> None:
    for name, counts in state.numeric.items():
        if name in state.mismatched:
            bad, present = non_numbers(batch.column(name))
            seen = state.not_numbers.setdefault(name, [0, 0])
            seen[0] += bad
            seen[1] += present
            continue
        reference = profile.columns[name]
        assert isinstance(reference, NumericProfile)
        counts.add(numeric_values(batch.column(name)), reference)
    for name, tally in state.categorical.items():
        tally.add_categories(*category_counts(batch.column(name)))
