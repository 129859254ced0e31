"""k-anonymity and l-diversity: measuring tables, and the lattice search that reaches a target."""

from __future__ import annotations

import itertools
import math
from collections import Counter, defaultdict
from typing import Any

import numpy as np
import pandas as pd
import pytest

from bastion.data.anonymize.kanon import (
    AnonymizationError,
    AnonymizedTable,
    Generalization,
    Hierarchy,
    KAnonymizer,
    default_hierarchy,
    measure,
    numeric_hierarchy,
)

QIS = ["age", "zip", "birth_date", "sex"]


def patients(rows: int, seed: int = 0) -> pd.DataFrame:
    """A synthetic patient table: four quasi-identifiers and a diagnosis."""
    rng = np.random.default_rng(seed)
    birth = pd.Timestamp("1930-01-01") + pd.to_timedelta(rng.integers(0, 365 * 75, rows), unit="D")
    return pd.DataFrame({
        "age": rng.integers(18, 95, rows),
        "zip": [f"{z:05d}" for z in rng.integers(2100, 2300, rows)],
        "birth_date": birth.strftime("%Y-%m-%d"),
        "sex": rng.choice(["F", "M"], rows),
        "diagnosis": rng.choice(["flu", "asthma", "diabetes", "cancer", "covid"], rows),
    })


def _key(value: Any) -> Any:
    return "<missing>" if value is None or (isinstance(value, float) and math.isnan(value)) else value


def brute_force(table: pd.DataFrame, qis: list[str], sensitive: str | None = None) -> tuple[int, int | None, int]:
    """k, l and the number of classes, counted row by row with Python dictionaries."""
    groups: dict[tuple[Any, ...], list[Any]] = defaultdict(list)
    for record in table.to_dict("records"):
        groups[tuple(_key(record[q]) for q in qis)].append(_key(record[sensitive]) if sensitive else None)
    k = min((len(v) for v in groups.values()), default=0)
    l = min((len(set(v)) for v in groups.values()), default=0) if sensitive else None  # noqa: E741
    return k, l, len(groups)


# --- measure --------------------------------------------------------------------------------------------------


def test_measure_hand_computed_k_and_l() -> None:
    table = pd.DataFrame({
        "age": ["30-39", "30-39", "30-39", "40-49", "40-49", "50+"],
        "sex": ["F", "F", "F", "M", "M", "M"],
        "disease": ["flu", "flu", "cancer", "flu", "flu", "asthma"],
    })
    m = measure(table, ["age", "sex"], sensitive="disease", k=2)
    assert (m.k, m.l, m.classes, m.rows) == (1, 1, 3, 6)
    assert m.rows_below_k == 1 and m.rows_to_suppress == 1
    assert m.class_sizes == ((1, 1), (2, 1), (3, 1))
    assert m.smallest_classes[0] == {"age": "50+", "sex": "M"} and m.smallest_class_sizes[0] == 1
    assert not m.satisfies(2) and m.average_class_size == 2.0
    m = measure(table.iloc[:5], ["age", "sex"], sensitive="disease", k=2, l=2)
    assert (m.k, m.l) == (2, 1)
    assert m.rows_below_k == 0 and m.rows_below_l == 2 and m.rows_to_suppress == 2
    assert m.satisfies(2) and not m.satisfies(2, l=2)


def test_measure_missing_values_form_one_class() -> None:
    table = pd.DataFrame({"zip": ["123", None, np.nan, "123"], "sex": ["F", "F", "F", "F"]}, dtype=object)
    m = measure(table, ["zip", "sex"])
    assert (m.k, m.classes) == (2, 2)
    assert {"zip": None, "sex": "F"} in m.smallest_classes


def test_measure_empty_table_and_no_sensitive() -> None:
    m = measure(pd.DataFrame({"a": [], "s": []}), ["a"], sensitive="s", k=3)
    assert (m.k, m.l, m.classes, m.rows, m.rows_below_k) == (0, 0, 0, 0, 0)
    assert measure(pd.DataFrame({"a": [1, 1]}), "a").l is None


