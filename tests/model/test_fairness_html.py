"""Tables and self-contained HTML of the fairness report and the dataset audit, on small real reports."""

from __future__ import annotations

import re
from typing import Any, cast

import numpy as np
import pandas as pd
import pytest
from _html_page import parse, svg
from sklearn.linear_model import LogisticRegression

from bastion.model.fairness.audit import DatasetAudit
from bastion.model.fairness.html import MAX_PLOTTED, RED, audit_html, fairness_html
from bastion.model.fairness.render import audit_table, fairness_table, number
from bastion.model.fairness.report import FairnessTest
from bastion.model.fairness.run import FairnessRun, run_fairness
from bastion.model.tabular import as_tabular

EVIL = "<script>alert(1)</script>"


def people(n: int = 600, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"sex": rng.choice(["F", "M", EVIL], n, p=[0.45, 0.45, 0.1]),
                          "race": rng.choice(["A", "B"], n), "x1": rng.normal(size=n), "x2": rng.normal(size=n)})
    frame["x3"] = (frame["sex"] == "M") + rng.normal(0, 0.3, n)  # a proxy for sex
    frame["y"] = (frame["x1"] + 0.8 * (frame["sex"] == "M") + rng.normal(0, 0.5, n) > 0.4).astype(int)
    return frame


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return people()


@pytest.fixture(scope="module")
def run(frame: pd.DataFrame) -> FairnessRun:
    model = LogisticRegression().fit(frame[["x1", "x2", "x3"]], frame["y"])
    return run_fairness(frame, "y", ["sex", "race"], model=as_tabular(model), privileged={"sex": "M"},
                        mitigate=["reweighing"], settings={"resamples": 40, "min_group_size": 5})


def test_fairness_html_draws_rates_with_whiskers_calibration_and_mitigations(run: FairnessRun) -> None:
    text = fairness_html(run)
    page = parse(text)
    data = run.to_dict()
    assert {"rates by group", "disparities", "calibration by group", "mitigation reweighing"} <= set(page.svgs)
    rates = svg(text, "rates by group")
    groups = data["groups"]
    # one whisker per group and rate panel, and the tooltip carries the group's own interval
    assert rates.count('class="whisker"') == 4 * len(groups)
    first = groups[0]
    low, high = first["intervals"]["selection_rate"]
    assert f"selection rate {number(first['selection_rate'])} [{number(low)}, {number(high)}]" in rates
    assert "4/5 of highest" in rates
    # groups below four-fifths of the highest selection rate are red, the others not
    top = max(g["selection_rate"] for g in groups)
    low_groups = sum(g["selection_rate"] < 0.8 * top for g in groups)
    assert 0 < low_groups < len(groups)
    assert rates.count(f'fill="{RED}"') == low_groups
    # calibration: one curve per group, points from the report's curve
    calibration = svg(text, "calibration by group")
    assert calibration.count("<polyline") == len(groups)
    assert "Four-fifths rule" in page.text and ("failed" in page.text or "passed" in page.text)
    assert "Against the privileged group" in page.text and "sex=M" in page.text


def test_fairness_html_escapes_group_values(run: FairnessRun) -> None:
    text = fairness_html(run, title=f"report {EVIL}")
    page = parse(text)
    assert EVIL in page.text  # shown as text...
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text  # ...because it is escaped
    assert f"sex={EVIL}, race=A" in page.text


def test_fairness_table_leads_with_the_verdict(run: FairnessRun) -> None:
    text = fairness_table(run)
    lines = text.splitlines()
    data = run.to_dict()
    assert max(len(line) for line in lines) <= 120
    assert lines[1].startswith("four-fifths rule: ")
    verdict = "passed" if data["four_fifths_rule"]["passed"] else "FAILED"
    assert verdict in lines[1] and number(data["metrics"]["demographic_parity_ratio"]) in lines[1]
    for g in data["groups"]:
        row = next(line for line in lines if line.startswith(f"sex={g['group']['sex'][:3]}")
                   and f"race={g['group']['race']}" in line)
        assert number(g["selection_rate"]) in row and number(g["tpr"]) in row and f"{g['size']}" in row
    assert "demographic_parity_difference" in text and "equalized_odds_difference" in text
    assert "reweighing (demographic_parity)" in text
    before, after = data["mitigations"][0]["before"]["accuracy"], data["mitigations"][0]["after"]["accuracy"]
    assert f"{number(before)}->{number(after)}" in text
    assert "against the privileged group sex=M" in text


