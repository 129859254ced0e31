"""DatasetAudit: representation against a reference, label balance by group, proxies and recoverability."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2_contingency, chisquare
from sklearn.metrics import normalized_mutual_info_score

from bastion.data.files import DataError
from bastion.model.fairness.audit import DatasetAudit, association, load_reference

RAW = Path(__file__).resolve().parents[2].parent / "shared/data/fairness/raw"


@pytest.fixture(scope="module")
def adult() -> pd.DataFrame:
    if not (RAW / "adult.csv").is_file():
        pytest.skip("../shared/data/fairness absent")
    return pd.read_csv(RAW / "adult.csv")


def _people(n: int = 3000, seed: int = 0) -> pd.DataFrame:
    """Group A (70%) and B (30%); ``zip`` follows the group 90% of the time; other columns are independent."""
    rng = np.random.default_rng(seed)
    group = rng.choice(["A", "B"], n, p=[0.7, 0.3])
    own_zip = np.where(group == "A", rng.integers(0, 10, n), rng.integers(10, 20, n))
    zip_code = np.where(rng.random(n) < 0.9, own_zip, rng.integers(0, 20, n))
    label = (rng.random(n) < np.where(group == "A", 0.5, 0.2)).astype(int)
    return pd.DataFrame({
        "group": group, "zip": [f"Z{z:03d}" for z in zip_code], "noise": rng.normal(size=n),
        "colour": rng.choice(["red", "green", "blue"], n), "name": [f"person {i}" for i in range(n)],
        "row_id": np.arange(n) + 1000, "constant": 1, "label": label})


@pytest.fixture(scope="module")
def people_report() -> tuple[pd.DataFrame, object]:
    frame = _people()
    return frame, DatasetAudit(reference={"group": {"A": 0.5, "B": 0.5}}).run(frame, ["group"], "label")


def _proxy(report: object, column: str, sensitive: str) -> object:
    return next(p for p in report.proxies if p.column == column and p.sensitive == sensitive)  # type: ignore[attr-defined]


# ---- proxies ----


def test_planted_proxy_is_flagged_and_independent_columns_are_not(people_report: tuple) -> None:
    _, report = people_report
    zip_proxy = _proxy(report, "zip", "group")
    assert zip_proxy.flag == "proxy"
    assert zip_proxy.cramers_v > 0.7 and zip_proxy.mutual_information > 0.2
    assert zip_proxy.metric == "roc_auc" and zip_proxy.chance == 0.5 and zip_proxy.score > 0.9
    for column in ("noise", "colour"):
        independent = _proxy(report, column, "group")
        assert independent.flag is None, column
        assert independent.cramers_v < 0.1 and independent.lift < 0.1, column
    assert report.proxies[0].column == "zip"  # strongest first
    strengths = [p.strength for p in report.proxies]
    assert strengths == sorted(strengths, reverse=True)
    assert [p.column for p in report.flagged_proxies] == ["zip"]


def test_identifiers_and_constants_are_skipped_not_flagged(people_report: tuple) -> None:
    _, report = people_report
    reasons = {s.column: s.reason for s in report.skipped}
    assert set(reasons) == {"name", "row_id", "constant"}
    assert "identifier" in reasons["name"] and "identifier" in reasons["row_id"]
    assert "single value" in reasons["constant"]
    assert not {p.column for p in report.proxies} & set(reasons)
    assert "label" not in {p.column for p in report.proxies}  # the target is not a candidate


def test_recoverability_from_all_other_columns(people_report: tuple) -> None:
    _, report = people_report
    recover = report.recoverability["group"]
    assert recover.flag == "recoverable" and recover.score > 0.9 and recover.chance == 0.5
    assert set(recover.columns) == {"zip", "noise", "colour"}
    without_zip = DatasetAudit(max_rows_for_models=1500).run(_people().drop(columns="zip"), ["group"], "label")
    assert without_zip.recoverability["group"].flag is None
    assert without_zip.recoverability["group"].score < 0.6


def test_association_measures_match_their_definitions() -> None:
    rng = np.random.default_rng(1)
    x = rng.integers(0, 4, 2000)
    y = np.where(rng.random(2000) < 0.6, x % 3, rng.integers(0, 3, 2000))
    table = np.zeros((4, 3))
    np.add.at(table, (x, y), 1)
    v, nmi = association(table)
    assert nmi == pytest.approx(normalized_mutual_info_score(x, y), abs=1e-12)
    n, (r, k) = table.sum(), table.shape
    phi2 = chi2_contingency(table, correction=False)[0] / n
    corrected = max(0.0, phi2 - (k - 1) * (r - 1) / (n - 1))
    expected = math.sqrt(corrected / min(r - (r - 1) ** 2 / (n - 1) - 1, k - (k - 1) ** 2 / (n - 1) - 1))
    assert v == pytest.approx(expected, abs=1e-12)
    assert association(np.diag([50.0, 70.0, 30.0]))[0] == pytest.approx(1.0, abs=0.02)
    assert association(np.array([[5.0, 5.0]])) == (0.0, 0.0)


def test_numeric_spike_gets_its_own_bin() -> None:
    rng = np.random.default_rng(2)
    group = rng.choice(["a", "b"], 2000)
    gain = np.where(group == "a", 0.0, rng.exponential(1000, 2000))  # mostly zero, like capital-gain
    frame = pd.DataFrame({"group": group, "gain": gain})
    proxy = DatasetAudit(models=False).run(frame, ["group"]).proxies[0]
    assert proxy.kind == "numeric" and proxy.categories >= 2
    assert proxy.cramers_v > 0.9 and proxy.score is None


def test_timestamps_are_binned_not_skipped_as_identifiers() -> None:
    when = pd.Series(pd.date_range("2020-01-01", periods=600, freq="h"))
    when[5] = pd.NaT
    frame = pd.DataFrame({"group": np.repeat(["a", "b"], 300), "when": when})  # rows sorted by group, then time
    report = DatasetAudit().run(frame, ["group"])
    assert not report.skipped
    assert report.proxies[0].kind == "numeric" and report.proxies[0].flag == "proxy"


def test_sampling_for_models_is_seeded_and_said(people_report: tuple) -> None:
    frame, _ = people_report
    audit = DatasetAudit(max_rows_for_models=800, seed=3)
    first, second = audit.run(frame, ["group"]).to_dict(), audit.run(frame, ["group"]).to_dict()
    assert first == second
    assert first["model_rows"] == 800 and first["sampled"] is True
    assert first["recoverability"]["group"]["rows"] == 800
    assert any("sample of 800 of 3,000 rows" in w for w in first["warnings"])


# ---- representation ----


def test_representation_against_a_reference(people_report: tuple) -> None:
    frame, _ = people_report
    frame = frame.assign(group=frame["group"].where(frame.index % 100 != 0, "C"))  # 1% unexpected group C
    report = DatasetAudit(reference={"group": {"A": 0.45, "B": 0.5, "D": 0.05}}).run(frame, ["group"])
    rep = report.representation[0]
    by_value = {g.value: g for g in rep.groups}
    counts = frame["group"].value_counts()
    assert by_value["B"].count == counts["B"] and by_value["B"].share == pytest.approx(counts["B"] / len(frame))
    assert by_value["B"].ratio == pytest.approx(counts["B"] / len(frame) / 0.5)
    assert by_value["B"].flag == "under_represented" and by_value["A"].flag is None
    assert by_value["D"].flag == "absent" and by_value["D"].count == 0
    assert by_value["C"].flag == "unexpected" and by_value["C"].reference is None
    observed = np.array([counts["A"], counts["B"], 0.0])
    expected = np.array([0.45, 0.5, 0.05]) * observed.sum()
    assert rep.chi_square_p == pytest.approx(chisquare(observed, expected).pvalue, rel=1e-9)
    data = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert data["representation"][0]["column"] == "group"
    assert {"value", "count", "share", "reference", "ratio", "flag"} <= set(data["representation"][0]["groups"][0])


def test_reference_values_match_numbers_spelt_as_text_and_missing_are_apart() -> None:
    frame = pd.DataFrame({"sex": [0] * 40 + [1] * 60 + [None] * 10, "x": np.arange(110) % 7})
    rep = DatasetAudit(reference={"sex": {"0": 0.5, "1": 0.5}}).run(frame, ["sex"]).representation[0]
    assert rep.missing == 10
    assert [(g.value, g.count, g.flag) for g in rep.groups] == [(0, 40, None), (1, 60, None)]
    assert rep.groups[0].share == pytest.approx(40 / 100)
    assert DatasetAudit(reference={"sex": {"0": 0.7, "1": 0.3}}).run(frame, ["sex"]).representation[0].groups[
        0].flag == "under_represented"


def test_intersections_and_small_group_warnings() -> None:
    frame = _people(600)
    frame["age"] = np.where(np.arange(600) % 40 == 0, "old", "young")
    report = DatasetAudit(min_group_size=20).run(frame, ["group", "age"], "label")
    expected = frame.groupby(["group", "age"]).size()
    got = {(i.group["group"], i.group["age"]): i.count for i in report.intersections}
    assert got == {k: int(v) for k, v in expected.items()}
    assert sum(i.share for i in report.intersections) == pytest.approx(1.0)
    assert any("groups of age" in w and "age=old" in w for w in report.warnings)
    assert any("groups of group x age" in w for w in report.warnings)
    assert len(report.label_balance.by) == 3 and report.label_balance.overall.columns == ("group", "age")


# ---- label balance ----


def test_label_balance_matches_pandas_and_fairlearn(people_report: tuple) -> None:
    from fairlearn.metrics import demographic_parity_difference, demographic_parity_ratio

    frame, report = people_report
    balance = report.label_balance
    assert balance.positive == 1 and balance.labels == (0, 1)
    rates = frame.groupby("group")["label"].mean()
    assert {g.group["group"]: g.positive_rate for g in balance.by[0].groups} == pytest.approx(rates.to_dict())
    counts = frame.groupby(["group", "label"]).size()
    assert balance.by[0].groups[1].counts == {"0": counts[("B", 0)], "1": counts[("B", 1)]}
    y = frame["label"].to_numpy()
    dpd = demographic_parity_difference(y, y, sensitive_features=frame["group"])
    dpr = demographic_parity_ratio(y, y, sensitive_features=frame["group"])
    assert balance.overall.demographic_parity_difference == pytest.approx(dpd, abs=1e-12)
    assert balance.overall.demographic_parity_ratio == pytest.approx(dpr, abs=1e-12)
    assert report.to_dict()["label_balance"]["demographic_parity_difference"] == pytest.approx(dpd, abs=1e-12)


def test_label_balance_positive_label_rules() -> None:
    frame = _people(300)
    frame["grade"] = np.array(["a", "b", "c"])[np.arange(300) % 3]
    with pytest.raises(ValueError, match="3 labels: name the positive one"):
        DatasetAudit(models=False).run(frame, ["group"], "grade")
    balance = DatasetAudit(models=False, positive="c").run(frame, ["group"], "grade").label_balance
    assert balance.positive == "c" and balance.positive_rate == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="positive: 'z' is not a label"):
        DatasetAudit(models=False, positive="z").run(frame, ["group"], "grade")
    assert DatasetAudit(models=False, positive="0").run(frame, ["group"], "label").label_balance.positive == 0
    frame.loc[:9, "label"] = None
    report = DatasetAudit(models=False).run(frame, ["group"], "label")
    assert report.label_balance.rows == 290 and any("10 rows without a label" in w for w in report.warnings)


# ---- reference files ----


def test_load_reference_json_and_csv(tmp_path: Path) -> None:
    (tmp_path / "ref.json").write_text('{"sex": {"Male": 0.49, "Female": 0.51}}')
    (tmp_path / "ref.csv").write_text("column,value,share\nsex,Male,0.49\nsex,Female,0.51\nrace,White,1\n")
    assert load_reference(tmp_path / "ref.json") == {"sex": {"Male": 0.49, "Female": 0.51}}
    assert load_reference(tmp_path / "ref.csv") == {"sex": {"Male": 0.49, "Female": 0.51}, "race": {"White": 1.0}}
    frame = pd.DataFrame({"sex": ["Male"] * 70 + ["Female"] * 30})
    report = DatasetAudit(reference=tmp_path / "ref.csv", models=False).run(frame, ["sex"])
    assert report.representation[0].groups[0].flag == "under_represented"  # Female, sorted first
    assert any("'race' is not a sensitive column" in w for w in report.warnings)


@pytest.mark.parametrize(("name", "text", "message"), [
    ("a.json", '{"sex": {"Male": 0.49, "Female": 1.2}}', r"a\.json: sex='Female': share 1\.2 is not a number"),
    ("b.json", '{"sex": {"Male": 0.4, "Female": 0.5}}', r"b\.json: the shares of column 'sex' sum to 0\.9, not 1"),
    ("c.json", '{"sex": {"Male": 0.5,}}', r"c\.json: not valid JSON at line 1"),
    ("d.json", '{"sex": ["Male"]}', r"d\.json: column 'sex': give a mapping"),
    ("e.json", '{"sex": {"Male": "half", "Female": 0.5}}', r"e\.json: sex='Male': share 'half'"),
    ("f.csv", "col,val,share\nsex,Male,1\n", r"f\.csv: line 1: the header must be column,value,share"),
    ("g.csv", "column,value,share\nsex,Male,0.5\nsex,Female,lots\n", r"g\.csv: line 3: share 'lots' of sex='Female'"),
    ("h.csv", "column,value,share\nsex,Male,0.5\nsex,Male,0.5\n", r"h\.csv: line 3: sex='Male' appears twice"),
    ("i.csv", "column,value,share\nsex,Male,0.5,9\n", r"i\.csv: line 2: expected 3 fields"),
    ("j.txt", "sex,Male,1\n", r"j\.txt: a reference is a \.json or a \.csv"),
])
def test_reference_file_errors_name_the_file_and_entry(tmp_path: Path, name: str, text: str, message: str) -> None:
    (tmp_path / name).write_text(text)
    with pytest.raises(DataError, match=message):
        load_reference(tmp_path / name)


def test_reference_mapping_is_validated_and_missing_file_named(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="reference: the shares of column 'sex' sum to 1.1"):
        DatasetAudit(reference={"sex": {"M": 0.6, "F": 0.5}})
    with pytest.raises(DataError, match="the value appears twice"):
        DatasetAudit(reference={"sex": {1: 0.5, "1": 0.5}})
    with pytest.raises(DataError, match="no such reference file"):
        load_reference(tmp_path / "absent.json")


# ---- bad input ----


def test_bad_parameters_and_columns_give_clear_errors() -> None:
    frame = _people(200)
    for kwargs, message in [({"min_group_size": 0}, "min_group_size"), ({"under_ratio": 1.5}, "under_ratio"),
                            ({"proxy_threshold": 1}, "proxy_threshold"), ({"max_rows_for_models": 10},
                                                                          "max_rows_for_models"),
                            ({"folds": 1}, "folds"), ({"models": "yes"}, "models")]:
        with pytest.raises(ValueError, match=message):
            DatasetAudit(**kwargs)
    with pytest.raises(DataError, match="no sensitive column 'sex'"):
        DatasetAudit().run(frame, ["sex"])
    with pytest.raises(DataError, match="no target column 'income'"):
        DatasetAudit().run(frame, ["group"], "income")
    with pytest.raises(ValueError, match="cannot also be sensitive"):
        DatasetAudit().run(frame, ["group", "label"], "label")
    with pytest.raises(ValueError, match="at least one"):
        DatasetAudit().run(frame, [])
    with pytest.raises(ValueError, match="DataFrame"):
        DatasetAudit().run(frame.to_numpy(), ["group"])  # type: ignore[arg-type]


# ---- Adult ----


def test_adult_relationship_and_marital_status_are_proxies_for_sex(adult: pd.DataFrame) -> None:
    report = DatasetAudit(max_rows_for_models=4000).run(adult, ["sex"], "income-per-year")
    flagged = {p.column for p in report.flagged_proxies if p.sensitive == "sex"}
    assert {"relationship", "marital-status"} <= flagged
    assert "capital-loss" not in flagged and "fnlwgt" not in flagged
    assert _proxy(report, "relationship", "sex").cramers_v > 0.5
    assert report.recoverability["sex"].flag == "recoverable"
    balance = report.label_balance
    assert balance.positive == ">50K"
    rates = (adult["income-per-year"] == ">50K").groupby(adult["sex"]).mean()
    assert {g.group["sex"]: g.positive_rate for g in balance.by[0].groups} == pytest.approx(rates.to_dict(),
                                                                                            abs=1e-12)
    assert balance.overall.demographic_parity_difference == pytest.approx(rates.max() - rates.min(), abs=1e-12)
    json.dumps(report.to_dict(), allow_nan=False)