@pytest.mark.parametrize("seed", range(6))
def test_measure_agrees_with_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    rows = int(rng.integers(1, 300))
    table = pd.DataFrame({
        "a": rng.integers(0, 4, rows).astype(float),
        "b": rng.choice(["x", "y", "z", None], rows),
        "c": rng.integers(0, int(rng.integers(1, 6)), rows),
        "s": rng.choice(["p", "q", "r", "t"], rows),
    })
    table.loc[rng.random(rows) < 0.1, "a"] = np.nan
    m = measure(table, ["a", "b", "c"], sensitive="s", k=3)
    assert (m.k, m.l, m.classes) == brute_force(table, ["a", "b", "c"], "s")
    sizes = Counter(tuple(_key(v) for v in row) for row in table[["a", "b", "c"]].itertuples(index=False))
    assert m.rows_below_k == sum(size for size in sizes.values() if size < 3)
    assert dict(m.class_sizes) == dict(Counter(sizes.values()))


def test_unknown_columns_are_named_with_the_available_ones() -> None:
    table = pd.DataFrame({"age": [1], "zip": ["1"]})
    with pytest.raises(ValueError, match=r"unknown column 'agee'; the table has: age, zip"):
        measure(table, ["agee"])
    with pytest.raises(ValueError, match="unknown column 'disease'"):
        measure(table, ["age"], sensitive="disease")
    with pytest.raises(ValueError, match="unknown column 'zipp'"):
        KAnonymizer(["age", "zipp"]).fit(table)
    with pytest.raises(ValueError, match="both a quasi-identifier and the sensitive"):
        measure(table, ["age"], sensitive="age")


# --- hierarchies ----------------------------------------------------------------------------------------------


def test_default_hierarchies_follow_the_data() -> None:
    table = patients(50)
    labels = {name: default_hierarchy(table[name], name).names for name in table.columns}
    assert labels["age"] == ("exact", "band 5", "band 10", "band 20", "*")
    assert labels["zip"] == ("exact", "keep 4", "keep 3", "keep 2", "keep 1", "*")
    assert labels["birth_date"] == ("exact", "month", "year", "*")
    assert labels["sex"] == ("exact", "*")
    income = pd.Series([12_000, 55_000, 230_000])
    assert default_hierarchy(income, "income").names == ("exact", "band 5000", "band 10000", "band 20000",
                                                         "band 40000", "*")
    assert default_hierarchy(pd.Series([0.0, 100.0]), "percentage").names[1] == "band 5"  # not an age
    stamps = pd.Series(pd.to_datetime(["2020-01-01 10:00", "2020-01-02"], format="ISO8601"))
    assert default_hierarchy(stamps, "seen").names == ("exact", "day", "month", "year", "*")
    assert default_hierarchy(pd.Series(["SW1A 1AA", "EC1A 1BB"]), "postcode").names[1] == "keep 6"