def test_no_scores_means_no_calibration_and_no_intervals(frame: pd.DataFrame) -> None:
    logged = frame.assign(decision=(frame["x1"] > 0).astype(int))
    result = run_fairness(logged, "y", ["sex"], prediction="decision", settings={"resamples": 0})
    text = fairness_html(result)
    page = parse(text)
    assert "calibration by group" not in page.svgs and "rates by group" in page.svgs
    assert 'class="whisker"' not in text and "No bootstrap intervals" in page.text
    table = fairness_table(result)
    assert "ECE" not in table and "no bootstrap intervals" in table and "predictions from column decision" in table


def test_regression_draws_error_bars() -> None:
    rng = np.random.default_rng(1)
    n = 400
    sex = rng.choice(["F", "M"], n)
    y = rng.normal(size=n) * 3
    report = FairnessTest(task="regression", resamples=20).run(y, y + rng.normal(size=n) * (1 + (sex == "F")),
                                                               pd.DataFrame({"sex": sex}))
    text = fairness_html(report)
    page = parse(text)
    errors = svg(text, "errors by group")
    assert "mean absolute error" in errors and errors.count('class="whisker"') == 4 * 2
    assert "disparities" not in page.svgs and "Four-fifths" not in page.text
    table = fairness_table(report)
    worst = max(report.to_dict()["groups"], key=lambda g: g["mean_absolute_error"])
    assert f"highest {number(worst['mean_absolute_error'])} (sex={worst['group']['sex']})" in table
    assert "MAE" in table and "mean_absolute_error_difference" in table


def test_many_groups_are_capped_in_plots_but_listed_in_tables() -> None:
    rng = np.random.default_rng(2)
    n = 3000
    town = rng.choice([f"town {i:02d}" for i in range(60)], n)
    y = rng.integers(0, 2, n)
    report = FairnessTest(resamples=0, min_group_size=1).run(y, rng.integers(0, 2, n), pd.DataFrame({"town": town}))
    text = fairness_html(report)
    parse(text)
    rates = svg(text, "rates by group")
    assert rates.count('text-anchor="end"') == MAX_PLOTTED  # row labels
    assert f"The {MAX_PLOTTED} largest of 60 groups are plotted" in text
    assert text.count("<td>town=town ") == 60
    table = fairness_table(report, limit=10)
    assert "the 10 largest of 60 groups shown" in table


def test_a_minimal_report_renders() -> None:
    class Bare:
        def to_dict(self) -> dict[str, Any]:
            return {"groups": [], "metrics": {}}

    report = cast(Any, Bare())
    page = parse(fairness_html(report))
    assert page.svgs == [] and "none" in page.text
    assert "metrics: none" in fairness_table(report)


@pytest.fixture(scope="module")
def audit(frame: pd.DataFrame) -> Any:
    return DatasetAudit(reference={"sex": {"F": 0.6, "M": 0.3, "X": 0.1}}).run(frame, ["sex", "race"], "y")


def test_audit_html_draws_representation_labels_and_proxies(audit: Any) -> None:
    text = audit_html(audit)
    page = parse(text)
    assert {"representation of sex", "representation of race", "intersections", "label balance by sex",
            "label balance by sex \u00d7 race", "proxy strength"} <= set(page.svgs)
    shares = svg(text, "representation of sex")
    assert "reference share" in shares and "60.0%" in shares  # the reference bar of F
    assert f'style="fill:{RED}"><title>F</title>' in shares  # under-represented: red label
    assert f'style="fill:{RED}"><title>X</title>' in shares  # absent
    proxies = svg(text, "proxy strength")
    flagged = re.findall(rf'fill="{RED}" fill-opacity="0.85"><title>([^<]*)</title>', proxies)
    assert flagged and all(t.startswith("x3 \u2192 sex") for t in flagged)
    assert EVIL in page.text and "&lt;script&gt;" in text
    assert "x3 is a proxy for sex" in page.text


def test_audit_table(audit: Any) -> None:
    text = audit_table(audit)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 120
    assert lines[1].startswith("flagged: ")
    assert "sex=F is under-represented" in text and "x3 is a proxy for sex" in text
    balance = audit.to_dict()["label_balance"]["by"][0]
    for g in balance["groups"]:
        assert number(g["positive_rate"]) in text
    assert "representation of sex" in text and "0.600" in text
    assert any(line.startswith("x3 ") and "proxy" in line for line in lines)


def test_audit_without_target_or_models(frame: pd.DataFrame) -> None:
    report = DatasetAudit(models=False).run(frame[["sex", "x1", "x3"]], ["sex"])
    text = audit_html(report)
    page = parse(text)
    assert not any(label.startswith("label balance") for label in page.svgs)
    assert "representation of sex" in page.svgs and "Label balance" not in page.text
    table = audit_table(report)
    assert "label balance" not in table and "target (none)" in table and "recoverability" not in table
