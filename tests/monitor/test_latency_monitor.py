"""Latency monitoring: grid quantiles against numpy, the tail test's alarms and false alarms, anomalies, formats."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from scipy import stats

from bastion.monitor import latency as lat
from bastion.monitor.latency import LatencyProfile


def _latencies(n: int, seed: int, median: float = 0.05, spread: float = 0.5) -> np.ndarray:
    return np.random.default_rng(seed).lognormal(np.log(median), spread, n)


LEVELS = [0.0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1.0]


@pytest.mark.parametrize("n", [7, 1000, 200_000])
def test_grid_quantiles_match_numpy_within_the_resolution(n: int) -> None:
    values = _latencies(n, seed=n)
    profile = LatencyProfile().update(values)
    got, exact = profile.quantiles(LEVELS), np.quantile(values, LEVELS)
    assert np.all(np.abs(np.log(got / exact)) <= np.log(profile.resolution))
    assert got[0] == values.min() and got[-1] == values.max()  # the extremes are kept exactly
    assert profile.resolution == pytest.approx((3600 / 1e-6) ** (1 / 4000))
    assert profile.mean == pytest.approx(values.mean())


def test_values_outside_the_grid_land_in_underflow_and_overflow() -> None:
    values = np.array([0.0, 1e-8, 0.01, 0.02, 5000.0, 7200.0])
    profile = LatencyProfile().update(values)
    counts = profile.counts
    assert counts[0] == 2 and counts[-1] == 2 and profile.n == 6
    assert profile.quantile(0.0) == 0.0 and profile.quantile(1.0) == 7200.0
    assert 3600.0 <= profile.quantile(0.9) <= 7200.0


def test_invalid_reference_latencies_are_counted_and_skipped() -> None:
    profile = LatencyProfile().update([0.1, np.nan, -0.5, np.inf, 0.2])
    assert profile.n == 2 and profile.invalid == 3 and profile.maximum == 0.2


def test_merge_of_partitions_equals_one_update() -> None:
    values = np.concatenate([_latencies(30_000, seed=1), [np.nan, -1.0]])
    whole = LatencyProfile().update(values)
    left, right = LatencyProfile().update(values[:12_345]), LatencyProfile().update(values[12_345:])
    merged = left.merge(right)
    a, b = merged.to_dict(), whole.to_dict()
    assert a.pop("sum") == pytest.approx(b.pop("sum"), rel=1e-12)
    assert a == b
    assert left.n == 12_345  # merge leaves its inputs alone
    with pytest.raises(ValueError, match="grids differ"):
        left.merge(LatencyProfile(bins=100))


@pytest.mark.parametrize("empty", [False, True])
def test_round_trip_through_json(empty: bool) -> None:
    profile = LatencyProfile(low=1e-4, high=60.0, bins=500)
    if not empty:
        profile.update(_latencies(5000, seed=2))
    data = json.loads(json.dumps(profile.to_dict()))
    again = LatencyProfile.from_dict(data)
    assert again == profile and again.to_dict() == data
    if not empty:
        np.testing.assert_array_equal(again.quantiles(LEVELS), profile.quantiles(LEVELS))


@pytest.mark.parametrize(("edit", "key"), [
    (lambda d: d.pop("counts"), "counts"),
    (lambda d: d.update(counts=d["counts"][:-1]), "counts"),
    (lambda d: d["counts"].__setitem__(5, -1), "counts"),
    (lambda d: d.update(bins="4000"), "bins"),
    (lambda d: d.update(low=0.0), "low"),
    (lambda d: d.update(sum=float("inf")), "sum"),
    (lambda d: d.update(min=None), "min"),
    (lambda d: d.update(max=-1.0), "max"),
    (lambda d: d.update(invalid=-2), "invalid"),
    (lambda d: d.update(version=2), "version"),
])
def test_from_dict_names_the_bad_key(edit: Any, key: str) -> None:
    data = LatencyProfile().update(_latencies(100, seed=3)).to_dict()
    edit(data)
    with pytest.raises(ValueError, match=key):
        LatencyProfile.from_dict(data)


# ----------------------------------------------------------------------------- the tail test


def test_same_distribution_rarely_alarms() -> None:
    results = [lat.test_latency(LatencyProfile().update(_latencies(50_000, seed=seed)),
                                _latencies(3000, seed=100 + seed)) for seed in range(20)]
    # Over fresh reference and current samples the test's level is alpha 0.05 (below it through discreteness):
    # about 1 alarm in 20 is expected and 4 or more has probability 1.6%. (For one fixed reference the rate
    # varies with how far its p99 fell from the true one, hence a fresh reference per seed.)
    assert sum(result.drift for result in results) <= 3
    for result in results:
        assert result.name == "latency" and 0.9 < result.effect_size < 1.1  # type: ignore[operator]
        json.dumps(result.to_dict())


def test_accounting_for_the_reference_keeps_false_alarms_at_alpha() -> None:
    """With a reference no larger than the current sample, its own p99 is noisy: a plain binomial test against
    1% ignores that and alarms too often; the beta-binomial test does not."""
    alarms = {True: 0, False: 0}
    for seed in range(200):
        profile = LatencyProfile().update(_latencies(2000, seed=1000 + seed))
        current = _latencies(2000, seed=5000 + seed)
        for account in alarms:
            alarms[account] += lat.test_latency(profile, current, account_for_reference=account).drift
    assert alarms[True] / 200 <= 0.08  # 5% expected; the binomial standard error over 200 runs is 1.5%
    assert alarms[False] > 1.5 * alarms[True]


def test_a_uniform_slowdown_alarms() -> None:
    profile = LatencyProfile().update(_latencies(50_000, seed=5))
    result = lat.test_latency(profile, 1.5 * _latencies(2000, seed=6))
    assert result.drift and result.p_value is not None and result.p_value < 1e-10
    assert result.effect_size == pytest.approx(1.5, rel=0.1)
    assert result.details["current"]["p50"] / result.details["reference"]["p50"] == pytest.approx(1.5, rel=0.05)
    assert result.statistic is not None and result.statistic > 0.05


def test_a_slow_tail_alarms() -> None:
    profile = LatencyProfile().update(_latencies(50_000, seed=7))
    current = _latencies(5000, seed=8)
    current[np.random.default_rng(9).choice(current.size, 100, replace=False)] *= 10  # 2% of requests 10x slower
    result = lat.test_latency(profile, current)
    assert result.drift and result.p_value is not None and result.p_value < 1e-10
    assert result.details["share_above_threshold"] > 0.025
    assert result.details["current"]["p50"] == pytest.approx(result.details["reference"]["p50"], rel=0.05)


def test_tiny_p_values_are_not_floored() -> None:
    """scipy's beta-binomial sf is 1 - cdf and stops near 1e-9; the test's tail sum goes on."""
    n, a, b = 5000, 10_001.0, 990_000.0
    for k in (40, 60, 100, 160):
        exact = stats.betabinom.pmf(np.arange(k, n + 1), n, a, b).sum()
        assert lat._beta_binomial_tail(k, n, a, b) == pytest.approx(exact, rel=1e-6)
    assert lat._beta_binomial_tail(160, n, a, b) < 1e-30


def test_invalid_current_latencies_are_reported_and_the_rest_tested() -> None:
    profile = LatencyProfile().update(_latencies(20_000, seed=10))
    current = np.concatenate([1.5 * _latencies(2000, seed=11), [np.nan, -0.1, np.inf]])
    result = lat.test_latency(profile, current)
    assert result.drift and result.message == "3 of 2003 latencies were NaN, infinite or negative and were left out"
    assert result.details["current"]["n"] == 2000 and result.details["rejected"] == 3
    nothing = lat.test_latency(profile, [np.nan, -1.0])
    assert not nothing.drift and nothing.p_value is None and nothing.message is not None
    assert "2 of 2" in nothing.message


def test_bad_arguments_raise() -> None:
    profile = LatencyProfile().update(_latencies(100, seed=12))
    with pytest.raises(ValueError, match="the reference profile is empty"):
        lat.test_latency(LatencyProfile(), [0.1])
    with pytest.raises(ValueError, match="one-dimensional"):
        lat.test_latency(profile, [[0.1, 0.2]])
    with pytest.raises(ValueError, match="numbers of seconds"):
        profile.update(["fast", "slow"])
    with pytest.raises(ValueError, match="alpha"):
        lat.test_latency(profile, [0.1], alpha=0.0)
    with pytest.raises(ValueError, match="quantile levels"):
        profile.quantiles([0.5, 1.2])
    with pytest.raises(ValueError, match="low < high"):
        LatencyProfile(low=1.0, high=0.5)


# ----------------------------------------------------------------------------- anomalies


def test_anomalies_are_the_very_slow_requests() -> None:
    profile = LatencyProfile().update(_latencies(100_000, seed=13))
    current = _latencies(10_000, seed=14)
    slow = np.array([17, 2500, 9999])
    current[slow] = 10 * profile.quantile(0.999)
    current[[40, 41, 42]] = [np.inf, np.nan, -1.0]
    found = lat.latency_anomalies(profile, current)
    assert set(slow) | {40} <= set(found.tolist())
    assert 41 not in found and 42 not in found
    assert len(found) <= 4 + 2  # ordinary requests past 1.5 x p99.9: about 5 in 100,000 for this spread
    assert lat.latency_anomalies(profile, current, margin=20.0).tolist() == [40]