def test_custom_levels_mappings_and_callables() -> None:
    taxonomy = Generalization.from_levels(
        [{"flu": "respiratory", "asthma": "respiratory", "diabetes": "metabolic"}, {"respiratory": "*"}],
        names=["exact", "group", "top"],
    )
    values = pd.Series(["flu", "diabetes", None])
    assert taxonomy.apply(values, 1).tolist() == ["respiratory", "metabolic", None]
    with pytest.raises(ValueError, match="no parent for: 'metabolic'"):
        taxonomy.apply(values, 2)
    with pytest.raises(ValueError, match="no parent for: 'cancer'"):
        taxonomy.apply(pd.Series(["cancer"]), 1)
    decades = Generalization.from_levels([lambda s: (s // 10 * 10).astype(str) + "s"])
    assert isinstance(decades, Hierarchy) and decades.levels == 2
    assert decades.apply(pd.Series([34, 71]), 1).tolist() == ["30s", "70s"]
    with pytest.raises(ValueError, match="whole multiples"):
        numeric_hierarchy((5, 10, 25))


# --- the anonymiser -------------------------------------------------------------------------------------------


def _check_result(result: AnonymizedTable, table: pd.DataFrame, k: int, l: int | None,  # noqa: E741
                  max_suppression: float) -> None:
    """The output satisfies the target (counted independently) and every input row is accounted for."""
    kept = result.table if result.suppress == "drop" else result.table.drop(result.table.index[
        list(result.suppressed_rows)])
    kk, ll, _ = brute_force(kept, QIS, "diagnosis")
    assert kk >= k and (l is None or (ll is not None and ll >= l))
    assert result.after.k == kk and result.after.satisfies(k, l)
    assert len(result.suppressed_rows) <= math.floor(max_suppression * len(table))
    assert result.input_rows == len(table)
    if result.suppress == "drop":
        assert result.output_rows + len(result.suppressed_rows) == result.input_rows
        assert sorted(set(result.table.index) | set(table.index[list(result.suppressed_rows)])) == list(table.index)
    else:
        assert result.output_rows == result.input_rows
    # Untouched columns are untouched; suppressed rows keep their original QI values in the report.
    assert result.table["diagnosis"].tolist() == table["diagnosis"].loc[result.table.index].tolist()
    assert result.suppressed.equals(table.iloc[list(result.suppressed_rows)][QIS])


@pytest.mark.parametrize(("k", "l"), [(2, None), (5, None), (5, 3)])
def test_anonymizer_reaches_the_target(k: int, l: int | None) -> None:  # noqa: E741
    table = patients(600, seed=k)
    anonymizer = KAnonymizer(QIS, k=k, l=l, sensitive="diagnosis", max_suppression=0.05)
    result = anonymizer.fit_transform(table)
    _check_result(result, table, k, l, 0.05)
    assert result.before.k == 1 and result.levels == anonymizer.levels_
    assert set(result.labels) == set(QIS) and all(label.startswith(f"{q}: ") for q, label in result.labels.items())
    assert anonymizer.nodes_evaluated_ < anonymizer.lattice_size_


def test_mask_keeps_every_row_and_stars_the_suppressed_ones() -> None:
    table = patients(400, seed=3)
    result = KAnonymizer(QIS, k=5, sensitive="diagnosis", suppress="mask", max_suppression=0.1).fit_transform(table)
    _check_result(result, table, 5, None, 0.1)
    assert result.suppressed_rows, "this table needs some suppression"
    masked = result.table.iloc[list(result.suppressed_rows)]
    assert (masked[QIS] == "*").all().all()
    assert result.after.rows == len(table) - len(result.suppressed_rows)  # measured on the rows not suppressed


def _all_nodes(table: pd.DataFrame, anonymizer: KAnonymizer, budget: int) -> list[tuple[float, tuple[int, ...]]]:
    """Every node of the lattice that satisfies the target, with its loss: the exhaustive answer."""
    hierarchies = anonymizer.hierarchies_
    shape = [hierarchies[q].levels for q in anonymizer.levels_]
    good = []
    for node in itertools.product(*(range(n) for n in shape)):
        generalised = pd.DataFrame({q: hierarchies[q].apply(table[q], level) for q, level in zip(anonymizer.levels_,
                                                                                                 node, strict=True)})
        if measure(generalised, list(anonymizer.levels_), k=anonymizer.k).rows_to_suppress <= budget:
            good.append((sum(level / max(n - 1, 1) for level, n in zip(node, shape, strict=True)) / len(node), node))
    return good


@pytest.mark.parametrize("seed", [1, 2])
def test_search_finds_the_minimal_loss_node_like_an_exhaustive_search(seed: int) -> None:
    table = patients(150, seed=seed)[["age", "zip", "sex"]]
    anonymizer = KAnonymizer(["age", "zip", "sex"], k=3, max_suppression=0.02).fit(table)
    good = _all_nodes(table, anonymizer, budget=3)
    best_loss = min(loss for loss, _ in good)
    assert anonymizer.loss_ == pytest.approx(best_loss)
    assert tuple(anonymizer.levels_.values()) in [node for loss, node in good if loss == pytest.approx(best_loss)]


def test_minimal_loss_node_known_by_hand() -> None:
    # b has three levels, so one step on b costs 1/2 of b's range while one step on a costs all of a's:
    # generalising b (loss 0.25) beats suppressing a (loss 0.5) although both are one step up.
    table = pd.DataFrame({"a": ["x", "x", "y", "y"], "b": [1, 2, 1, 2]})
    hierarchies: dict[str, Any] = {"b": Generalization.from_levels([{1: "1-2", 2: "1-2"}, {"1-2": "*"}])}
    anonymizer = KAnonymizer(["a", "b"], k=2, max_suppression=0, hierarchies=hierarchies)
    result = anonymizer.fit_transform(table)
    assert result.levels == {"a": 0, "b": 1} and anonymizer.loss_ == 0.25
    assert result.table["b"].tolist() == ["1-2"] * 4 and result.labels["b"] == "b: level 1"
    # Without a middle level on b, both one-step nodes cost 0.5; ties go to less suppression then
    # discernibility, here equal, then to the first node: b suppressed, a kept.
    anonymizer = KAnonymizer(["a", "b"], k=2, max_suppression=0, hierarchies={"b": [{1: "*", 2: "*"}]})
    assert anonymizer.fit(table).levels_ == {"a": 0, "b": 1}


def test_impossible_targets_say_what_is_reachable() -> None:
    table = patients(30)
    with pytest.raises(AnonymizationError, match=r"cannot reach k=50 .* best k within that budget is 30, and "
                                                 r"reaching the target would need suppressing 30 rows \(100.0%\)"):
        KAnonymizer(QIS, k=50).fit(table)
    # A custom top level that still splits the rows: the best k is 10 with no suppression allowed.
    split = {"sex": [lambda s: s], "age": [lambda s: s * 0], "zip": [lambda s: s.str[:0]],
             "birth_date": [lambda s: s.str[:0]]}
    table = pd.DataFrame({"age": [30] * 20, "zip": ["1"] * 20, "birth_date": ["2000-01-01"] * 20,
                          "sex": ["F"] * 10 + ["M"] * 10, "diagnosis": ["flu"] * 19 + ["asthma"]})
    with pytest.raises(AnonymizationError, match="best k within that budget is 10") as error:
        KAnonymizer(QIS, k=12, hierarchies=split, max_suppression=0).fit(table)
    assert error.value.best_k == 10 and error.value.rows_needed == 20
    with pytest.raises(AnonymizationError, match="k=2, l=2 .* the best l is 1"):
        KAnonymizer(QIS, k=2, l=2, sensitive="diagnosis", hierarchies=split, max_suppression=0).fit(table)


def test_bad_parameters_and_lattice_size() -> None:
    table = patients(20)
    for kwargs, message in [({"k": 0}, "k must"), ({"l": 2}, "sensitive column"), ({"max_suppression": 1.0},
                            "max_suppression"), ({"suppress": "hide"}, "suppress"),
                            ({"hierarchies": {"diagnosis": []}}, "not quasi-identifiers")]:
        with pytest.raises(ValueError, match=message):
            KAnonymizer(QIS, **kwargs).fit(table)
    with pytest.raises(ValueError, match=r"lattice has 240 nodes \(age 5 x zip 6 x birth_date 4 x sex 2\)"):
        KAnonymizer(QIS, max_lattice_size=100).fit(table)
    with pytest.raises(RuntimeError, match="not fitted"):
        KAnonymizer(QIS).transform(table)


def test_invariant_is_enforced() -> None:
    m = measure(pd.DataFrame({"a": [1]}), ["a"])
    with pytest.raises(ValueError, match="rows not accounted for"):
        AnonymizedTable(table=pd.DataFrame({"a": [1]}), levels={}, labels={}, suppressed_rows=(0,),
                        suppressed=pd.DataFrame({"a": [1]}), before=m, after=m, input_rows=1, output_rows=1)


def test_empty_table_passes_through() -> None:
    result = KAnonymizer(QIS, k=5).fit_transform(patients(0))
    assert result.output_rows == 0 and result.suppressed_rows == () and result.after.k == 0


def test_transform_on_new_rows_keeps_the_target() -> None:
    anonymizer = KAnonymizer(QIS, k=5, sensitive="diagnosis").fit(patients(500, seed=7))
    other = patients(300, seed=8)
    result = anonymizer.transform(other)
    assert result.levels == anonymizer.levels_
    assert brute_force(result.table, QIS)[0] >= 5
    assert result.output_rows + len(result.suppressed_rows) == 300
