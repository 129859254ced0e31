"""The statistics behind drift verdicts: two-sample tests, distances between distributions, multiple-test correction.

Kolmogorov-Smirnov p-values follow scipy's ``ks_2samp`` (``method="auto"``) so a binned statistic gets the p-value
scipy would give an exact statistic of the same size; since the binned statistic is a supremum over a subset of the
points the exact one ranges over, it is never larger, and its p-value never smaller.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray
from scipy import stats  # imported with the monitor, not lazily by the first test: a service pays it once at start

EXACT_KS_LIMIT = 10_000
"""scipy's ``ks_2samp`` computes an exact p-value when both samples are at most this large, else the asymptotic one."""
TINY_P = 1e-10
"""Below this asymptotic KS p-value the limiting distribution is reported instead of scipy's slow finite-n one."""
PSI_FLOOR = 1e-4
"""Share given to an empty bin in PSI, whose logarithm is otherwise infinite (the usual convention)."""


def ks_p_value(below_reference: int, n: int, below_current: int, m: int) -> float:
    """Two-sided p-value of the KS distance ``|below_reference/n - below_current/m|`` between samples of sizes
    ``n`` and ``m``, where the counts are the values of each sample below a point where the distance peaks.

    Exact (scipy's recursion) when both samples are at most ``EXACT_KS_LIMIT``, else Smirnov's asymptotic
    distribution with the effective size ``n*m/(n+m)``, as ``scipy.stats.ks_2samp`` chooses. The exact p-value
    depends on the distance and the sizes only, so it is computed on two stand-in samples that realise exactly
    this distance (values 0 and 1 in the given proportions).
    """
    if n < 1 or m < 1:
        raise ValueError(f"KS needs two non-empty samples, got sizes {n} and {m}")
    if max(n, m) <= EXACT_KS_LIMIT:
        reference = np.repeat([0.0, 1.0], [below_reference, n - below_reference])
        current = np.repeat([0.0, 1.0], [below_current, m - below_current])
        return ks_two_sample(reference, current)[1]
    statistic = abs(below_reference / n - below_current / m)
    big, small = sorted((float(n), float(m)), reverse=True)
    effective = np.round(big * small / (big + small))
    limit = float(stats.kstwobign.sf(statistic * np.sqrt(effective)))
    if limit < TINY_P:
        # scipy's finite-n distribution takes up to 0.4 s per call far in the tail; there the limiting
        # distribution agrees to a few digits and the verdict cannot change.
        return limit
    return float(np.clip(stats.kstwo.sf(statistic, effective), 0.0, 1.0))


def ks_two_sample(reference: NDArray[np.float64], current: NDArray[np.float64]) -> tuple[float, float]:
    """KS distance and p-value of two samples of finite values, exactly as ``scipy.stats.ks_2samp`` computes them."""
    result = stats.ks_2samp(reference, current, alternative="two-sided", method="auto")
    return float(result.statistic), float(result.pvalue)


def chi_square_two_sample(reference: NDArray[np.int64], current: NDArray[np.int64]) -> tuple[float, float, int]:
    """Pearson's chi-square test of homogeneity for two samples counted over the same categories.

    Both rows are observed counts (a 2 x k contingency table), so sampling error in the reference is accounted
    for, unlike a goodness-of-fit test against fixed expected counts. Categories empty in both are dropped.
    Returns (statistic, p-value, degrees of freedom); one category left gives (0, 1, 0).
    """
    table = np.vstack([reference, current]).astype(np.float64)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return 0.0, 1.0, 0
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    statistic = float(((table - expected) ** 2 / expected).sum())
    dof = table.shape[1] - 1
    return statistic, float(stats.chi2.sf(statistic, dof)), dof


def pool_rare(reference: NDArray[np.int64], current: NDArray[np.int64],
              min_expected: float = 5.0) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Pool the categories whose expected count in the smaller sample is under ``min_expected`` into one cell.

    Cochran's rule keeps the chi-square approximation valid. Expected counts come from the column totals (both
    samples together), on which the test of homogeneity conditions, so the choice cannot bias it. Choosing from
    the reference's counts alone does: categories kept because the reference happened to see them often come back
    less often in any other sample, and a clean pair of samples of a 600-category column scored p = 1e-6.
    """
    totals = reference + current
    grand = int(totals.sum())
    if grand == 0:
        return reference, current
    smallest = min(int(reference.sum()), int(current.sum()))
    rare = totals * smallest / grand < min_expected
    if rare.sum() <= 1:
        return reference, current
    keep = ~rare
    pooled_reference = np.append(reference[keep], reference[rare].sum())
    pooled_current = np.append(current[keep], current[rare].sum())
    return pooled_reference, pooled_current


def shares(counts: NDArray[np.int64] | NDArray[np.float64]) -> NDArray[np.float64]:
    """Counts as shares summing to 1 (all zeros stay zeros)."""
    total = float(np.sum(counts))
    return np.asarray(counts, dtype=np.float64) / total if total > 0 else np.zeros(len(counts))


def psi(reference: NDArray[np.float64], current: NDArray[np.float64]) -> float:
    """Population stability index of two share vectors; empty bins get ``PSI_FLOOR``."""
    ref = np.maximum(reference, PSI_FLOOR)
    cur = np.maximum(current, PSI_FLOOR)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def jensen_shannon(reference: NDArray[np.float64], current: NDArray[np.float64]) -> float:
    """Jensen-Shannon distance (base 2, so in [0, 1]) of two share vectors, as scipy's ``jensenshannon``."""
    mixture = (reference + current) / 2

    def divergence(p: NDArray[np.float64]) -> float:
        mask = p > 0
        return float(np.sum(p[mask] * np.log2(p[mask] / mixture[mask])))

    value = (divergence(reference) + divergence(current)) / 2
    return math.sqrt(max(value, 0.0))


def adjust_p_values(p_values: NDArray[np.float64], method: str) -> NDArray[np.float64]:
    """Holm (family-wise error) or Benjamini-Hochberg (false discovery rate) adjusted p-values, or unchanged."""
    p = np.asarray(p_values, dtype=np.float64)
    m = p.size
    if m == 0 or method == "none":
        return p.copy()
    order = np.argsort(p, kind="stable")
    ranked = p[order]
    if method == "holm":
        adjusted = np.maximum.accumulate(ranked * (m - np.arange(m)))
    elif method == "bh":
        adjusted = np.minimum.accumulate((ranked * m / np.arange(1, m + 1))[::-1])[::-1]
    else:
        raise ValueError(f"correction must be 'holm', 'bh' or 'none', not {method!r}")
    result = np.empty(m)
    result[order] = np.minimum(np.maximum(adjusted, ranked), 1.0)  # never below the raw p (rounding in p*m/m)
    return result


def two_proportions(hits_a: int, n_a: int, hits_b: int, n_b: int) -> float:
    """Two-sided p-value that two proportions differ: Fisher's exact test when an expected count is under 5,
    else chi-square on the 2 x 2 table (no continuity correction)."""
    if n_a == 0 or n_b == 0:
        return 1.0
    table = np.array([[hits_a, n_a - hits_a], [hits_b, n_b - hits_b]], dtype=np.int64)
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    if expected.min() < 5:
        return float(stats.fisher_exact(table).pvalue)
    return chi_square_two_sample(table[0], table[1])[1]
