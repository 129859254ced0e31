"""Building a reference profile over partitions: two map + merge passes on the shared executor.

Pass one tallies each column (counts, moments, categories) and keeps a bottom-k row sample; bin edges and the PCA
model are chosen from that sample; pass two counts every reference value (and every reconstruction error) against
the edges. Each pass's map function is module-level and its inputs picklable, so it runs in a process pool or on a
Dask worker as it does here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
from numpy.typing import NDArray

from bastion.compute import Executor, InProcessExecutor, TaskError, map_reduce
from bastion.data.files import DataError
from bastion.monitor.columns import CATEGORICAL, NUMERIC, Partition, column_kind, numeric_values
from bastion.monitor.dataset import DatasetProfile
from bastion.monitor.model import ModelState, Roles
from bastion.monitor.multivariate import PcaModel, fit_pca
from bastion.monitor.profile import (
    MAX_CATEGORIES,
    CategoricalProfile,
    ColumnProfile,
    ColumnTally,
    NumericProfile,
    RowSample,
    UnusableColumn,
    choose_edges,
    count_le,
    numeric_profile,
    tally_batch,
)


@dataclass(frozen=True)
class FitPlan:
    """What to profile and how; picklable, sent with every partition."""

    columns: tuple[str, ...] | None
    """Columns to monitor (None: all)."""
    ignore: tuple[str, ...]
    """Columns never monitored (identifiers, timestamps of the request)."""
    categorical: tuple[str, ...]
    """Columns read as categories whatever their type (integer codes)."""
    bins: int
    """Reference-quantile bins per numeric column."""
    exact_limit: int
    """Columns with at most this many values keep them exactly."""
    sample_rows: int
    """Rows kept by the bottom-k sample."""
    seed: int
    """Seeds the sample's priorities (with the partition and batch numbers)."""
    roles: tuple[tuple[str, str], ...] = ()
    """(column, role) for non-feature columns."""


@dataclass
class FirstPass:
    """Pass-one state of one partition, or of several merged."""

    label: str
    order: list[str] = field(default_factory=list)
    kinds: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    tallies: dict[str, ColumnTally] = field(default_factory=dict)
    sample: RowSample = field(default_factory=lambda: RowSample(0))
    rows: int = 0
    model: ModelState = field(default_factory=ModelState)

    def merge(self, other: FirstPass) -> FirstPass:
        """Merge another partition's state into this one (in place)."""
        if not self.order:
            return other
        if set(other.order) != set(self.order):
            missing = sorted(set(self.order) - set(other.order))
            extra = sorted(set(other.order) - set(self.order))
            raise DataError(f"{other.label}: columns differ from {self.label}"
                            + (f"; missing {missing}" if missing else "") + (f"; extra {extra}" if extra else ""))
        for name in self.order:
            self.tallies[name] = self.tallies[name].merge(other.tallies[name])
        self.sample.merge(other.sample)
        self.rows += other.rows
        self.model = self.model.merge(other.model)
        return self


def selected_columns(plan: FitPlan, names: list[str], label: str) -> list[str]:
    """The monitored columns of a partition with columns ``names``; a requested column it lacks is an error."""
    if plan.columns is not None:
        absent = [name for name in plan.columns if name not in names]
        if absent:
            raise DataError(f"{label}: no column named {', '.join(repr(name) for name in absent)}")
        wanted = list(plan.columns)
    else:
        wanted = names
    skipped = set(plan.ignore)
    return [name for name in wanted if name not in skipped]


def first_pass(plan: FitPlan, item: tuple[int, Partition]) -> FirstPass:
    """Tally one partition and sample its rows."""
    index, partition = item
    state = FirstPass(partition.label, sample=RowSample(plan.sample_rows))
    roles = Roles.of(dict(plan.roles))
    for batch_index, batch in enumerate(partition.batches()):
        if not state.order:
            state.order = selected_columns(plan, batch.schema.names, partition.label)
            state.kinds = {name: column_kind(batch.schema.field(name), name in plan.categorical)
                           for name in state.order}
        tally_batch(batch, state.kinds, state.tallies)
        try:
            state.model.update(batch, roles)
        except (KeyError, ValueError) as exc:
            raise DataError(f"{partition.label}: model columns: {exc}") from None
        state.rows += batch.num_rows
        priorities = np.random.default_rng([plan.seed, index, batch_index]).random(batch.num_rows)
        _offer(state.sample, batch.select(state.order), priorities)
    return state


