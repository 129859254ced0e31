"""Per-column drift tests from a reference profile and a current summary.

Numeric columns: two-sample KS (exact from values when both sides are small, else from counts at the reference
edges), with Wasserstein over the reference standard deviation as effect size and PSI and Jensen-Shannon over
reference deciles. Categorical columns: two-sample chi-square over the reference categories plus an "unseen" bucket,
rare cells pooled by their expected counts; Jensen-Shannon distance as effect size. Every column also gets a test of
its share of missing or infinite values when either side has any.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from bastion.monitor import stats
from bastion.monitor.profile import CategoricalProfile, ColumnTally, NumericProfile
from bastion.monitor.report import Histogram
from bastion.monitor.summary import NumericCounts

UNSEEN = "(unseen)"
"""Label of the bucket holding current categories the reference never had."""
PLOT_BINS = 20
"""Reference-quantile bins (or top categories) shown per column."""
PSI_BINS = 10
"""Reference deciles for PSI and Jensen-Shannon on numeric columns (the usual convention for PSI thresholds)."""


@dataclass(frozen=True)
class Outcome:
    """One column's raw test results, before correction."""

    test: str
    statistic: float | None
    p_value: float | None
    effect_size: float | None
    metrics: dict[str, float]
    histogram: Histogram | None
    message: str | None = None


def numeric_test(reference: NumericProfile, current: NumericCounts) -> Outcome:
    """KS test and distances of a numeric column."""
    n, m = reference.count, current.tally.moments.count
    if n == 0 or m == 0:
        side = "reference" if n == 0 else "current data"
        return Outcome("missing", None, None, None, {}, None, f"no finite values in the {side}")
    kept = current.kept()
    if reference.values is not None and kept is not None:
        statistic, p_value = stats.ks_two_sample(reference.values, kept)
        from scipy.stats import wasserstein_distance

        distance = float(wasserstein_distance(reference.values, kept))
    else:
        statistic, p_value = _ks_from_counts(reference, current)
        distance = _wasserstein(reference, current)
    effect = distance / reference.std if reference.std > 0 else (0.0 if distance == 0 else float("inf"))
    ref_shares, cur_shares, _ = _grouped(reference, current, PSI_BINS)
    metrics = {"wasserstein": distance, "wasserstein_normed": effect, "psi": stats.psi(ref_shares, cur_shares),
               "jensen_shannon": stats.jensen_shannon(ref_shares, cur_shares),
               "reference_mean": reference.mean, "current_mean": current.tally.moments.mean,
               "reference_std": reference.std, "current_std": current.tally.moments.std}
    message = "constant in the reference: the effect size is infinite" if reference.std == 0 and distance else None
    return Outcome("ks", statistic, p_value, effect, metrics, _numeric_histogram(reference, current), message)


def _ks_from_counts(reference: NumericProfile, current: NumericCounts) -> tuple[float, float]:
    """KS distance at the reference edges (and just below them for exact references), and its p-value."""
    n, m = reference.count, current.tally.moments.count
    gaps = np.abs(reference.counts_le / n - current.le / m)
    peak = int(np.argmax(gaps))
    below_ref, below_cur, distance = int(reference.counts_le[peak]), int(current.le[peak]), float(gaps[peak])
    if current.lt is not None:
        # Just below each reference value the reference CDF still has its previous level.
        previous = np.concatenate([[0], reference.counts_le[:-1]])
        left = np.abs(previous / n - current.lt / m)
        if left.size and left.max() > distance:
            peak = int(np.argmax(left))
            below_ref, below_cur, distance = int(previous[peak]), int(current.lt[peak]), float(left[peak])
    return distance, stats.ks_p_value(below_ref, n, below_cur, m)


def _wasserstein(reference: NumericProfile, current: NumericCounts) -> float:
    """Earth mover's distance on the grid of edges widened to both samples' ranges (trapezoid rule)."""
    low = min(reference.minimum, current.tally.moments.minimum)
    high = max(reference.maximum, current.tally.moments.maximum)
    grid = np.concatenate([[low], reference.edges, [high]])
    ref_cdf = np.concatenate([[0.0], reference.cdf(), [1.0]])
    cur_cdf = np.concatenate([[0.0], current.le / current.tally.moments.count, [1.0]])
    gaps = np.abs(ref_cdf - cur_cdf)
    return float(np.sum((gaps[:-1] + gaps[1:]) / 2 * np.maximum(np.diff(grid), 0.0)))


