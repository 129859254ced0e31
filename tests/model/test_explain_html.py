"""Table and self-contained HTML of the explanation report, on small real reports."""

from __future__ import annotations

import re
from typing import Any, cast

import numpy as np
import pandas as pd
import pytest
from _html_page import parse, svg
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

from bastion.model.explain.html import MAX_WATERFALLS, explain_html
from bastion.model.explain.render import explain_table
from bastion.model.explain.report import ExplainTest, ExplanationReport
from bastion.model.fairness.html import BLUE, RED
from bastion.model.fairness.render import number, signed

EVIL = "<script>alert(1)</script>"
FEATURES = ["a", "b", "c", EVIL]


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 300
    data = pd.DataFrame({name: rng.normal(size=n) for name in FEATURES})
    data["y"] = (data["a"] + 0.5 * data["b"] - 0.7 * data[EVIL] > 0).astype(int)
    return data


@pytest.fixture(scope="module")
def tree_report(frame: pd.DataFrame) -> ExplanationReport:
    model = RandomForestClassifier(n_estimators=20, max_depth=4, random_state=0).fit(frame[FEATURES], frame["y"])
    return ExplainTest(sample=50, background=30, repeats=2, rows=[0, 1, 2], top=2).run(model, frame, "y")


def test_html_draws_importance_with_whiskers_and_one_waterfall_per_row(tree_report: ExplanationReport) -> None:
    text = explain_html(tree_report)
    page = parse(text)
    data = tree_report.to_dict()
    assert "global importance" in page.svgs
    assert [s for s in page.svgs if s.startswith("local explanation")] == [
        f"local explanation of row {r}" for r in data["rows"]]
    bars = svg(text, "global importance")
    assert bars.count('class="whisker"') == len(FEATURES)  # mean +- std per feature
    top = data["importance"][0]
    assert f"{number(top['mean'] - top['std'])}, {number(top['mean'] + top['std'])}]" in bars
    assert "mean |SHAP| of P(1)" in bars
    # the checks box: additivity and ranking stability
    assert "additivity passed" in page.text and "exact (tree SHAP)" in page.text
    assert "Permutation importance ranking" in page.text


def test_waterfall_bars_are_signed_and_include_the_rest(tree_report: ExplanationReport) -> None:
    text = explain_html(tree_report)
    for record in tree_report.to_dict()["local"]:
        chart = svg(text, f"local explanation of row {record['row']}")
        fills = re.findall(r'<rect x="[^"]+" y="[^"]+" width="[^"]+" height="[^"]+" fill="(#[0-9a-f]+)">', chart)
        steps = [c["contribution"] for c in record["contributions"]] + ([record["rest"]] if record["rest"] else [])
        assert fills == [RED if s > 0 else BLUE for s in steps]
        for c in record["contributions"]:
            assert signed(c["contribution"]) in chart
        if record["rest"]:
            assert "(all other features)" in chart


def test_html_escapes_feature_names(tree_report: ExplanationReport) -> None:
    text = explain_html(tree_report)
    page = parse(text)
    assert EVIL in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text


def test_table_shows_checks_importance_and_contributions(tree_report: ExplanationReport) -> None:
    text = explain_table(tree_report)
    lines = text.splitlines()
    data = tree_report.to_dict()
    assert max(len(line) for line in lines) <= 120
    assert lines[1] == "checks:" and "additivity passed" in lines[2]
    for item in data["importance"]:
        row = next(line for line in lines if line.startswith(item["feature"][:10]) and "  " in line)
        assert number(item["mean"]) in row and number(item["std"]) in row
    for record in data["local"]:
        assert (f"row {record['row']}: prediction {record['prediction']!r}; {record['output']} = "
                f"{number(record['value'])} (base value {number(record['base_value'])})") in text
        for c in record["contributions"]:
            assert signed(c["contribution"]) in text


def test_without_target_there_is_no_permutation_importance(frame: pd.DataFrame) -> None:
    model = LogisticRegression().fit(frame[FEATURES], frame["y"])
    report = ExplainTest(sample=20, background=20, rows=[0], permutations=2).run(model, frame[FEATURES])
    text = explain_html(report)
    page = parse(text)
    bars = svg(text, "global importance")
    assert "permutation importance" not in bars and 'class="whisker"' not in bars and "mean |SHAP|" in bars
    assert "Permutation importance skipped" in page.text and "SHAP ranking stable" in page.text
    table = explain_table(report)
    assert "permutation importance skipped: no target given" in table and "permutation SHAP" in table


def test_waterfalls_are_capped_and_minimal_reports_render(tree_report: ExplanationReport) -> None:
    data = tree_report.to_dict()
    record = data["local"][0]

    class Many:
        def to_dict(self) -> dict[str, Any]:
            return {**data, "local": [{**record, "row": i} for i in range(MAX_WATERFALLS + 5)]}

    text = explain_html(cast(Any, Many()))
    page = parse(text)
    assert sum(s.startswith("local explanation") for s in page.svgs) == MAX_WATERFALLS
    assert f"The first {MAX_WATERFALLS} of {MAX_WATERFALLS + 5} explanations are drawn" in page.text
    assert "more local explanations" in explain_table(cast(Any, Many()))

    class Bare:
        def to_dict(self) -> dict[str, Any]:
            return {"model": "m", "method": "kernel", "output": "prediction"}

    bare = parse(explain_html(cast(Any, Bare())))
    assert bare.svgs == [] and "No global importance" in bare.text and "No rows were explained" in bare.text
    assert "global importance: none computed" in explain_table(cast(Any, Bare()))
