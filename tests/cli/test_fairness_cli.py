"""``bastion test fairness``, ``bastion data audit`` and ``bastion explain`` end to end, as users run them."""

from __future__ import annotations

import json
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from _cli import MALICIOUS, run_bastion
from bastion.cli.fairness import failed_conditions, parse_bins, parse_conditions, parse_rows


def _applicants(n: int = 1500, seed: int = 3) -> pd.DataFrame:
    """Loan applicants where group B is approved less often, partly through a proxy (district)."""
    rng = np.random.default_rng(seed)
    group = rng.choice(["A", "B"], n, p=[0.6, 0.4])
    district = np.where(rng.random(n) < 0.85, np.where(group == "A", "north", "south"), "east")
    income = rng.normal(50, 12, n) - 8 * (group == "B")
    age = rng.integers(18, 70, n)
    approved = (income + rng.normal(0, 6, n) > 48).astype(int)
    return pd.DataFrame({"group": group, "district": district, "income": income.round(1), "age": age,
                         "approved": approved})


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("fair")
    frame = _applicants()
    frame.to_csv(folder / "loans.csv", index=False)
    features = ["district", "income", "age"]
    encode = ColumnTransformer([("cat", OneHotEncoder(handle_unknown="ignore"), ["district"])],
                               remainder="passthrough")
    model = Pipeline([("prep", encode), ("clf", LogisticRegression(max_iter=500))])
    model.fit(frame[features], frame["approved"])
    joblib.dump(model, folder / "model.joblib")
    forest = RandomForestClassifier(n_estimators=20, max_depth=5, random_state=0)
    forest.fit(frame[["income", "age"]], frame["approved"])
    joblib.dump(forest, folder / "forest.joblib")
    logged = frame.assign(decision=model.predict(frame[features]),
                          score=model.predict_proba(frame[features])[:, 1])
    logged.to_csv(folder / "logged.csv", index=False)
    (folder / "evil.pkl").write_bytes(MALICIOUS)
    return folder


def test_fairness_json_matches_fairlearn(project: Path) -> None:
    from fairlearn.metrics import demographic_parity_difference, equalized_odds_difference

    run = run_bastion("test", "fairness", "-m", str(project / "model.joblib"), "-d", str(project / "loans.csv"),
                      "-t", "approved", "-s", "group", "--resamples", "50", "--format", "json")
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    frame = pd.read_csv(project / "loans.csv")
    model = joblib.load(project / "model.joblib")
    predicted = model.predict(frame[["district", "income", "age"]])
    expected = demographic_parity_difference(frame["approved"], predicted, sensitive_features=frame["group"])
    assert report["metrics"]["demographic_parity_difference"] == pytest.approx(expected, abs=1e-12)
    assert report["metrics"]["equalized_odds_difference"] == pytest.approx(
        equalized_odds_difference(frame["approved"], predicted, sensitive_features=frame["group"]), abs=1e-12)
    groups = {g["group"]["group"]: g for g in report["groups"]}
    assert set(groups) == {"A", "B"} and groups["A"]["size"] + groups["B"]["size"] == len(frame)
    assert groups["A"]["selection_rate"] > groups["B"]["selection_rate"]
    low, high = report["intervals"]["demographic_parity_difference"]
    assert low <= expected <= high
    assert report["model"] == "model.joblib" and report["predictions"] == "model"


def test_logged_decisions_gate_and_intersections(project: Path) -> None:
    run = run_bastion("test", "fairness", "-d", str(project / "logged.csv"), "-t", "approved", "-s",
                      "group,district", "--prediction", "decision", "--score", "score", "--resamples", "0",
                      "--fail-on", "demographic_parity_ratio>=0.8", "--format", "json")
    assert run.returncode == 1, run.stderr
    assert "demographic_parity_ratio" in run.stderr and "required >= 0.8" in run.stderr
    report = json.loads(run.stdout)
    assert all(set(g["group"]) == {"group", "district"} for g in report["groups"])
    assert report["predictions"] == "column decision"
    passing = run_bastion("test", "fairness", "-d", str(project / "logged.csv"), "-t", "approved", "-s", "group",
                          "--prediction", "decision", "--resamples", "0", "--fail-on",
                          "demographic_parity_difference<=1")
    assert passing.returncode == 0, passing.stderr
    assert "demographic_parity_difference" in passing.stdout


def test_binned_sensitive_column_and_privileged_group(project: Path) -> None:
    run = run_bastion("test", "fairness", "-m", str(project / "model.joblib"), "-d", str(project / "loans.csv"),
                      "-t", "approved", "-s", "age", "--bin", "age=30,50", "--privileged", "age=30-50",
                      "--positive", "1", "--resamples", "0", "--format", "json")
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert sorted(g["group"]["age"] for g in report["groups"]) == sorted(["<30", "30-50", ">=50"])
    assert report["versus_privileged"] is not None