def _grouped(reference: NumericProfile, current: NumericCounts,
             groups: int) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.intp]]:
    """Reference and current shares over about ``groups`` reference-quantile bins, and the edges used."""
    chosen = reference.group_edges(groups)
    ref_le = np.concatenate([reference.counts_le[chosen], [reference.count]])
    cur_le = np.concatenate([current.le[chosen], [current.tally.moments.count]])
    return stats.shares(np.diff(ref_le, prepend=0)), stats.shares(np.diff(cur_le, prepend=0)), chosen


def _numeric_histogram(reference: NumericProfile, current: NumericCounts) -> Histogram:
    ref_shares, cur_shares, chosen = _grouped(reference, current, PLOT_BINS)
    low = min(reference.minimum, current.tally.moments.minimum)
    high = max(reference.maximum, current.tally.moments.maximum)
    edges = np.concatenate([[low], reference.edges[chosen], [high]])
    labels = tuple(f"({_short(a)}, {_short(b)}]" for a, b in zip(edges[:-1], edges[1:], strict=True))
    return Histogram(labels, tuple(ref_shares.tolist()), tuple(cur_shares.tolist()), tuple(edges.tolist()))


def _short(value: float) -> str:
    return f"{value:.4g}"


def categorical_test(reference: CategoricalProfile, current: ColumnTally) -> Outcome:
    """Two-sample chi-square test and distances of a categorical column."""
    labels = sorted(reference.counts, key=lambda label: (-reference.counts[label], label))
    ref_counts = np.array([reference.counts[label] for label in labels] + [0], dtype=np.int64)
    seen = set(reference.counts)
    unseen = sum(count for label, count in current.categories.items() if label not in seen)
    cur_counts = np.array([current.categories.get(label, 0) for label in labels] + [unseen], dtype=np.int64)
    n, m = int(ref_counts.sum()), int(cur_counts.sum())
    if n == 0 or m == 0:
        side = "reference" if n == 0 else "current data"
        return Outcome("missing", None, None, None, {}, None, f"no values in the {side}")
    if current.overflow:
        return Outcome("none", None, None, None, {}, None, "too many distinct values in the current data")
    # The test runs over every category of either sample: lumping the current-only ones into one "unseen" cell
    # would define a cell by the reference sample itself, and a clean sample of a many-valued column would alarm.
    new_labels = sorted(label for label in current.categories if label not in seen)
    union_ref = np.append(ref_counts[:-1], np.zeros(len(new_labels), np.int64))
    union_cur = np.append(cur_counts[:-1], [current.categories[label] for label in new_labels]).astype(np.int64)
    pooled_ref, pooled_cur = stats.pool_rare(union_ref, union_cur)
    statistic, p_value, dof = stats.chi_square_two_sample(pooled_ref, pooled_cur)
    ref_shares, cur_shares = stats.shares(ref_counts), stats.shares(cur_counts)
    distance = stats.jensen_shannon(ref_shares, cur_shares)
    metrics = {"jensen_shannon": distance, "psi": stats.psi(ref_shares[:-1], cur_shares[:-1]) if len(labels) else 0.0,
               "degrees_of_freedom": float(dof), "unseen_share": float(cur_shares[-1]),
               "categories": float(len(labels))}
    message = f"{unseen:,} current values in categories the reference never had" if unseen else None
    return Outcome("chi2", statistic, p_value, distance, metrics, _categorical_histogram(labels, ref_shares,
                                                                                         cur_shares), message)


def _categorical_histogram(labels: list[str], ref_shares: NDArray[np.float64],
                           cur_shares: NDArray[np.float64]) -> Histogram:
    """Top categories, then the rest pooled as ``(other)``, then the unseen bucket."""
    shown = min(len(labels), PLOT_BINS)
    names = list(labels[:shown])
    ref = ref_shares[:shown].tolist()
    cur = cur_shares[:shown].tolist()
    if len(labels) > shown:
        names.append("(other)")
        ref.append(float(ref_shares[shown:-1].sum()))
        cur.append(float(cur_shares[shown:-1].sum()))
    names.append(UNSEEN)
    ref.append(float(ref_shares[-1]))
    cur.append(float(cur_shares[-1]))
    return Histogram(tuple(names), tuple(ref), tuple(cur))

