"""DriftMonitor end to end: false alarms stay at alpha, power grows with the shift, corrections and effect sizes
behave, schema changes and awkward columns are reported rather than crashing, multivariate tests see what the
per-column tests cannot, and a process pool gives the same answers as one process."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from threadpoolctl import threadpool_limits

from bastion.compute import ProcessPoolExecutor
from bastion.data.files import DataError
from bastion.monitor import ColumnDrift, DatasetTest, DriftMonitor, DriftReport

ALPHA = 0.05


def _mixed(rng: np.random.Generator, rows: int) -> pd.DataFrame:
    """Four columns of different shapes: normal, lognormal, Poisson integers (ties), three categories."""
    return pd.DataFrame({
        "normal": rng.normal(size=rows),
        "lognormal": rng.lognormal(size=rows),
        "poisson": rng.poisson(3, size=rows),
        "category": rng.choice(["a", "b", "c"], size=rows, p=[0.5, 0.3, 0.2]),
    })


def _column(report: DriftReport, name: str) -> ColumnDrift:
    return next(column for column in report.columns if column.name == name)


def _dataset_test(report: DriftReport, name: str) -> DatasetTest:
    return next(test for test in report.dataset_tests if test.name == name)


def test_false_alarm_rate_without_drift_stays_at_alpha() -> None:
    # 100 replicates where reference and current come from the same distribution. With Holm the whole run (four
    # column tests plus the PCA test) alarms with probability at most alpha = 0.05, so the alarm count is at most
    # Binomial(100, 0.05): P(count > 10) is about 1%, hence the bound of 0.10. Under the global null BH's false
    # discovery rate is its family-wise error rate, so the same bound holds for it. Raw per-test rejections
    # (500 tests) should be near 5% too: Binomial(500, 0.05) exceeds 8% with probability about 0.2%.
    rng = np.random.default_rng(2024)
    replicates, alarms, bh_alarms, raw_rejections, raw_tests = 100, 0, 0, 0, 0
    for _ in range(replicates):
        monitor = DriftMonitor(alpha=ALPHA).fit(_mixed(rng, 300))
        current = _mixed(rng, 300)
        report = monitor.test(current)
        alarms += report.drift
        monitor.correction = "bh"
        bh_alarms += monitor.test(current).drift
        p_values = [column.p_value for column in report.columns if column.p_value is not None]
        p_values += [test.p_value for test in report.dataset_tests if test.p_value is not None]
        assert len(p_values) == 5
        raw_rejections += sum(p < ALPHA for p in p_values)
        raw_tests += len(p_values)
    assert alarms / replicates <= 0.10
    assert bh_alarms / replicates <= 0.10
    assert raw_rejections / raw_tests <= 0.08


Draw = Callable[[np.random.Generator, int, float], pd.DataFrame]


def _power(draw: Draw, levels: list[float], null: float, rows: int, replicates: int, seed: int) -> list[float]:
    """Share of replicates flagged as drift, per shift level (``null`` is the reference's level)."""
    result = []
    for level in levels:
        rng = np.random.default_rng([seed, int(level * 1000)])
        hits = 0
        for _ in range(replicates):
            monitor = DriftMonitor(multivariate=False).fit(draw(rng, rows, null))
            hits += monitor.test(draw(rng, rows, level)).drift
        result.append(hits / replicates)
    return result


def _mean_shift(rng: np.random.Generator, rows: int, level: float) -> pd.DataFrame:
    return pd.DataFrame({"x": rng.normal(loc=level, size=rows)})


def _scale_change(rng: np.random.Generator, rows: int, level: float) -> pd.DataFrame:
    return pd.DataFrame({"x": rng.normal(scale=level, size=rows)})


def _share_shift(rng: np.random.Generator, rows: int, level: float) -> pd.DataFrame:
    shares = np.array([0.5 - level, 0.3, 0.2 + level])  # share moves from the first category to the last
    return pd.DataFrame({"x": rng.choice(["a", "b", "c"], size=rows, p=shares)})


@pytest.mark.parametrize(("draw", "null", "levels"), [
    (_mean_shift, 0.0, [0.0, 0.1, 0.2, 0.4]),
    (_scale_change, 1.0, [1.0, 1.1, 1.25, 1.6]),
    (_share_shift, 0.0, [0.0, 0.03, 0.06, 0.12]),
], ids=["mean", "scale", "shares"])
def test_power_grows_with_the_shift_and_reaches_ninety_percent(draw: Draw, null: float, levels: list[float]) -> None:
    power = _power(draw, levels, null, rows=500, replicates=40, seed=17)
    assert power[0] <= 0.15  # no shift: about alpha
    assert all(a <= b for a, b in zip(power, power[1:], strict=False)), power
    assert power[-1] >= 0.9, power
    assert power[-1] - power[0] >= 0.75, power


def test_power_grows_with_the_sample_size() -> None:
    power = [_power(_mean_shift, [0.2], 0.0, rows=rows, replicates=30, seed=rows)[0] for rows in (100, 400, 1600)]
    assert power[0] < power[1] <= power[2], power
    assert power[2] >= 0.9 and power[0] <= 0.6, power


def _many_shifts(rng: np.random.Generator, rows: int, shifts: list[float]) -> pd.DataFrame:
    return pd.DataFrame({f"x{i}": rng.normal(loc=shift, size=rows) for i, shift in enumerate(shifts)})


def test_benjamini_hochberg_finds_at_least_what_holm_finds() -> None:
    shifts = [0.0, 0.0, 0.0, 0.0, 0.05, 0.1, 0.12, 0.15, 0.2, 0.25, 0.3, 0.5]
    holm_total = bh_total = 0
    for seed in range(8):
        rng = np.random.default_rng(seed)
        reference, current = _many_shifts(rng, 400, [0.0] * len(shifts)), _many_shifts(rng, 400, shifts)
        holm = DriftMonitor(correction="holm", multivariate=False).fit(reference).test(current)
        bh = DriftMonitor(correction="bh", multivariate=False).fit(reference).test(current)
        assert set(holm.drifted_columns) <= set(bh.drifted_columns)
        for a, b in zip(holm.columns, bh.columns, strict=True):
            assert a.p_value == b.p_value  # same raw tests, different corrections
            assert a.p_value is not None and b.p_adjusted is not None and a.p_adjusted is not None
            # BH never exceeds Holm; m * p / m may round one ulp under p, hence the relative slack.
            assert a.p_value * (1 - 1e-12) <= b.p_adjusted <= a.p_adjusted * (1 + 1e-12)
        holm_total += len(holm.drifted_columns)
        bh_total += len(bh.drifted_columns)
    assert bh_total > holm_total  # BH is the less strict: over 8 runs it finds strictly more


def test_min_effect_suppresses_tiny_but_significant_drift() -> None:
    rng = np.random.default_rng(3)
    reference = pd.DataFrame({"x": rng.normal(size=40_000)})
    tiny = pd.DataFrame({"x": rng.normal(loc=0.05, size=40_000)})
    large = pd.DataFrame({"x": rng.normal(loc=0.5, size=40_000)})
    plain = DriftMonitor(multivariate=False).fit(reference)
    strict = DriftMonitor(multivariate=False, min_effect=0.1).fit(reference)
    found = _column(plain.test(tiny), "x")
    assert found.drift and found.p_adjusted is not None and found.p_adjusted < 1e-4
    assert found.effect_size is not None and 0.02 < found.effect_size < 0.1
    suppressed = strict.test(tiny)
    assert not suppressed.drift and _column(suppressed, "x").p_adjusted == found.p_adjusted
    flagged = strict.test(large)
    assert flagged.drift and (_column(flagged, "x").effect_size or 0.0) > 0.1


def _schema_reference(rng: np.random.Generator, rows: int = 400) -> pd.DataFrame:
    return pd.DataFrame({"a": rng.normal(size=rows), "b": rng.normal(size=rows),
                         "c": rng.choice(["x", "y", "z"], size=rows)})


def test_missing_column_is_schema_drift_and_new_column_a_warning() -> None:
    rng = np.random.default_rng(8)
    monitor = DriftMonitor().fit(_schema_reference(rng))
    current = _schema_reference(rng).drop(columns=["b"]).assign(extra=1.0)
    report = monitor.test(current)
    missing = _column(report, "b")
    assert report.drift and missing.drift and missing.test == "schema" and "missing" in (missing.message or "")
    extra = _column(report, "extra")
    assert not extra.drift and extra.test == "schema"
    assert any("extra" in warning for warning in report.warnings)
    only_new = monitor.test(_schema_reference(rng).assign(extra=1.0))
    assert not _column(only_new, "extra").drift and any("extra" in warning for warning in only_new.warnings)


def test_numeric_column_turned_text_is_schema_drift() -> None:
    rng = np.random.default_rng(9)
    monitor = DriftMonitor().fit(_schema_reference(rng))
    current = _schema_reference(rng)
    current["a"] = [f"v{value:.2f}" for value in current["a"]]
    changed = _column(monitor.test(current), "a")
    assert changed.drift and changed.test == "schema" and changed.kind == "numeric"
    assert "text" in (changed.message or "")


def test_all_null_columns_compare_their_missing_share() -> None:
    rng = np.random.default_rng(10)
    reference = _schema_reference(rng).assign(empty=None, nan=np.nan)
    monitor = DriftMonitor().fit(reference)
    still_empty = monitor.test(_schema_reference(rng).assign(empty=None, nan=np.nan))
    for name in ("empty", "nan"):
        column = _column(still_empty, name)
        assert not column.drift and column.test == "missing" and column.message
        assert column.reference_missing == column.current_missing == 1.0
    filled = monitor.test(_schema_reference(rng).assign(empty=rng.normal(size=400), nan=np.nan))
    assert _column(filled, "empty").drift and not _column(filled, "nan").drift


def test_missing_and_infinite_values_are_tested_as_a_share() -> None:
    rng = np.random.default_rng(11)
    reference = _schema_reference(rng, 1000)
    reference.loc[::50, "a"] = np.nan  # 2% missing
    monitor = DriftMonitor().fit(reference)
    same = _schema_reference(rng, 1000)
    same.loc[1::50, "a"] = np.nan
    assert not _column(monitor.test(same), "a").drift
    more = _schema_reference(rng, 1000)
    more.loc[::3, "a"] = np.nan  # 33% missing, finite values unchanged
    column = _column(monitor.test(more), "a")
    assert column.drift and column.current_missing == pytest.approx(334 / 1000)
    assert column.metrics["missing_p_adjusted"] < ALPHA
    assert column.p_adjusted is not None and column.p_adjusted > ALPHA  # the distribution itself did not move
    infinite = _schema_reference(rng, 1000)
    infinite.loc[::5, "b"] = np.inf
    infinite.loc[1::50, "a"] = np.nan
    column = _column(monitor.test(infinite), "b")
    assert column.drift and column.current_missing == pytest.approx(0.2)


def test_mixed_type_column_is_unusable_not_a_crash() -> None:
    rng = np.random.default_rng(12)
    reference = _schema_reference(rng).assign(mixed=[1 if i % 2 else "one" for i in range(400)])
    monitor = DriftMonitor().fit(reference)
    report = monitor.test(reference)
    mixed = _column(report, "mixed")
    assert mixed.kind == "unusable" and not mixed.drift and "mixed types" in (mixed.message or "")
    assert not report.drift
    current = _schema_reference(rng)
    current["a"] = [1.5 if i % 2 else "n/a" for i in range(400)]
    changed = _column(DriftMonitor().fit(_schema_reference(rng)).test(current), "a")
    assert changed.drift and changed.test == "schema" and "mixed types" in (changed.message or "")


def test_unseen_categories_are_drift() -> None:
    rng = np.random.default_rng(13)
    monitor = DriftMonitor().fit(_schema_reference(rng))
    current = _schema_reference(rng)
    current.loc[::4, "c"] = "new"
    column = _column(monitor.test(current), "c")
    assert column.drift and column.metrics["unseen_share"] == pytest.approx(0.25)
    assert "never had" in (column.message or "")


def test_bad_inputs_and_options_raise_value_errors() -> None:
    rng = np.random.default_rng(14)
    reference = _schema_reference(rng)
    with pytest.raises(DataError, match="current"):
        DriftMonitor().fit(reference).test(reference.head(0))
    with pytest.raises(DataError, match="reference"):
        DriftMonitor().fit(reference.head(0))
    with pytest.raises(ValueError, match="not fitted"):
        DriftMonitor().test(reference)
    with pytest.raises(ValueError, match="not fitted"):
        DriftMonitor().save("unused.profile")
    for options, field in (({"alpha": 0.0}, "alpha"), ({"alpha": 1.5}, "alpha"), ({"correction": "bonferroni"},
                           "correction"), ({"min_effect": -1.0}, "min_effect"), ({"bins": 1}, "bins")):
        with pytest.raises(ValueError, match=field):
            DriftMonitor(**options).fit(reference)
    fitted = DriftMonitor().fit(reference)
    fitted.alpha = 2.0
    with pytest.raises(ValueError, match="alpha"):
        fitted.test(reference)
    with pytest.raises(DataError, match="DataFrame"):
        DriftMonitor().fit([1, 2, 3])
    with pytest.raises(DataError, match="no column"):
        DriftMonitor(columns=["a", "absent"]).fit(reference)


def _correlated(rng: np.random.Generator, rows: int, broken: bool) -> pd.DataFrame:
    x = rng.normal(size=rows)
    y = rng.normal(size=rows) if broken else x.copy()  # same N(0, 1) marginal either way
    return pd.DataFrame({"x": x, "y": y, "z": rng.normal(size=rows)})


def test_pca_catches_a_correlation_break_the_columns_do_not_show() -> None:
    rng = np.random.default_rng(21)
    monitor = DriftMonitor().fit(_correlated(rng, 1000, broken=False))
    report = monitor.test(_correlated(rng, 1000, broken=True))
    assert report.drift and not report.drifted_columns  # only the dataset-level test sees it
    pca = _dataset_test(report, "pca_reconstruction")
    assert pca.drift and pca.p_adjusted is not None and pca.p_adjusted < ALPHA
    clean = monitor.test(_correlated(rng, 1000, broken=False))
    assert not clean.drift and not _dataset_test(clean, "pca_reconstruction").drift
    without = DriftMonitor(multivariate=False).fit(_correlated(rng, 1000, broken=False))
    assert not without.test(_correlated(rng, 1000, broken=True)).drift


@contextmanager
def one_thread() -> Iterator[None]:
    """Run the domain classifier on one OpenMP thread: on a busy two-core machine its spinning barriers made a
    0.4 s test take 15-90 s. sklearn is imported first because threadpoolctl only limits libraries already loaded."""
    import sklearn.ensemble  # noqa: F401

    with threadpool_limits(limits=1):
        yield


def test_domain_classifier_finds_the_correlation_break(tmp_path: Path) -> None:
    with one_thread():
        _domain_classifier_checks(tmp_path)


def _domain_classifier_checks(tmp_path: Path) -> None:
    rng = np.random.default_rng(22)
    monitor = DriftMonitor(domain_classifier=True, multivariate=False).fit(_correlated(rng, 800, broken=False))
    report = monitor.test(_correlated(rng, 800, broken=True))
    domain = _dataset_test(report, "domain_classifier")
    assert domain.statistic is not None and domain.p_value is not None
    assert domain.statistic > 0.6 and domain.p_value < ALPHA and domain.drift
    assert report.drift and not report.drifted_columns
    assert set(domain.details["top_features"]) >= {"x", "y"}
    clean = monitor.test(_correlated(rng, 800, broken=False))
    assert not clean.drift and not _dataset_test(clean, "domain_classifier").drift
    # The classifier needs reference rows: a profile saved without them says so, one saved with them works.
    monitor.save(tmp_path / "rowless.profile")
    rowless = DriftMonitor.from_profile(tmp_path / "rowless.profile", domain_classifier=True)
    message = _dataset_test(rowless.test(_correlated(rng, 800, broken=True)), "domain_classifier").message
    assert message is not None and "sample" in message
    monitor.save(tmp_path / "sampled.profile", include_sample=True)
    sampled = DriftMonitor.from_profile(tmp_path / "sampled.profile", domain_classifier=True)
    assert _dataset_test(sampled.test(_correlated(rng, 800, broken=True)), "domain_classifier").drift


def _partitioned(frame: pd.DataFrame, folder: Path, parts: int) -> Path:
    folder.mkdir()
    for index, rows in enumerate(np.array_split(np.arange(len(frame)), parts)):
        pq.write_table(pa.Table.from_pandas(frame.iloc[rows], preserve_index=False), folder / f"{index}.parquet")
    return folder


def test_process_pool_gives_the_same_report_as_one_process(tmp_path: Path) -> None:
    rng = np.random.default_rng(30)
    reference = _partitioned(_mixed(rng, 3000), tmp_path / "reference", 3)
    current_frame = _mixed(rng, 1500)
    current_frame["normal"] += 0.2
    current = _partitioned(current_frame, tmp_path / "current", 2)
    settings: dict[str, Any] = {"bins": 50, "exact_limit": 500, "sample_rows": 1000}
    local = DriftMonitor(**settings).fit(reference).test(current)
    with ProcessPoolExecutor(2) as executor:
        pooled = DriftMonitor(**settings, executor=executor).fit(reference).test(current)
    assert pooled.to_dict() == local.to_dict()
    assert local.drifted_columns == ("normal",)


def test_domain_classifier_takes_a_column_with_many_categories() -> None:
    """Over 255 categories the booster cannot split natively: the codes are used as numbers instead of failing."""
    rng = np.random.default_rng(5)
    labels = np.array([f"id{i}" for i in range(600)])

    def frame(shift: float, seed: int) -> pd.DataFrame:
        r = np.random.default_rng(seed)
        return pd.DataFrame({"x": r.normal(shift, 1, 1500), "code": r.choice(labels, 1500)})

    monitor = DriftMonitor(domain_classifier=True, multivariate=False, seed=int(rng.integers(100))).fit(frame(0, 1))
    clean = {test.name: test for test in monitor.test(frame(0, 2)).dataset_tests}["domain_classifier"]
    shifted = {test.name: test for test in monitor.test(frame(1.0, 3)).dataset_tests}["domain_classifier"]
    assert clean.message is None and not clean.drift
    assert shifted.drift and shifted.statistic is not None and shifted.statistic > 0.6


def test_many_rare_categories_raise_no_false_alarm() -> None:
    """600 categories in 1,500 rows: most cells are rare. Pooling chosen from the reference's own counts kept the
    categories it happened to see often, which regress in any other sample (p = 1e-6 on clean data)."""
    labels = np.array([f"id{i}" for i in range(600)])
    alarms = 0
    for seed in range(20):
        rng = np.random.default_rng(seed)
        reference = pd.DataFrame({"code": rng.choice(labels, 1500)})
        current = pd.DataFrame({"code": rng.choice(labels, 1500)})
        alarms += DriftMonitor(multivariate=False).fit(reference).test(current).drift
    assert alarms <= 3  # 20 draws at alpha 0.05: P(more than 3) is about 1.6%


def test_model_tests_use_the_probabilities_when_the_prediction_column_is_gone() -> None:
    def frame(n: int, seed: int) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        x = rng.normal(size=n)
        p = 1 / (1 + np.exp(-2 * x))
        return pd.DataFrame({"x": x, "y": (rng.random(n) < p).astype(int), "pred": (p > 0.5).astype(int), "p": p})

    monitor = DriftMonitor(target="y", prediction="pred", probability=["p"]).fit(frame(5000, 1))
    with_column = {test.name: test for test in monitor.test(frame(2000, 2)).dataset_tests}
    without = {test.name: test for test in monitor.test(frame(2000, 2).drop(columns=["pred"])).dataset_tests}
    assert set(without) == {"performance", "estimated_performance"}
    # The derived predictions are the ones the column held (p > 0.5), so the results agree.
    assert without["performance"].details["current"] == with_column["performance"].details["current"]
