"""Reference profiles: the binned KS test is never bolder than the exact one, partitions merge exactly, and the
profile file round-trips, holds no rows, and is read defensively."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy import stats as scipy_stats
from threadpoolctl import threadpool_limits

from bastion.data.files import DataError
from bastion.monitor import DatasetProfile, DriftMonitor
from bastion.monitor import dataset as dataset_module
from bastion.monitor.profile import NumericProfile

SMALL: dict[str, Any] = {"bins": 50, "exact_limit": 500, "multivariate": False}
"""Profile settings that send a few thousand rows down the binned path."""


def _draw(rng: np.random.Generator, kind: str, size: int, shift: float) -> np.ndarray:
    if kind == "normal":
        return rng.normal(loc=shift, size=size)
    if kind == "lognormal":
        return rng.lognormal(mean=shift, size=size)
    if kind == "integers":  # heavy ties: fewer distinct values than bins
        return rng.poisson(4 + 3 * shift, size=size).astype(np.float64)
    return np.round(rng.standard_t(3, size=size) + shift, 1)  # many ties, more distinct values than bins


def _column(report: Any, name: str) -> Any:
    return next(column for column in report.columns if column.name == name)


def test_binned_ks_is_never_bolder_than_the_exact_test() -> None:
    rng = np.random.default_rng(20240601)
    for trial in range(48):
        kind = ("normal", "lognormal", "integers", "rounded")[trial % 4]
        n, m = int(rng.integers(600, 4000)), int(rng.integers(50, 4000))
        shift = float(rng.choice([0.0, 0.0, 0.05, 0.2, 1.0]))
        reference, current = _draw(rng, kind, n, 0.0), _draw(rng, kind, m, shift)
        sample_rows = 300 if trial % 3 == 0 else 65_536  # edges from a subsample or from every value
        monitor = DriftMonitor(**SMALL, seed=trial, sample_rows=sample_rows).fit(pd.DataFrame({"x": reference}))
        profile = monitor.profile_.columns["x"]  # type: ignore[union-attr]
        assert isinstance(profile, NumericProfile) and not profile.exact
        result = _column(monitor.test(pd.DataFrame({"x": current})), "x")
        exact = scipy_stats.ks_2samp(reference, current)
        assert result.test == "ks"
        assert result.statistic <= exact.statistic + 1e-12, (trial, kind, n, m, shift)
        assert result.p_value >= exact.pvalue * (1 - 1e-9), (trial, kind, n, m, shift)


def test_binned_ks_still_detects_a_clear_shift() -> None:
    rng = np.random.default_rng(7)
    reference, current = rng.normal(size=3000), rng.normal(loc=0.3, size=2000)
    monitor = DriftMonitor(**SMALL).fit(pd.DataFrame({"x": reference}))
    result = _column(monitor.test(pd.DataFrame({"x": current})), "x")
    exact = scipy_stats.ks_2samp(reference, current)
    assert result.drift and result.p_value < 1e-6
    assert result.statistic >= 0.9 * exact.statistic  # 50 quantile bins lose little of the distance


@pytest.mark.parametrize(("n", "m"), [(300, 200), (800, 2500), (1000, 1000)])
def test_exact_mode_is_scipy_exactly(n: int, m: int) -> None:
    rng = np.random.default_rng(n * m)
    reference = rng.normal(size=n)
    current = rng.normal(loc=0.1, size=m)
    monitor = DriftMonitor(multivariate=False).fit(pd.DataFrame({"x": reference}))
    assert monitor.profile_ is not None and monitor.profile_.columns["x"].exact  # type: ignore[union-attr]
    result = _column(monitor.test(pd.DataFrame({"x": current})), "x")
    exact = scipy_stats.ks_2samp(reference, current)
    assert (result.statistic, result.p_value) == (exact.statistic, exact.pvalue)


def test_exact_mode_collects_values_the_row_sample_missed(tmp_path: Path) -> None:
    # 900 values <= exact_limit, but the row sample holds 200: pass two collects the rest from the partitions.
    rng = np.random.default_rng(4)
    reference, current = rng.normal(size=900), rng.normal(loc=0.15, size=400)
    _write_partitions(pd.DataFrame({"x": reference}), tmp_path / "parts", 3)
    monitor = DriftMonitor(multivariate=False, exact_limit=1000, sample_rows=200).fit(tmp_path / "parts")
    profile = monitor.profile_.columns["x"]  # type: ignore[union-attr]
    assert isinstance(profile, NumericProfile) and profile.values is not None
    assert np.array_equal(profile.values, np.sort(reference))
    result = _column(monitor.test(pd.DataFrame({"x": current})), "x")
    exact = scipy_stats.ks_2samp(reference, current)
    assert (result.statistic, result.p_value) == (exact.statistic, exact.pvalue)


def test_exact_reference_with_a_large_current_sample_matches_scipy() -> None:
    # The current side exceeds the exact limit, so the test runs from counts at (and just below) every reference
    # value; that is still the exact distance, with scipy's asymptotic p-value.
    rng = np.random.default_rng(11)
    reference = np.round(rng.normal(size=700), 2)
    current = np.round(rng.normal(loc=0.05, size=12_000), 2)
    monitor = DriftMonitor(multivariate=False).fit(pd.DataFrame({"x": reference}))
    result = _column(monitor.test(pd.DataFrame({"x": current})), "x")
    exact = scipy_stats.ks_2samp(reference, current)
    assert result.statistic == pytest.approx(exact.statistic, abs=1e-12)
    assert result.p_value == pytest.approx(exact.pvalue, rel=1e-9)


def _frame(rng: np.random.Generator, rows: int, shift: float = 0.0) -> pd.DataFrame:
    return pd.DataFrame({
        "normal": rng.normal(loc=shift, size=rows),
        "skewed": rng.lognormal(size=rows),
        "count": rng.poisson(3, size=rows),
        "colour": rng.choice(["red", "green", "blue"], size=rows, p=[0.5, 0.3, 0.2]),
    })


def _write_partitions(frame: pd.DataFrame, folder: Path, parts: int) -> None:
    folder.mkdir()
    for index, chunk in enumerate(np.array_split(np.arange(len(frame)), parts)):
        pq.write_table(pa.Table.from_pandas(frame.iloc[chunk], preserve_index=False), folder / f"part-{index}.parquet")


def _assert_counts_exact(profile: DatasetProfile, frame: pd.DataFrame) -> None:
    for name, column in profile.columns.items():
        if not isinstance(column, NumericProfile):
            continue
        values = np.sort(frame[name].to_numpy(np.float64))
        assert np.all(np.diff(column.edges) > 0)
        assert np.array_equal(column.counts_le, np.searchsorted(values, column.edges, side="right")), name
        assert column.count == values.size


@pytest.mark.parametrize("sample_rows", [100_000, 700])
def test_partitioned_reference_profiles_like_one_file(tmp_path: Path, sample_rows: int) -> None:
    rng = np.random.default_rng(5)
    reference = _frame(rng, 3000)
    pq.write_table(pa.Table.from_pandas(reference, preserve_index=False), tmp_path / "whole.parquet")
    _write_partitions(reference, tmp_path / "parts", 3)
    settings: dict[str, Any] = {**SMALL, "multivariate": True, "sample_rows": sample_rows}
    whole = DriftMonitor(**settings).fit(tmp_path / "whole.parquet")
    parted = DriftMonitor(**settings).fit(tmp_path / "parts")
    assert whole.profile_ is not None and parted.profile_ is not None
    assert whole.profile_.rows == parted.profile_.rows == 3000
    _assert_counts_exact(whole.profile_, reference)
    _assert_counts_exact(parted.profile_, reference)
    assert parted.profile_.columns["colour"] == whole.profile_.columns["colour"]
    for name in ("normal", "skewed", "count"):
        a, b = whole.profile_.columns[name], parted.profile_.columns[name]
        assert isinstance(a, NumericProfile) and isinstance(b, NumericProfile)
        assert (a.count, a.missing, a.minimum, a.maximum) == (b.count, b.missing, b.minimum, b.maximum)
        assert a.mean == pytest.approx(b.mean, rel=1e-12) and a.std == pytest.approx(b.std, rel=1e-12)
    for shift in (0.0, 0.4):
        current = _frame(np.random.default_rng(6), 1500, shift)
        report_whole, report_parted = whole.test(current), parted.test(current)
        assert report_whole.drift == report_parted.drift == (shift > 0)
        assert report_whole.drifted_columns == report_parted.drifted_columns
        for one, parts in zip(report_whole.columns, report_parted.columns, strict=True):
            assert one.statistic is not None and parts.statistic is not None
            if sample_rows >= 3000:  # every row sampled: the same edges, hence the same results
                assert one.statistic == pytest.approx(parts.statistic, abs=1e-12)
                assert one.p_value == pytest.approx(parts.p_value, rel=1e-9, abs=1e-300)
            elif one.test == "ks":  # edges come from different samples: both distances are lower bounds of the
                # exact one, short of it by at most about the mass of a bin (1/50 of each sample, plus sampling noise)
                exact = scipy_stats.ks_2samp(reference[one.name], current[one.name]).statistic
                low, high = sorted((one.statistic, parts.statistic))
                assert exact - 0.06 <= low <= high <= exact + 1e-12
    if sample_rows >= 3000:
        for name in ("normal", "skewed", "count"):
            a, b = whole.profile_.columns[name], parted.profile_.columns[name]
            assert isinstance(a, NumericProfile) and isinstance(b, NumericProfile)
            assert np.array_equal(a.edges, b.edges) and np.array_equal(a.counts_le, b.counts_le)


def test_save_and_load_give_identical_reports(tmp_path: Path) -> None:
    rng = np.random.default_rng(9)
    reference = _frame(rng, 2000)
    reference.loc[::17, "normal"] = np.nan
    monitor = DriftMonitor(bins=50, exact_limit=500).fit(reference)
    path = tmp_path / "reference.profile"
    monitor.save(path)
    loaded = DriftMonitor.from_profile(path)
    assert DriftMonitor.from_profile(str(path)).profile_ is not None
    for shift in (0.0, 0.3):
        current = _frame(np.random.default_rng(10), 800, shift)
        assert loaded.test(current).to_dict() == monitor.test(current).to_dict()
    # Saving the loaded profile again writes the same file.
    again = tmp_path / "again.profile"
    loaded.save(again)
    assert json.loads(again.read_text()) == json.loads(path.read_text())


@pytest.mark.parametrize("with_times", [False, True], ids=["plain", "timestamps"])
def test_saved_row_sample_gives_the_same_domain_classifier(tmp_path: Path, with_times: bool) -> None:
    # The kept sample must come back with its types: a timestamp read back as a different number (epoch
    # milliseconds instead of nanoseconds) lets the classifier tell every reference row from every current row.
    rng = np.random.default_rng(15)

    def draw(rows: int) -> pd.DataFrame:
        frame = _frame(rng, rows)
        if with_times:
            frame["when"] = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 1000, rows), unit="min")
        return frame

    monitor = DriftMonitor(domain_classifier=True).fit(draw(600))
    path = tmp_path / "sampled.profile"
    monitor.save(path, include_sample=True)
    loaded = DriftMonitor.from_profile(path, domain_classifier=True)
    current = draw(400)
    import sklearn.ensemble  # noqa: F401 - loads OpenMP, so that threadpool_limits reaches it

    with threadpool_limits(limits=1):  # one thread: OpenMP's spinning barriers crawl on a busy two-core machine
        expected, got = monitor.test(current), loaded.test(current)
    assert not expected.drift
    assert got.to_dict() == expected.to_dict()


def test_binned_profile_holds_no_rows(tmp_path: Path) -> None:
    rng = np.random.default_rng(12)
    reference = _frame(rng, 2000)
    monitor = DriftMonitor(bins=50, exact_limit=500).fit(reference)
    path = tmp_path / "reference.profile"
    monitor.save(path)
    data = json.loads(path.read_text())
    assert data["format"] == "bastion-drift-profile" and "sample" not in data
    for name in ("normal", "skewed"):
        column = data["columns"][name]
        assert "values" not in column and len(column["edges"]) <= 49
    # Far fewer distinct reference numbers in the file than in the data.
    written = set(json.dumps(data["columns"]["normal"]).replace("[", ",").replace("]", ",").split(","))
    assert sum(repr(value) in written for value in reference["normal"].tolist()) <= 50
    with_sample = tmp_path / "sampled.profile"
    monitor.save(with_sample, include_sample=True)
    assert len(json.loads(with_sample.read_text())["sample"]["data"]) == 2000
    small = DriftMonitor(multivariate=False).fit(reference.head(300))
    small.save(tmp_path / "small.profile")
    column = json.loads((tmp_path / "small.profile").read_text())["columns"]["normal"]
    assert len(column["values"]) == 300 and "edges" not in column  # exact mode keeps values, documented


def _valid_profile(tmp_path: Path) -> dict[str, Any]:
    rng = np.random.default_rng(13)
    monitor = DriftMonitor(bins=20, exact_limit=100).fit(_frame(rng, 600))
    path = tmp_path / "valid.profile"
    monitor.save(path)
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _load_error(tmp_path: Path, data: Any) -> str:
    path = tmp_path / "bad.profile"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    with pytest.raises(DataError) as caught:
        DatasetProfile.load(path)
    message = str(caught.value)
    assert str(path) in message
    return message


def test_load_rejects_malformed_profiles_naming_the_field(tmp_path: Path) -> None:
    valid = _valid_profile(tmp_path)
    assert "format" in _load_error(tmp_path, {**valid, "format": "something-else"})
    assert "format" in _load_error(tmp_path, [1, 2, 3])
    assert "version" in _load_error(tmp_path, {**valid, "version": 99})
    unsorted = json.loads(json.dumps(valid))
    unsorted["columns"]["normal"]["edges"] = unsorted["columns"]["normal"]["edges"][::-1]
    assert "columns.normal" in (message := _load_error(tmp_path, unsorted)) and "edges" in message
    short = json.loads(json.dumps(valid))
    short["columns"]["normal"]["counts_le"] = short["columns"]["normal"]["counts_le"][:-1]
    assert "edges" in _load_error(tmp_path, short)
    negative = json.loads(json.dumps(valid))
    negative["columns"]["normal"]["counts_le"][0] = -1
    assert "columns.normal" in (message := _load_error(tmp_path, negative)) and "counts_le" in message
    too_many = json.loads(json.dumps(valid))
    too_many["columns"]["normal"]["counts_le"][-1] = too_many["columns"]["normal"]["count"] + 1
    assert "counts_le" in _load_error(tmp_path, too_many)
    negative_category = json.loads(json.dumps(valid))
    negative_category["columns"]["colour"]["counts"]["red"] = -4
    assert "columns.colour" in (message := _load_error(tmp_path, negative_category)) and "negative" in message
    no_field = json.loads(json.dumps(valid))
    del no_field["columns"]["skewed"]["std"]
    assert "columns.skewed" in (message := _load_error(tmp_path, no_field)) and "std" in message
    wrong_kind = json.loads(json.dumps(valid))
    wrong_kind["columns"]["count"]["kind"] = "vector"
    assert "columns.count.kind" in _load_error(tmp_path, wrong_kind)
    text = json.dumps(valid)
    assert "invalid JSON" in _load_error(tmp_path, text[: len(text) // 2])
    not_finite = text.replace("\"edges\": [", "\"edges\": [NaN, ", 1)
    assert "edges" in _load_error(tmp_path, not_finite)


def test_load_rejects_negative_counts_and_spreads(tmp_path: Path) -> None:
    # Accepted, these crash test() later with scipy's "All values in `table` must be nonnegative", naming nothing.
    valid = _valid_profile(tmp_path)
    for column, field in (("normal", "missing"), ("normal", "posinf"), ("normal", "neginf"), ("colour", "missing"),
                          ("normal", "std")):
        bad = json.loads(json.dumps(valid))
        bad["columns"][column][field] = -3
        message = _load_error(tmp_path, bad)
        assert f"columns.{column}" in message and field in message, message
    assert "rows" in _load_error(tmp_path, {**valid, "rows": -10})


def test_load_refuses_oversized_profiles_before_parsing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "big.profile"
    path.write_text(json.dumps(_valid_profile(tmp_path)))
    monkeypatch.setattr(dataset_module, "MAX_PROFILE_BYTES", 100)
    with pytest.raises(DataError, match="larger than"):
        DatasetProfile.load(path)
    with pytest.raises(DataError, match="cannot be read"):
        DatasetProfile.load(tmp_path / "absent.profile")
