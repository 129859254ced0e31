"""Online drift detectors: ERT calibration, detection delay, update/update_many agreement, validation."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from bastion.monitor.online import (
    CusumDetector,
    OnlineDetectorError,
    WindowedBinDetector,
    calibrate_for_columns,
)

UNIFORM10 = np.full(10, 0.1)
CATEGORIES = np.array([0.5, 0.3, 0.15, 0.03, 0.02, 0.0])  # last bin: "unseen"


def _run_length(alarms: np.ndarray[Any, Any], n: int) -> float:
    """Mean observations per alarm over a long no-drift stream."""
    assert alarms.size >= 50, "too few alarms for a run-length estimate"
    return n / alarms.size


def _mean_delay(detector: WindowedBinDetector | CusumDetector, before: Callable[[np.random.Generator, int], Any],
                after: Callable[[np.random.Generator, int], Any], runs: int = 20) -> tuple[float, float]:
    """Mean and worst number of post-change observations up to the first alarm after a change at step 300."""
    delays = []
    for run in range(runs):
        rng = np.random.default_rng(500 + run)
        detector.reset()
        detector.update_many(before(rng, 300))
        alarms = detector.update_many(after(rng, 5_000))
        delays.append(alarms[0] + 1 if alarms.size else math.inf)
    return float(np.mean(delays)), float(np.max(delays))


# -- false alarms under no drift ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("p", "window", "ert"), [(UNIFORM10, 50, 1_000), (CATEGORIES, 100, 2_000)])
def test_windowed_run_length_matches_requested_ert(p: np.ndarray[Any, Any], window: int, ert: int) -> None:
    detector = WindowedBinDetector(window, ert, seed=11).fit(p)
    assert detector.ert_estimate >= ert
    stream = np.random.default_rng(2024).choice(p.size, size=300 * ert, p=p)
    measured = _run_length(detector.update_many(stream), stream.size)
    assert 0.6 * ert <= measured <= 2 * ert


@pytest.mark.parametrize("side", ["both", "up"])
def test_cusum_run_length_on_lognormal_data(side: str) -> None:
    # a large reference: with heavy tails the bootstrap pool itself varies much from sample to sample
    reference = np.random.default_rng(1).lognormal(0.0, 1.0, 100_000)
    detector = CusumDetector(1_000, side=side, seed=3).fit(reference)  # type: ignore[arg-type]
    fresh = np.random.default_rng(2).lognormal(0.0, 1.0, 300_000)
    measured = _run_length(detector.update_many(fresh), fresh.size)
    assert 600 <= measured <= 2_000


def test_cusum_bootstrap_raises_threshold_for_skewed_data() -> None:
    rng = np.random.default_rng(4)
    normal = CusumDetector(1_000, side="up").fit(rng.normal(size=50_000))
    skewed = CusumDetector(1_000, side="up").fit(rng.lognormal(0.0, 1.0, 50_000))
    # the same standardised threshold would alarm far too often on a heavy right tail
    assert skewed.threshold > 1.5 * normal.threshold


def test_union_bound_keeps_overall_rate() -> None:
    overall, columns, n = 250, 4, 200_000
    per_column = calibrate_for_columns(overall, columns)
    assert per_column == overall * columns
    reference = np.random.default_rng(5).normal(size=20_000)
    detectors = [CusumDetector(per_column, seed=i).fit(reference) for i in range(columns)]
    streams = np.random.default_rng(6).normal(size=(columns, n))
    alarm_steps = np.unique(np.concatenate([d.update_many(s) for d, s in zip(detectors, streams, strict=True)]))
    assert n / alarm_steps.size >= 0.6 * overall


def test_extrapolated_threshold_is_conservative_for_chi_square() -> None:
    p = np.full(8, 1 / 8)
    detector = WindowedBinDetector(50, 20_000, seed=1, max_steps=400_000).fit(p)
    assert detector.calibration_.extrapolated
    stream = np.random.default_rng(7).choice(8, size=2_000_000, p=p)
    measured = _run_length(detector.update_many(stream), stream.size)
    assert 0.6 * 20_000 <= measured <= 3 * 20_000


# -- detection ----------------------------------------------------------------------------------------------------


def test_windowed_detects_category_share_doubling() -> None:
    p, q = np.full(5, 0.2), np.array([0.4, 0.15, 0.15, 0.15, 0.15])
    detector = WindowedBinDetector(100, 2_000, seed=0).fit(p)
    mean, worst = _mean_delay(detector, lambda r, n: r.choice(5, n, p=p), lambda r, n: r.choice(5, n, p=q))
    assert mean < 1.5 * detector.window
    assert worst < 3 * detector.window


def test_windowed_detects_unseen_category_burst() -> None:
    q = np.array([0.45, 0.25, 0.15, 0.03, 0.02, 0.10])
    detector = WindowedBinDetector(100, 2_000, seed=0).fit(CATEGORIES)
    mean, worst = _mean_delay(detector, lambda r, n: r.choice(6, n, p=CATEGORIES), lambda r, n: r.choice(6, n, p=q))
    assert mean < 1.5 * detector.window
    assert worst < 3 * detector.window


@pytest.mark.parametrize(("side", "shift"), [("both", 1.0), ("both", -1.0), ("up", 1.0)])
def test_cusum_detects_one_sigma_shift(side: str, shift: float) -> None:
    detector = CusumDetector(1_000, side=side, seed=0).fit(np.random.default_rng(8).normal(size=20_000))  # type: ignore[arg-type]
    mean, worst = _mean_delay(detector, lambda r, n: r.normal(0, 1, n), lambda r, n: r.normal(shift, 1, n))
    assert mean < 25
    assert worst < 100


def test_one_sided_cusum_ignores_the_other_direction() -> None:
    detector = CusumDetector(1_000, side="up", seed=0).fit(np.random.default_rng(8).normal(size=20_000))
    assert detector.update_many(np.random.default_rng(9).normal(-2.0, 1.0, 20_000)).size == 0


# -- exactness and state ------------------------------------------------------------------------------------------


def _split_feed(detector: WindowedBinDetector | CusumDetector, data: np.ndarray[Any, Any], seed: int) -> list[int]:
    cuts = np.sort(np.random.default_rng(seed).choice(np.arange(1, data.size), 30, replace=False))
    alarms: list[int] = []
    for start, stop in zip(np.r_[0, cuts], np.r_[cuts, data.size], strict=True):
        alarms += (detector.update_many(data[start:stop]) + start).tolist()
    return alarms


def test_windowed_update_and_update_many_agree() -> None:
    p = np.array([0.3, 0.2, 0.2, 0.1, 0.1, 0.05, 0.03, 0.02, 0.0])
    q = np.array([0.1, 0.2, 0.2, 0.1, 0.1, 0.05, 0.03, 0.02, 0.2])
    rng = np.random.default_rng(10)
    data = np.concatenate([rng.choice(9, 4_000, p=p), rng.choice(9, 3_000, p=q), rng.choice(9, 4_000, p=p)])
    one, many = WindowedBinDetector(50, 1_000).fit(p), WindowedBinDetector(50, 1_000).fit(p)
    singles = [i for i, b in enumerate(data.tolist()) if one.update(b)]
    assert len(singles) > 20
    assert np.all(np.diff(singles) >= one.window)  # an alarm empties the window
    assert _split_feed(many, data, 1) == singles
    assert many.statistic == one.statistic


def test_cusum_update_and_update_many_agree() -> None:
    rng = np.random.default_rng(11)
    reference = rng.lognormal(0.0, 1.0, 20_000)
    data = np.concatenate([rng.lognormal(0.0, 1.0, 4_000), rng.lognormal(0.7, 1.0, 3_000),
                           rng.lognormal(0.0, 1.0, 4_000)])
    one, many = CusumDetector(500).fit(reference), CusumDetector(500).fit(reference)
    singles = [i for i, x in enumerate(data.tolist()) if one.update(x)]
    assert len(singles) > 100
    assert _split_feed(many, data, 2) == singles
    assert many.statistic == one.statistic


def test_windowed_statistic_is_pearson_chi_square() -> None:
    p = np.array([0.4, 0.3, 0.2, 0.1])
    detector = WindowedBinDetector(50, 1_000).fit(p)  # smallest expected count: 5, so no pooling
    window = np.random.default_rng(12).choice(4, 49, p=p)
    detector.update_many(window)
    assert math.isnan(detector.statistic)  # not full yet
    detector.update(0)
    counts = np.bincount(np.r_[window, 0], minlength=4)
    expected = float(np.sum((counts - 50 * p) ** 2 / (50 * p)))
    assert detector.statistic == pytest.approx(expected, rel=1e-9, abs=1e-9)


def test_tiny_bins_are_pooled() -> None:
    pooled = WindowedBinDetector(100, 1_000).fit(CATEGORIES)  # expected counts 50, 30, 15, 3, 2, 0
    assert pooled.cell_of_bin.tolist() == [0, 1, 2, 3, 3, 3]
    assert pooled.cell_probabilities == pytest.approx([0.5, 0.3, 0.15, 0.05])
    # the pooled cell would expect 2 per window: it joins the smallest regular bin
    joined = WindowedBinDetector(100, 1_000).fit([0.5, 0.3, 0.18, 0.02])
    assert joined.cell_of_bin.tolist() == [0, 1, 2, 2]
    with pytest.raises(OnlineDetectorError, match="fewer than two cells"):
        WindowedBinDetector(10, 1_000).fit(np.full(10, 0.1))


def test_same_seed_same_detector() -> None:
    first, second = WindowedBinDetector(50, 1_000, seed=7).fit(UNIFORM10), WindowedBinDetector(50, 1_000, seed=7)
    assert first.calibration_ == second.fit(UNIFORM10).calibration_
    reference = np.random.default_rng(13).normal(size=5_000)
    assert CusumDetector(1_000, seed=7).fit(reference).calibration_ == CusumDetector(1_000, seed=7).fit(
        reference).calibration_


# -- validation ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"window": 9}, "window"),
    ({"window": 20.0}, "window"),
    ({"window": 50, "ert": 50}, "ert"),
    ({"ert": math.inf}, "ert"),
    ({"seed": -1}, "seed"),
    ({"n_simulations": 10}, "n_simulations"),
    ({"min_expected": 0}, "min_expected"),
])
def test_windowed_rejects_bad_parameters(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(OnlineDetectorError, match=message):
        WindowedBinDetector(**kwargs)


@pytest.mark.parametrize(("p", "message"), [
    ([1.0], "2 bins"),
    ([[0.5, 0.5]], "1-D"),
    ([0.5, math.nan], "finite"),
    ([1.2, -0.2], "non-negative"),
    ([0.5, 0.4], "sum to 1"),
    (["a", "b"], "numbers"),
])
def test_windowed_rejects_bad_probabilities(p: Any, message: str) -> None:
    with pytest.raises(OnlineDetectorError, match=message):
        WindowedBinDetector(20, 100).fit(p)


def test_windowed_rejects_bad_observations() -> None:
    detector = WindowedBinDetector(20, 100)
    with pytest.raises(OnlineDetectorError, match="fit"):
        detector.update(0)
    detector.fit([0.5, 0.5])
    for bad in (2, -1, 0.0, True):
        with pytest.raises(OnlineDetectorError, match="bin_index"):
            detector.update(bad)  # type: ignore[arg-type]
    with pytest.raises(OnlineDetectorError, match="integer"):
        detector.update_many(np.array([0.0, 1.0]))
    with pytest.raises(OnlineDetectorError, match="in \\[0, 2\\)"):
        detector.update_many(np.array([0, 2]))
    assert detector.update_many(np.array([], dtype=np.int64)).size == 0


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"ert": 5}, "ert"),
    ({"k": -0.1}, "k"),
    ({"side": "left"}, "side"),
    ({"n_simulations": 0}, "n_simulations"),
    ({"max_steps": 100}, "max_steps"),
])
def test_cusum_rejects_bad_parameters(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(OnlineDetectorError, match=message):
        CusumDetector(**kwargs).fit(np.random.default_rng(0).normal(size=100))


def test_cusum_rejects_bad_reference_and_values() -> None:
    with pytest.raises(OnlineDetectorError, match=">= 30 values"):
        CusumDetector(100).fit(np.ones(10))
    with pytest.raises(OnlineDetectorError, match="no spread"):
        CusumDetector(100).fit(np.ones(100))
    with pytest.raises(OnlineDetectorError, match="finite"):
        CusumDetector(100).fit(np.r_[np.ones(100), math.nan])
    detector = CusumDetector(100).fit(np.random.default_rng(0).normal(size=100))
    with pytest.raises(OnlineDetectorError, match="value"):
        detector.update(math.inf)
    with pytest.raises(OnlineDetectorError, match="finite"):
        detector.update_many(np.array([0.0, math.nan]))


def test_calibrate_for_columns_rejects_bad_input() -> None:
    with pytest.raises(OnlineDetectorError, match="n_columns"):
        calibrate_for_columns(1_000, 0)
    with pytest.raises(OnlineDetectorError, match="ert"):
        calibrate_for_columns(math.nan, 3)