def _offer(sample: RowSample, batch: Any, priorities: NDArray[np.float64]) -> None:
    """Add a batch's rows to the sample, skipping the rows whose priority cannot make it in."""
    import pyarrow as pa

    if sample.priorities.size >= sample.capacity:
        keep = priorities < sample.priorities.max()
        if not keep.any():
            return
        batch, priorities = batch.filter(pa.array(keep)), priorities[keep]
    sample.add(batch, priorities)


@dataclass(frozen=True)
class CountPlan:
    """Pass two's instructions: edges of every binned column and the PCA model."""

    edges: dict[str, NDArray[np.float64]]
    """Column -> edges, for columns not kept exactly."""
    collect: tuple[str, ...] = ()
    """Columns with few enough values to keep exactly that the sample did not hold in full."""


@dataclass
class SecondPass:
    """Pass-two state: counts at or below each edge, and the values of collected columns."""

    counts: dict[str, NDArray[np.int64]] = field(default_factory=dict)
    values: dict[str, list[NDArray[np.float64]]] = field(default_factory=dict)

    def merge(self, other: SecondPass) -> SecondPass:
        """Add another partition's counts and values (in place)."""
        for name, counts in other.counts.items():
            self.counts[name] = self.counts[name] + counts if name in self.counts else counts
        for name, values in other.values.items():
            self.values.setdefault(name, []).extend(values)
        return self


def second_pass(plan: CountPlan, partition: Partition) -> SecondPass:
    """Count one partition's values at or below each edge, per binned column; collect the small columns."""
    state = SecondPass({name: np.zeros(len(edges), np.int64) for name, edges in plan.edges.items()})
    for batch in partition.batches():
        for name, edges in plan.edges.items():
            values = numeric_values(batch.column(name))
            values = np.sort(values[np.isfinite(values)])
            state.counts[name] += count_le(values, edges)
        for name in plan.collect:
            values = numeric_values(batch.column(name))
            state.values.setdefault(name, []).append(values[np.isfinite(values)])
    return state


def numeric_matrix(batch: Any, columns: tuple[str, ...]) -> NDArray[np.float64]:
    """The named columns of a batch or table as a rows x columns float matrix (missing as NaN)."""
    return np.column_stack([numeric_values(batch.column(name)) for name in columns])


def run_pass(executor: Executor, fn: Callable[[Any], Any], items: list[Any], merge: Callable[[Any, Any], Any],
         initial: Any, partitions: list[Partition]) -> Any:
    """map_reduce, with a failing task's error naming its partition."""
    try:
        return map_reduce(executor, fn, items, merge, initial)
    except TaskError as exc:
        if isinstance(exc.error, DataError):
            raise exc.error from None
        raise DataError(f"{partitions[exc.index].label}: {type(exc.error).__name__}: {exc.error}") from None


def fit_profile(partitions: list[Partition], plan: FitPlan, executor: Executor | None = None,
                with_pca: bool = True) -> DatasetProfile:
    """The reference profile of ``partitions``."""
    executor = executor or InProcessExecutor()
    items = list(enumerate(partitions))
    first: FirstPass = run_pass(executor, partial(first_pass, plan), items, lambda a, b: a.merge(b),
                            FirstPass(partitions[0].label), partitions)
    if first.rows == 0:
        raise DataError(f"{partitions[0].label}: the reference has no rows")
    frame = first.sample.table.to_pandas() if first.sample.table is not None else None
    roles = dict(plan.roles)
    table = first.sample.table
    exact, collect, edges = _plan_columns(first, table, plan)
    pca, pca_errors = _fit_pca(first, table, roles, plan) if with_pca else (None, None)
    second = SecondPass()
    if edges or collect:
        count_plan = CountPlan(edges, tuple(collect))
        second = run_pass(executor, partial(second_pass, count_plan), partitions, lambda a, b: a.merge(b),
                      SecondPass(), partitions)
    exact_values = dict(exact)
    exact_values.update({name: np.concatenate(parts) for name, parts in second.values.items()})
    counts = second.counts
    columns = _column_profiles(first, exact_values, edges, counts)
    settings = {"bins": plan.bins, "exact_limit": plan.exact_limit, "sample_rows": plan.sample_rows,
                "seed": plan.seed}
    return DatasetProfile(first.rows, columns, roles, pca, pca_errors, first.model.to_dict(), frame, settings)


