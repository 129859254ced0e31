"""``bastion drift fit`` and ``bastion drift``: profiles, exit codes 0/1/2, JSON and HTML reports, bad input."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from _cli import run_bastion
from bastion.monitor import DriftMonitor


def _write(path: Path, rows: int, shift: float, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    pd.DataFrame({"amount": rng.normal(loc=shift, size=rows), "count": rng.poisson(3, size=rows),
                  "colour": rng.choice(["red", "green", "blue"], size=rows)}).to_csv(path, index=False)
    return path


def _data(tmp_path: Path) -> tuple[Path, Path, Path]:
    """Reference, a current sample from the same distribution, and one with a shifted ``amount``."""
    return (_write(tmp_path / "reference.csv", 600, 0.0, 1), _write(tmp_path / "same.csv", 400, 0.0, 2),
            _write(tmp_path / "shifted.csv", 400, 1.0, 3))


def test_fit_then_drift_with_the_profile(tmp_path: Path) -> None:
    reference, same, shifted = _data(tmp_path)
    profile = tmp_path / "reference.profile"
    fit = run_bastion("drift", "fit", str(reference), "-o", str(profile))
    assert fit.returncode == 0, fit.stderr
    assert "600 rows" in fit.stderr and "WARNING" not in fit.stderr
    assert json.loads(profile.read_text())["format"] == "bastion-drift-profile"
    clean = run_bastion("drift", str(profile), str(same))
    assert clean.returncode == 0, clean.stderr
    assert "no drift" in clean.stdout
    drift = run_bastion("drift", str(profile), str(shifted))
    assert drift.returncode == 1, drift.stderr
    assert re.search(r"^amount\s.*DRIFT", drift.stdout, re.MULTILINE)


def test_json_report_has_the_documented_keys(tmp_path: Path) -> None:
    reference, _, shifted = _data(tmp_path)
    run = run_bastion("drift", str(reference), str(shifted), "--format", "json")
    assert run.returncode == 1, run.stderr
    report = json.loads(run.stdout)
    assert report["drift"] is True
    assert [column["name"] for column in report["columns"]] == ["amount", "count", "colour"]
    for column in report["columns"]:
        assert {"name", "test", "statistic", "p_value", "effect_size", "drift"} <= set(column)
    amount = report["columns"][0]
    assert amount["test"] == "ks" and amount["drift"] is True and 0 <= amount["p_value"] < 0.05
    assert report["columns"][2]["test"] == "chi2"


def test_options_reach_the_monitor(tmp_path: Path) -> None:
    reference, _, shifted = _data(tmp_path)
    # min_effect holds back columns only; the PCA test would still see the shift, so it is switched off here.
    strict = run_bastion("drift", str(reference), str(shifted), "--format", "json", "--min-effect", "5",
                         "--no-multivariate", "--correction", "bh", "--alpha", "0.01")
    assert strict.returncode == 0, strict.stderr  # a 1-sigma shift is below an effect size of 5
    report = json.loads(strict.stdout)
    assert report["drift"] is False and report["columns"][0]["p_value"] < 0.01 and report["dataset_tests"] == []
    assert (report["correction"], report["alpha"]) == ("bh", 0.01)


def test_html_report_is_one_self_contained_page(tmp_path: Path) -> None:
    reference, _, shifted = _data(tmp_path)
    out = tmp_path / "report.html"
    run = run_bastion("drift", str(reference), str(shifted), "--format", "html", "--output", str(out))
    assert run.returncode == 1, run.stderr
    assert run.stdout == ""
    page = out.read_text(encoding="utf-8")
    assert page.lstrip().lower().startswith("<!doctype html") and page.rstrip().endswith("</html>")
    assert "amount" in page and "<svg" in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page, re.IGNORECASE)  # nothing fetched
    assert "<link" not in page.lower() and "@import" not in page


def test_bad_input_exits_two_naming_the_file(tmp_path: Path) -> None:
    reference, same, _ = _data(tmp_path)
    absent = tmp_path / "absent.csv"
    run = run_bastion("drift", str(reference), str(absent))
    assert run.returncode == 2 and "absent.csv" in run.stderr and run.stdout == ""
    notes = tmp_path / "notes.txt"
    notes.write_text("not a table\n")
    run = run_bastion("drift", str(notes), str(same))
    assert run.returncode == 2 and "notes.txt" in run.stderr and "not a table" in run.stderr
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("amount,count,colour\n1.0,2,red\n2.0,3,blue,extra\n")
    run = run_bastion("drift", str(reference), str(ragged))
    assert run.returncode == 2 and "ragged.csv" in run.stderr
    parts = tmp_path / "parts"
    parts.mkdir()
    pd.DataFrame({"amount": [1.0, 2.0], "colour": ["red", "blue"]}).to_csv(parts / "a.csv", index=False)
    pd.DataFrame({"amount": [1.0, 2.0], "shade": ["red", "blue"]}).to_csv(parts / "b.csv", index=False)
    for args in (("drift", "fit", str(parts), "-o", str(tmp_path / "parts.profile")), ("drift", str(reference),
                                                                                        str(parts))):
        run = run_bastion(*args)
        assert run.returncode == 2 and "b.csv" in run.stderr and "columns differ" in run.stderr, run.stderr
    assert not (tmp_path / "parts.profile").exists()


def test_malformed_profile_exits_two_naming_it(tmp_path: Path) -> None:
    reference, same, _ = _data(tmp_path)
    profile = tmp_path / "reference.profile"
    DriftMonitor().fit(reference).save(profile)
    data = json.loads(profile.read_text())
    data["version"] = 99
    profile.write_text(json.dumps(data))
    run = run_bastion("drift", str(profile), str(same))
    assert run.returncode == 2 and "reference.profile" in run.stderr and "version" in run.stderr
    profile.write_text(json.dumps({"format": "bastion-drift-profile", "version": 1, "rows": 3, "columns": {
        "amount": {"kind": "numeric", "count": 3, "missing": 0, "posinf": 0, "neginf": 0, "mean": 0, "std": 1,
                   "min": 0, "max": 1, "edges": [1.0, 0.0], "counts_le": [1, 3]}}}))
    run = run_bastion("drift", str(profile), str(same))
    assert run.returncode == 2 and "columns.amount" in run.stderr and "edges" in run.stderr


def test_output_in_a_missing_folder_exits_two_and_writes_nothing(tmp_path: Path) -> None:
    reference, _, shifted = _data(tmp_path)
    before = sorted(tmp_path.rglob("*"))
    report = tmp_path / "absent" / "report.json"
    run = run_bastion("drift", str(reference), str(shifted), "--format", "json", "--output", str(report))
    assert run.returncode == 2 and "absent" in run.stderr and run.stdout == ""
    run = run_bastion("drift", "fit", str(reference), "-o", str(tmp_path / "absent" / "reference.profile"))
    assert run.returncode == 2 and "absent" in run.stderr
    assert sorted(tmp_path.rglob("*")) == before


def test_keep_sample_warns_that_the_profile_holds_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # One OpenMP thread: on a busy two-core machine the classifier's spinning barriers cost 10x the run time.
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    reference, same, _ = _data(tmp_path)
    profile = tmp_path / "sampled.profile"
    run = run_bastion("drift", "fit", str(reference), "-o", str(profile), "--keep-sample")
    assert run.returncode == 0, run.stderr
    assert "WARNING" in run.stderr and "raw reference rows" in run.stderr
    assert len(json.loads(profile.read_text())["sample"]["data"]) == 600
    run = run_bastion("drift", str(profile), str(same), "--domain-classifier", "--format", "json")
    assert run.returncode == 0, run.stderr
    domain = next(test for test in json.loads(run.stdout)["dataset_tests"] if test["name"] == "domain_classifier")
    assert domain["p_value"] is not None and domain["drift"] is False
