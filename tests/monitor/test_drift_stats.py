"""The statistics behind drift verdicts agree with scipy and with textbook multiple-test corrections."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray
from scipy import stats as scipy_stats
from scipy.spatial.distance import jensenshannon

from bastion.monitor import stats


def _peak_counts(reference: NDArray[np.float64], current: NDArray[np.float64]) -> tuple[int, int]:
    """Values of each sample at or below the point where their ECDFs are furthest apart (found by brute force)."""
    points = np.unique(np.concatenate([reference, current]))
    below_ref = np.searchsorted(np.sort(reference), points, side="right")
    below_cur = np.searchsorted(np.sort(current), points, side="right")
    peak = int(np.argmax(np.abs(below_ref / reference.size - below_cur / current.size)))
    return int(below_ref[peak]), int(below_cur[peak])


@pytest.mark.parametrize("seed", range(6))
def test_ks_two_sample_is_scipys_ks_2samp(seed: int) -> None:
    rng = np.random.default_rng(seed)
    reference = rng.normal(size=int(rng.integers(5, 3000)))
    current = rng.normal(loc=rng.uniform(0, 0.3), size=int(rng.integers(5, 3000)))
    if seed % 2:  # ties: integer values
        reference, current = np.round(reference * 2), np.round(current * 2)
    expected = scipy_stats.ks_2samp(reference, current)
    assert stats.ks_two_sample(reference, current) == (expected.statistic, expected.pvalue)


@pytest.mark.parametrize(("n", "m", "shift"), [(40, 25, 0.5), (800, 300, 0.1), (2000, 5000, 0.05),
                                               (9000, 10_000, 0.02), (12_000, 700, 0.1), (15_000, 20_000, 0.03),
                                               (10_001, 50, 0.4)])
def test_ks_p_value_matches_scipy_for_samples_realising_the_distance(n: int, m: int, shift: float) -> None:
    # Continuous samples (not the 0/1 stand-ins ks_p_value builds): the p-value must depend on the distance only.
    # Sizes straddle scipy's switch from the exact p-value (both <= 10,000) to the asymptotic one.
    rng = np.random.default_rng(n + m)
    reference = rng.normal(size=n)
    current = rng.normal(loc=shift, size=m)
    below_ref, below_cur = _peak_counts(reference, current)
    expected = scipy_stats.ks_2samp(reference, current)
    assert abs(below_ref / n - below_cur / m) == pytest.approx(expected.statistic, abs=1e-15)
    assert stats.ks_p_value(below_ref, n, below_cur, m) == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-300)


def test_ks_p_value_at_zero_and_full_distance_and_bad_sizes() -> None:
    assert stats.ks_p_value(10, 20, 15, 30) == pytest.approx(1.0)
    assert stats.ks_p_value(20, 20, 0, 30) == pytest.approx(scipy_stats.ks_2samp(np.zeros(20), np.ones(30)).pvalue)
    big = stats.ks_p_value(20_000, 20_000, 0, 11_000)
    assert 0.0 <= big < 1e-100
    with pytest.raises(ValueError, match="non-empty"):
        stats.ks_p_value(0, 0, 3, 5)


def test_ks_p_value_never_falls_as_the_distance_shrinks() -> None:
    # The binned KS relies on this: a smaller distance at the same sizes can only give a larger p-value.
    for n, m in ((300, 200), (12_000, 4000)):
        p_values = [stats.ks_p_value(n - k * (n // 40), n, m, m) for k in range(40, -1, -1)]
        assert all(a <= b + 1e-15 for a, b in zip(p_values, p_values[1:], strict=False))


@pytest.mark.parametrize("seed", range(8))
def test_chi_square_two_sample_is_chi2_contingency_without_correction(seed: int) -> None:
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 9))
    reference = rng.integers(1, 400, size=k)
    current = rng.integers(1, 400, size=k)
    expected = scipy_stats.chi2_contingency(np.vstack([reference, current]), correction=False)
    statistic, p_value, dof = stats.chi_square_two_sample(reference, current)
    assert statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert p_value == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-300)
    assert dof == expected.dof == k - 1


def test_chi_square_drops_categories_empty_on_both_sides_and_degenerates_safely() -> None:
    reference = np.array([30, 0, 50, 20])
    current = np.array([10, 0, 70, 5])
    kept = np.vstack([reference, current])[:, [0, 2, 3]]
    expected = scipy_stats.chi2_contingency(kept, correction=False)
    statistic, p_value, dof = stats.chi_square_two_sample(reference, current)
    assert statistic == pytest.approx(expected.statistic) and dof == 2
    assert p_value == pytest.approx(expected.pvalue)
    assert stats.chi_square_two_sample(np.array([5, 0]), np.array([9, 0])) == (0.0, 1.0, 0)
    assert stats.chi_square_two_sample(np.array([0, 0]), np.array([3, 4])) == (0.0, 1.0, 0)


@pytest.mark.parametrize("seed", range(6))
def test_jensen_shannon_is_scipys_base_2_distance(seed: int) -> None:
    rng = np.random.default_rng(seed)
    size = int(rng.integers(2, 30))
    p = rng.random(size) * (rng.random(size) > 0.3)  # some empty bins on either side
    q = rng.random(size) * (rng.random(size) > 0.3)
    p[0], q[-1] = p[0] + 0.1, q[-1] + 0.1
    p, q = p / p.sum(), q / q.sum()
    assert stats.jensen_shannon(p, q) == pytest.approx(jensenshannon(p, q, base=2), abs=1e-12)
    assert stats.jensen_shannon(p, p) == pytest.approx(0.0, abs=1e-12)
    disjoint = stats.jensen_shannon(np.array([1.0, 0.0]), np.array([0.0, 1.0]))
    assert disjoint == pytest.approx(1.0)


def _holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjustment, written from the definition: rank i gets max over j <= i of (m - j) p_(j)."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


def _benjamini_hochberg(p_values: list[float]) -> list[float]:
    """BH step-up adjustment from the definition: rank i gets min over j >= i of m p_(j) / j."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    for rank, index in enumerate(order):
        adjusted[index] = min(1.0, min(m * p_values[j] / (later + 1) for later, j in enumerate(order)
                                       if later >= rank))
    return adjusted