def _plan_columns(first: FirstPass, table: Any, plan: FitPlan) -> tuple[
        dict[str, NDArray[np.float64]], set[str], dict[str, NDArray[np.float64]]]:
    """Values of the numeric columns the sample holds whole, the columns pass two collects, the others' edges."""
    exact: dict[str, NDArray[np.float64]] = {}
    collect: set[str] = set()
    edges: dict[str, NDArray[np.float64]] = {}
    for name in first.order:
        tally = first.tallies[name]
        if tally.kind != NUMERIC:
            continue
        sample = _finite(table, name)
        if tally.moments.count <= plan.exact_limit:
            if sample.size == tally.moments.count:
                exact[name] = sample
            else:
                collect.add(name)
        else:
            edges[name] = choose_edges(sample, plan.bins)
    return exact, collect, edges


def _finite(table: Any, name: str) -> NDArray[np.float64]:
    """The sample's finite values of a column, converted exactly as the passes convert them."""
    if table is None:
        return np.empty(0)
    values = numeric_values(table.column(name))
    return values[np.isfinite(values)]


def _fit_pca(first: FirstPass, table: Any, roles: dict[str, str],
             plan: FitPlan) -> tuple[PcaModel | None, NumericProfile | None]:
    """PCA over the numeric features, fitted on half of the row sample, and the profile of its reconstruction
    errors on the other half.

    The errors must be measured on rows the model did not see: in-sample errors are smaller (the model fits its
    own noise), and current rows would then always look worse than the reference.
    """
    names = tuple(name for name in first.order if first.tallies[name].kind == NUMERIC and name not in roles
                  and first.tallies[name].moments.count > 1)
    if table is None or len(names) < 2:
        return None, None
    matrix = numeric_matrix(table, names)
    order = np.random.default_rng([plan.seed, 2]).permutation(matrix.shape[0])
    fit_rows, held_rows = order[: matrix.shape[0] // 2], order[matrix.shape[0] // 2:]
    mean = np.array([first.tallies[name].moments.mean for name in names])
    std = np.array([first.tallies[name].moments.std for name in names])
    pca = fit_pca(names, matrix[fit_rows], mean, std)
    if pca is None:
        return None, None
    errors = np.sort(pca.errors(matrix[held_rows]))
    tally = ColumnTally(NUMERIC)
    tally.add_numeric(errors)
    if errors.size <= plan.exact_limit:
        return pca, numeric_profile(tally, errors, None, np.unique(errors), True)
    edges = choose_edges(errors, plan.bins)
    return pca, numeric_profile(tally, np.empty(0), count_le(errors, edges), edges, False)


def _column_profiles(first: FirstPass, exact: dict[str, NDArray[np.float64]],
                     edges: dict[str, NDArray[np.float64]],
                     counts: dict[str, NDArray[np.int64]]) -> dict[str, ColumnProfile]:
    profiles: dict[str, ColumnProfile] = {}
    for name in first.order:
        tally = first.tallies[name]
        rows = first.rows
        if tally.kind == NUMERIC:
            if name in exact:
                values = exact[name]
                profiles[name] = numeric_profile(tally, values, None, np.unique(values), True)
            else:
                profiles[name] = numeric_profile(tally, np.empty(0), counts[name], edges[name], False)
        elif tally.kind == CATEGORICAL and not tally.overflow:
            profiles[name] = CategoricalProfile(dict(tally.categories), tally.missing)
        else:
            message = tally.message or (f"more than {MAX_CATEGORIES:,} distinct values: an identifier or free "
                                        "text, not tested (ignore it, or bin it into categories)")
            profiles[name] = UnusableColumn(message, tally.missing, rows)
    return profiles
