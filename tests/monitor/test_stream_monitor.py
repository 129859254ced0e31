"""``StreamMonitor`` over a fitted profile, and ``bastion drift watch``: alarms after a change point, few before."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from _cli import run_bastion
from bastion.monitor import DriftMonitor
from bastion.monitor.streaming import CategoryBinner, StreamMonitor


def _rows(n: int, seed: int, shift: float = 0.0, colours: tuple[str, ...] = ("red", "green", "blue")) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"amount": rng.normal(shift, 1, n), "colour": rng.choice(colours, n),
                         "latency": rng.lognormal(-3 + shift, 0.4, n)})


def test_stream_monitor_is_quiet_before_a_change_point_and_alarms_soon_after() -> None:
    profile = DriftMonitor(latency="latency").fit(_rows(20_000, 1)).profile_
    assert profile is not None
    stream = StreamMonitor(profile, window=100, ert=2_000, seed=3)
    before = stream.update(_rows(4_000, 2))  # two expected false alarms at ert 2,000
    after = stream.update(_rows(1_000, 4, shift=1.0))
    assert len(before) <= 8
    assert after and after[0].row - 4_000 < 300
    assert {alarm.column for alarm in after} >= {"amount", "latency"}
    assert {alarm.detector for alarm in after if alarm.column == "latency"} == {"cusum"}
    assert [alarm.row for alarm in after] == sorted(alarm.row for alarm in after)


def test_category_bins_spell_values_as_the_profile_does() -> None:
    import pyarrow as pa

    profile = DriftMonitor(multivariate=False).fit(pd.DataFrame({"flag": [True, False, True] * 100})).profile_
    assert profile is not None
    binner = CategoryBinner(profile.columns["flag"])  # type: ignore[arg-type]
    other = len(binner.labels)
    assert binner.bins(pa.array([True, False, None])).tolist() == [binner.labels["true"], binner.labels["false"],
                                                                    other]


def test_drift_watch_command(tmp_path: Path) -> None:
    reference = tmp_path / "reference.csv"
    _rows(5_000, 1).to_csv(reference, index=False)
    stream = tmp_path / "stream.csv"
    pd.concat([_rows(2_000, 2), _rows(1_000, 3, colours=("red", "purple"))]).to_csv(stream, index=False)
    result = run_bastion("drift", "watch", str(reference), str(stream), "--window", "100", "--ert", "5000",
                         "--latency", "latency")
    assert result.returncode == 1, result.stderr
    alarms = [json.loads(line) for line in result.stdout.splitlines()]
    assert any(alarm["column"] == "colour" and 2_000 <= alarm["row"] < 2_300 for alarm in alarms)
    assert "alarms in 3,000 rows" in result.stderr
    missing = run_bastion("drift", "watch", str(reference), str(tmp_path / "absent.csv"))
    assert missing.returncode == 2 and "absent.csv" in missing.stderr