@pytest.mark.parametrize("seed", range(10))
def test_adjust_p_values_matches_reference_implementations(seed: int) -> None:
    rng = np.random.default_rng(seed)
    p_values = rng.random(int(rng.integers(1, 25))) ** 3
    if seed % 3 == 0:  # ties
        p_values[: len(p_values) // 2] = p_values[0]
    holm = stats.adjust_p_values(p_values, "holm")
    bh = stats.adjust_p_values(p_values, "bh")
    assert holm == pytest.approx(_holm(p_values.tolist()), rel=1e-12)
    assert bh == pytest.approx(_benjamini_hochberg(p_values.tolist()), rel=1e-12)
    assert np.all(bh <= holm * (1 + 1e-12)) and np.all(holm >= p_values * (1 - 1e-12))
    assert np.all(bh >= p_values * (1 - 1e-12))
    assert np.array_equal(stats.adjust_p_values(p_values, "none"), p_values)


def test_adjust_p_values_on_a_hand_worked_example() -> None:
    # Sorted: 0.005, 0.01, 0.03, 0.04 (m = 4).
    # Holm: 4*0.005=0.02, 3*0.01=0.03, 2*0.03=0.06, max(0.06, 1*0.04)=0.06.
    # BH: 4*0.005/1=0.02, min(4*0.01/2=0.02, ...)=0.02, 4*0.03/3=0.04, 4*0.04/4=0.04.
    p_values = np.array([0.01, 0.04, 0.03, 0.005])
    assert stats.adjust_p_values(p_values, "holm") == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert stats.adjust_p_values(p_values, "bh") == pytest.approx([0.02, 0.04, 0.04, 0.02])
    assert stats.adjust_p_values(np.array([0.6, 0.9]), "holm") == pytest.approx([1.0, 1.0])  # capped at 1
    assert stats.adjust_p_values(np.array([]), "holm").size == 0
    with pytest.raises(ValueError, match="correction"):
        stats.adjust_p_values(p_values, "bonferroni")


def test_pool_rare_keeps_totals_and_decides_from_column_totals_only() -> None:
    reference = np.array([500, 300, 120, 3, 2, 1, 0], dtype=np.int64)  # last: the unseen bucket
    current = np.array([250, 150, 60, 2, 1, 1, 40], dtype=np.int64)
    pooled_reference, pooled_current = stats.pool_rare(reference, current)
    assert pooled_reference.sum() == reference.sum() and pooled_current.sum() == current.sum()
    totals = reference + current
    kept = totals * min(reference.sum(), current.sum()) / totals.sum() >= 5
    assert kept.tolist() == [True, True, True, False, False, False, True]
    assert pooled_reference.tolist() == [500, 300, 120, 0, 6] and pooled_current.tolist() == [250, 150, 60, 40, 4]
    # Another split of the same column totals and sample sizes is pooled into the same cells.
    other_reference = np.array([400, 350, 150, 2, 3, 2, 19], dtype=np.int64)
    other_current = totals - other_reference
    assert other_reference.sum() == reference.sum()
    other_pooled_reference, _ = stats.pool_rare(other_reference, other_current)
    assert other_pooled_reference.tolist() == [400, 350, 150, 19, 7]


def test_pool_rare_leaves_tables_without_rare_cells_alone() -> None:
    reference = np.array([100, 80, 60], dtype=np.int64)
    current = np.array([30, 20, 10], dtype=np.int64)
    pooled_reference, pooled_current = stats.pool_rare(reference, current)
    assert np.array_equal(pooled_reference, reference) and np.array_equal(pooled_current, current)
    one_rare = np.array([1000, 900, 1], dtype=np.int64)  # a single rare category has nothing to pool with
    assert np.array_equal(stats.pool_rare(one_rare, np.array([500, 450, 0]))[0], one_rare)


def test_psi_and_two_proportions_against_direct_computation() -> None:
    reference = np.array([0.2, 0.3, 0.5, 0.0])
    current = np.array([0.25, 0.25, 0.4, 0.1])
    ref, cur = np.maximum(reference, stats.PSI_FLOOR), np.maximum(current, stats.PSI_FLOOR)
    assert stats.psi(reference, current) == pytest.approx(float(np.sum((cur - ref) * np.log(cur / ref))))
    assert stats.psi(reference, reference) == 0.0
    table = np.array([[30, 970], [60, 940]])
    assert stats.two_proportions(30, 1000, 60, 1000) == pytest.approx(
        scipy_stats.chi2_contingency(table, correction=False).pvalue)
    small = np.array([[1, 99], [6, 94]])  # an expected count under 5: Fisher's exact test
    assert stats.two_proportions(1, 100, 6, 100) == pytest.approx(scipy_stats.fisher_exact(small).pvalue)
    assert stats.two_proportions(0, 0, 5, 10) == 1.0