@pytest.mark.parametrize(("args", "message"), [
    (["-s", "colour"], "no sensitive column 'colour'"),
    (["-s", "group", "--positive", "yes"], "'yes' is not a value"),
    (["-s", "group", "--fail-on", "dp>>1"], "--fail-on takes"),
    (["-s", "group", "--mitigate", "magic"], "unknown mitigation 'magic'"),
    (["-s", "group", "--format", "xml"], "--format must be one of"),
])
def test_fairness_bad_input_exits_2_naming_it(project: Path, args: list[str], message: str) -> None:
    run = run_bastion("test", "fairness", "-m", str(project / "model.joblib"), "-d", str(project / "loans.csv"),
                      "-t", "approved", "--resamples", "0", *args)
    assert run.returncode == 2 and message in run.stderr, run.stderr


def test_unsafe_model_is_refused_before_loading(project: Path) -> None:
    run = run_bastion("test", "fairness", "-m", str(project / "evil.pkl"), "-d", str(project / "loans.csv"),
                      "-t", "approved", "-s", "group")
    assert run.returncode == 2 and "--allow-unsafe-load" in run.stderr
    run = run_bastion("explain", "-m", str(project / "evil.pkl"), "-d", str(project / "loans.csv"))
    assert run.returncode == 2 and "--allow-unsafe-load" in run.stderr


def test_mitigation_reports_before_and_after(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "fair.html"
    run = run_bastion("test", "fairness", "-m", str(project / "model.joblib"), "-d", str(project / "loans.csv"),
                      "-t", "approved", "-s", "group", "--resamples", "20", "--mitigate", "reweighing,threshold",
                      "--format", "html", "-o", str(out))
    assert run.returncode == 0, run.stderr
    html = out.read_text()
    assert html.startswith("<!DOCTYPE html>") and "<svg" in html and "<script" not in html
    assert "reweighing" in html and "threshold" in html


def test_data_audit_flags_the_proxy(project: Path) -> None:
    run = run_bastion("data", "audit", str(project / "loans.csv"), "-s", "group", "-t", "approved",
                      "--format", "json")
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    proxies = {p["column"]: p for p in report["proxies"]}
    assert proxies["district"]["flag"] and not proxies["age"]["flag"]
    flagged = run_bastion("data", "audit", str(project / "loans.csv"), "-s", "group", "--fail-on-flags")
    assert flagged.returncode == 1, flagged.stderr
    missing = run_bastion("data", "audit", str(project / "loans.csv"), "-s", "nope")
    assert missing.returncode == 2 and "'nope'" in missing.stderr


def test_explain_tree_model_rows_and_checks(project: Path) -> None:
    run = run_bastion("explain", "-m", str(project / "forest.joblib"), "-d", str(project / "loans.csv"),
                      "-t", "approved", "--rows", "0,3-4", "--seeds", "2", "--format", "json")
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert [record["row"] for record in report["local"]] == [0, 3, 4]
    assert report["checks"]["additivity_ok"] and report["checks"]["additivity_max_error"] <= 1e-6
    assert {item["feature"] for item in report["importance"]} == {"income", "age"}
    assert report["importance"][0]["feature"] == "income"
    table = run_bastion("explain", "-m", str(project / "forest.joblib"), "-d", str(project / "loans.csv"),
                        "--rows", "1", "--method", "permutation", "--background", "20")
    assert table.returncode == 0, table.stderr
    assert "income" in table.stdout
    bad = run_bastion("explain", "-m", str(project / "forest.joblib"), "-d", str(project / "loans.csv"),
                      "--rows", "5000")
    assert bad.returncode == 2 and "1500 rows" in bad.stderr


def test_option_parsers() -> None:
    assert parse_rows("0, 5,10-12,5", 20) == [0, 5, 10, 11, 12]
    for text, message in (("a", "whole numbers"), ("3-1", "upwards"), ("25", "20 rows"), (",", "no rows")):
        with pytest.raises(ValueError, match=message):
            parse_rows(text, 20)
    assert parse_bins(["age=25,45", "score=0.5"]) == {"age": [25.0, 45.0], "score": [0.5]}
    with pytest.raises(ValueError, match="--bin takes"):
        parse_bins(["age"])
    conditions = parse_conditions(["demographic_parity_ratio>=0.8,equalized_odds_difference<0.1"])
    assert conditions == [("demographic_parity_ratio", ">=", 0.8), ("equalized_odds_difference", "<", 0.1)]
    metrics = {"demographic_parity_ratio": 0.7, "equalized_odds_difference": 0.05}
    assert failed_conditions(metrics, conditions) == ["demographic_parity_ratio = 0.7 (required >= 0.8)"]
    assert failed_conditions({"demographic_parity_ratio": None, "equalized_odds_difference": 0.0},
                             conditions) == ["demographic_parity_ratio = None (required >= 0.8)"]
    with pytest.raises(ValueError, match="no metric 'x'"):
        failed_conditions(metrics, [("x", "<", 1.0)])
