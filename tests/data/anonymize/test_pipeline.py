"""anonymize_file and deanonymize_file: JSON Lines, text, CSV, Parquet, round trips, atomic failures, k-anonymity."""

from __future__ import annotations

import csv
import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from bastion.data.anonymize.keys import KeyMaterialError, KeyRing
from bastion.data.anonymize.operators import TOKEN
from bastion.data.anonymize.pipeline import anonymize_file, deanonymize_file, load_keys
from bastion.data.anonymize.policy import Policy, parse_policy
from bastion.data.files import DataError
from bastion.data.pii.validators import luhn_ok

MASTER = bytes.fromhex("5a" * 16 + "c3" * 16)
KEYS = KeyRing(MASTER, "test")
KEY_FORMS = (MASTER.hex(), MASTER.hex().upper())
"""How the key would show if it leaked (the hex a key file holds)."""

POLICY = parse_policy({
    "entities": {"EMAIL_ADDRESS": "encrypt", "CREDIT_CARD": "fpe", "PHONE_NUMBER": {"operator": "mask", "keep": 4},
                 "US_SSN": "pseudonymize"},
    "columns": {"card": {"operator": "fpe", "entity": "CREDIT_CARD"}, "email": "encrypt",
                "zip": {"operator": "generalize", "zip_prefix": 3}},
}, "policy.yaml")

RECORDS: list[dict[str, Any]] = [
    {"id": "r1", "text": "Write to ann@example.com or call +44 20 7946 0958.", "lang": "en", "n": 3},
    {"id": "r2", "text": "Card 4111 1111 1111 1111, SSN 536-22-1234.", "lang": "en", "n": None},
    {"id": 3, "text": "Nothing personal here.", "score": 0.5, "tags": ["a", "b"]},
]


def _jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    return path


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _table() -> pa.Table:
    return pa.table({
        "id": pa.array([1, 2, 3], pa.int64()),
        "card": ["4111111111111111", "5500 0000 0000 0004", None],
        "email": ["a@b.co", "Carl@Example.org", "e@f.co"],
        "zip": ["02139", "10001", "94105"],
        "notes": ["call +44 20 7946 0958", "nothing to see", "mail ann@example.com"],
        "city": ["Boston", "New York", "SF"],
        "amount": pa.array([1.5, 2.5, None], pa.float64()),
    })


def _leftovers(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir() if path.name.startswith(".") or path.suffix == ".tmp")


def _assert_no_key(*texts: str) -> None:
    for text in texts:
        for form in KEY_FORMS:
            assert form not in text


def test_jsonl_text_field_is_anonymised_and_the_rest_untouched(tmp_path: Path) -> None:
    source = _jsonl(tmp_path / "chat.jsonl", RECORDS)
    report = anonymize_file(source, tmp_path / "out.jsonl", POLICY, KEYS)
    out = _read_jsonl(tmp_path / "out.jsonl")
    assert report.records == report.written == len(out) == 3
    assert [record["id"] for record in out] == ["r1", "r2", 3]
    for before, after in zip(RECORDS, out, strict=True):
        assert {k: v for k, v in after.items() if k != "text"} == {k: v for k, v in before.items() if k != "text"}
    first, second = out[0]["text"], out[1]["text"]
    assert "ann@example.com" not in first and TOKEN.search(first) is not None
    assert first.endswith("or call +** ** **** 0958.")
    assert "4111 1111 1111 1111" not in second and "536-22-1234" not in second
    card = second[len("Card "):len("Card 4111 1111 1111 1111")]
    assert luhn_ok(card) and card[4] == " "
    assert "<US_SSN_" in second
    assert out[2]["text"] == "Nothing personal here."
    assert report.replaced == {"CREDIT_CARD:fpe": 1, "EMAIL_ADDRESS:encrypt": 1, "PHONE_NUMBER:mask": 1,
                               "US_SSN:pseudonymize": 1}


def test_jsonl_placeholders_are_numbered_per_record(tmp_path: Path) -> None:
    source = _jsonl(tmp_path / "in.jsonl", [{"text": "a@b.co, c@d.co, a@b.co"}, {"text": "c@d.co"}])
    anonymize_file(source, tmp_path / "out.jsonl", parse_policy({}), None)
    assert [r["text"] for r in _read_jsonl(tmp_path / "out.jsonl")] == [
        "<EMAIL_ADDRESS_1>, <EMAIL_ADDRESS_2>, <EMAIL_ADDRESS_1>", "<EMAIL_ADDRESS_1>"]


def test_jsonl_listed_fields_and_column_rules(tmp_path: Path) -> None:
    policy = parse_policy({"text_fields": ["body", "title"], "columns": {"user": {"operator": "pseudonymize",
                                                                                  "entity": "EMAIL_ADDRESS"}}})
    source = _jsonl(tmp_path / "in.jsonl", [
        {"title": "from ann@example.com", "body": "ssn 536-22-1234", "text": "x@y.org", "user": "Ann@Example.com"}])
    anonymize_file(source, tmp_path / "out.jsonl", policy, KEYS)
    [out] = _read_jsonl(tmp_path / "out.jsonl")
    assert out["title"] == "from <EMAIL_ADDRESS_1>" and out["body"] == "ssn <US_SSN_1>"
    assert out["text"] == "x@y.org"  # not a listed text field
    assert out["user"].startswith("<EMAIL_ADDRESS_")
    assert "ann" not in out["user"].lower()


def test_jsonl_refuses_a_nested_value_under_a_rule(tmp_path: Path) -> None:
    source = _jsonl(tmp_path / "in.jsonl", [{"text": "ok"}, {"text": {"nested": "a@b.co"}}])
    with pytest.raises(DataError, match=r"in\.jsonl: line 2: field 'text': is dict"):
        anonymize_file(source, tmp_path / "out.jsonl", parse_policy({}), None)
    assert not (tmp_path / "out.jsonl").exists() and _leftovers(tmp_path) == []


def test_text_file_is_anonymised_line_by_line_as_one_document(tmp_path: Path) -> None:
    source = tmp_path / "notes.txt"
    source.write_text("Ann: ann@example.com\n\nBob: bob@example.org, again ann@example.com\n", encoding="utf-8")
    report = anonymize_file(source, tmp_path / "out.txt", parse_policy({}), None)
    assert (tmp_path / "out.txt").read_text(encoding="utf-8") == (
        "Ann: <EMAIL_ADDRESS_1>\n\nBob: <EMAIL_ADDRESS_2>, again <EMAIL_ADDRESS_1>\n")
    assert report.records == report.written == 3 and report.replaced == {"EMAIL_ADDRESS:replace": 3}


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_tables_search_text_columns_apply_rules_and_keep_the_rest(tmp_path: Path, fmt: str) -> None:
    source = tmp_path / f"people.{fmt}"
    if fmt == "csv":
        pacsv.write_csv(_table(), source)
    else:
        pq.write_table(_table(), source)
    report = anonymize_file(source, tmp_path / f"out.{fmt}", POLICY, KEYS)
    out = (pacsv.read_csv if fmt == "csv" else pq.read_table)(tmp_path / f"out.{fmt}")
    assert out.num_rows == report.records == report.written == 3
    assert out.column_names == _table().column_names
    rows = out.to_pylist()
    assert [row["id"] for row in rows] == [1, 2, 3]
    assert [row["amount"] for row in rows] == [1.5, 2.5, None]
    assert out.schema.field("id").type == pa.int64() and out.schema.field("amount").type == pa.float64()
    assert [row["zip"] for row in rows] == ["021**", "100**", "941**"]  # the leading zero survives CSV too
    cards = [row["card"] for row in rows]
    assert cards[0] != "4111111111111111" and len(cards[0]) == 16 and luhn_ok(cards[0])
    assert cards[1] != "5500 0000 0000 0004" and cards[1][4::5] == "   " and luhn_ok(cards[1])
    assert cards[2] in (None, "")  # a missing cell stays missing
    assert all(TOKEN.fullmatch(row["email"]) for row in rows)
    assert [row["notes"] for row in rows][:2] == ["call +** ** **** 0958", "nothing to see"]
    assert TOKEN.fullmatch(rows[2]["notes"][len("mail "):])
    assert [row["city"] for row in rows] == ["Boston", "New York", "SF"]  # searched, nothing found
    assert report.replaced["ZIP:generalize"] == 3 and report.replaced["CREDIT_CARD:fpe"] == 2


def test_numeric_columns_are_not_searched(tmp_path: Path) -> None:
    source = tmp_path / "n.csv"
    source.write_text("id,phone,text\n1,4155550123,call 415-555-0123\n", encoding="utf-8")
    anonymize_file(source, tmp_path / "o.csv", parse_policy({}), None)
    [row] = pacsv.read_csv(tmp_path / "o.csv").to_pylist()
    assert row["phone"] == 4155550123 and row["text"] == "call <PHONE_NUMBER_1>"


def _roundtrip_policy() -> Policy:
    return parse_policy({"entities": {"EMAIL_ADDRESS": "encrypt", "US_SSN": "encrypt", "PHONE_NUMBER": "redact"},
                         "columns": {"card": {"operator": "fpe", "entity": "CREDIT_CARD"},
                                     "account": {"operator": "fpe", "entity": "IBAN_CODE"},
                                     "ssn": {"operator": "fpe", "entity": "US_SSN"},
                                     "email": {"operator": "encrypt", "entity": "EMAIL_ADDRESS"},
                                     "name": {"operator": "pseudonymize", "entity": "PERSON"}}})


def test_round_trip_jsonl_restores_encrypt_fields_exactly(tmp_path: Path) -> None:
    records = [
        {"id": 1, "text": "José <jose@example.com> SSN 536-22-1234, tel +44 20 7946 0958", "email": "Ann@B.co",
         "card": "4111 1111 1111 1111", "account": "GB29 NWBK 6016 1331 9268 19", "name": "Ann"},
        {"id": 2, "text": "no data", "email": "c@d.org", "card": "5500-0000-0000-0004",
         "account": "DE89370400440532013000", "name": "Bob"},
    ]
    source = _jsonl(tmp_path / "in.jsonl", records)
    policy = _roundtrip_policy()
    anonymize_file(source, tmp_path / "anon.jsonl", policy, KEYS)
    anon = _read_jsonl(tmp_path / "anon.jsonl")
    assert "jose@example.com" not in anon[0]["text"] and "536-22-1234" not in anon[0]["text"]
    assert anon[0]["card"] != records[0]["card"] and anon[1]["account"] != records[1]["account"]
    report = deanonymize_file(tmp_path / "anon.jsonl", tmp_path / "back.jsonl", policy, KEYS)
    back = _read_jsonl(tmp_path / "back.jsonl")
    for before, after in zip(records, back, strict=True):
        assert after["email"] == before["email"] and after["card"] == before["card"]
        assert after["account"] == before["account"]
        assert after["name"] != before["name"]  # a pseudonym is one-way
    assert back[0]["text"] == "José <jose@example.com> SSN 536-22-1234, tel "  # the redacted phone is gone for good
    assert report.replaced == {"EMAIL_ADDRESS:decrypt": 3, "US_SSN:decrypt": 1}


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_round_trip_tables_restore_fpe_columns_exactly(tmp_path: Path, fmt: str) -> None:
    rng = random.Random(11)
    ssns = [f"{rng.randint(100, 899)}-{rng.randint(10, 99)}-{rng.randint(1000, 9999)}" for _ in range(40)]
    ssns[0] = "012-34-5678"  # a leading zero must survive CSV type inference both ways
    table = pa.table({"ssn": ssns, "email": [f"user{i}@example.com" for i in range(40)],
                      "card": ["4111111111111111", "0000000000000000"] * 20, "visits": list(range(40)),
                      "account": ["GB29 NWBK 6016 1331 9268 19", "DE89370400440532013000"] * 20,
                      "name": [f"Person {i}" for i in range(40)]})
    source = tmp_path / f"in.{fmt}"
    (pacsv.write_csv if fmt == "csv" else pq.write_table)(table, source)
    policy = _roundtrip_policy()
    anonymize_file(source, tmp_path / f"anon.{fmt}", policy, KEYS)
    anon = (pacsv.read_csv if fmt == "csv" else pq.read_table)(
        tmp_path / f"anon.{fmt}", **({"convert_options": pacsv.ConvertOptions(column_types={
            "ssn": pa.string(), "card": pa.string()})} if fmt == "csv" else {}))
    assert set(anon.column("ssn").to_pylist()).isdisjoint(ssns)
    report = deanonymize_file(tmp_path / f"anon.{fmt}", tmp_path / f"back.{fmt}", policy, KEYS)
    back = (pacsv.read_csv if fmt == "csv" else pq.read_table)(
        tmp_path / f"back.{fmt}", **({"convert_options": pacsv.ConvertOptions(column_types={
            "ssn": pa.string(), "card": pa.string()})} if fmt == "csv" else {}))
    assert back.column("ssn").to_pylist() == ssns
    assert back.column("card").to_pylist() == table.column("card").to_pylist()
    assert back.column("email").to_pylist() == table.column("email").to_pylist()
    assert back.column("account").to_pylist() == table.column("account").to_pylist()
    assert back.column("visits").to_pylist() == list(range(40))
    assert back.column("name").to_pylist() != table.column("name").to_pylist()  # pseudonyms stay pseudonyms
    assert report.records == 40 and report.replaced == {"EMAIL_ADDRESS:decrypt": 40}


def test_deanonymize_with_another_key_fails_and_writes_nothing(tmp_path: Path) -> None:
    source = _jsonl(tmp_path / "in.jsonl", [{"text": "ann@example.com"}])
    policy = _roundtrip_policy()
    anonymize_file(source, tmp_path / "anon.jsonl", policy, KEYS)
    with pytest.raises(DataError, match=r"anon\.jsonl: line 1: .*does not open with this key") as caught:
        deanonymize_file(tmp_path / "anon.jsonl", tmp_path / "back.jsonl", policy, KeyRing(bytes(32)))
    _assert_no_key(str(caught.value))
    assert not (tmp_path / "back.jsonl").exists() and _leftovers(tmp_path) == []


def test_the_key_never_shows_in_reports_outputs_or_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key_file = tmp_path / "pii.key"
    key_file.write_text(MASTER.hex() + "\n")
    policy = parse_policy({"key": {"file": "pii.key"}, "default": "encrypt",
                           "columns": {"card": {"operator": "fpe", "entity": "CREDIT_CARD"}}}, "p.yaml")
    keys = load_keys(policy, tmp_path)
    assert keys is not None and keys.master == MASTER and MASTER.hex() not in repr(keys)
    source = _jsonl(tmp_path / "in.jsonl", [{"text": "ann@example.com", "card": "4111111111111111"}])
    report = anonymize_file(source, tmp_path / "out.jsonl", policy, keys)
    back = deanonymize_file(tmp_path / "out.jsonl", tmp_path / "back.jsonl", policy, keys)
    _assert_no_key(json.dumps(report.to_dict()), json.dumps(back.to_dict()), repr(report),
                   (tmp_path / "out.jsonl").read_text(), (tmp_path / "back.jsonl").read_text())
    errors = []
    key_file.write_text(MASTER.hex()[:-2] + "\n")  # one byte short
    with pytest.raises(KeyMaterialError) as caught:
        load_keys(policy, tmp_path)
    errors.append(str(caught.value))
    monkeypatch.setenv("BASTION_PII_KEY", MASTER.hex() + "00")
    with pytest.raises(KeyMaterialError, match=r"\$BASTION_PII_KEY: not a 256-bit key") as caught:
        load_keys(parse_policy({"default": "encrypt"}), tmp_path)
    errors.append(str(caught.value))
    with pytest.raises(DataError) as failed:
        anonymize_file(_jsonl(tmp_path / "short.jsonl", [{"text": "x", "card": "41"}]), tmp_path / "o.jsonl",
                       policy, keys)
    errors.append(str(failed.value))
    assert "pii.key: not a 256-bit key" in errors[0]
    _assert_no_key(*errors)
    for error in errors:
        assert MASTER.hex()[:-2] not in error


def test_missing_key_names_the_variable_before_anything_is_written(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BASTION_PII_KEY", raising=False)
    with pytest.raises(KeyMaterialError, match=r"no key: \$BASTION_PII_KEY is not set"):
        load_keys(POLICY, tmp_path)
    monkeypatch.delenv("MY_PII_KEY", raising=False)
    with pytest.raises(KeyMaterialError, match=r"\$MY_PII_KEY is not set"):
        load_keys(parse_policy({"key": {"env": "MY_PII_KEY"}, "default": "encrypt"}), tmp_path)
    with pytest.raises(KeyMaterialError, match=r"key file .*nokey\.key: cannot be read"):
        load_keys(parse_policy({"key": {"file": "nokey.key"}, "default": "encrypt"}), tmp_path)
    assert load_keys(parse_policy({"default": "mask"}), tmp_path) is None  # never read when no rule needs it
    source = _jsonl(tmp_path / "in.jsonl", [{"text": "ann@example.com"}])
    with pytest.raises(DataError, match=r"in\.jsonl: line 1: field 'text': operator encrypt needs a key"):
        anonymize_file(source, tmp_path / "out.jsonl", parse_policy({"default": "encrypt"}), None)
    assert not (tmp_path / "out.jsonl").exists() and _leftovers(tmp_path) == []


def test_unreadable_input(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"missing\.csv: no such file"):
        anonymize_file(tmp_path / "missing.csv", tmp_path / "out.csv", POLICY, KEYS)
    (tmp_path / "folder.txt").mkdir()
    with pytest.raises(DataError, match=r"folder\.txt"):
        anonymize_file(tmp_path / "folder.txt", tmp_path / "out.txt", POLICY, KEYS)
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1 this is not really parquet")
    with pytest.raises(DataError, match=r"broken\.parquet: "):
        anonymize_file(broken, tmp_path / "out.parquet", POLICY, KEYS)
    for name in ("out.csv", "out.txt", "out.parquet"):
        assert not (tmp_path / name).exists()
    assert _leftovers(tmp_path) == []


def test_output_must_not_be_the_input(tmp_path: Path) -> None:
    source = _jsonl(tmp_path / "in.jsonl", RECORDS)
    with pytest.raises(DataError, match="must not be the input"):
        anonymize_file(source, source, POLICY, KEYS)
    assert _read_jsonl(source) == RECORDS


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_policy_column_missing_from_the_table_is_named(tmp_path: Path, fmt: str) -> None:
    source = tmp_path / f"t.{fmt}"
    (pacsv.write_csv if fmt == "csv" else pq.write_table)(pa.table({"card": ["4111111111111111"], "x": [1]}), source)
    policy = parse_policy({"columns": {"card": "redact", "e_mail": "redact"}}, "policy.yaml")
    with pytest.raises(DataError, match=rf"policy\.yaml: columns\.e_mail: .*t\.{fmt} has no such column "
                                        r"\(columns: card, x\)"):
        anonymize_file(source, tmp_path / f"out.{fmt}", policy, None)
    assert not (tmp_path / f"out.{fmt}").exists() and _leftovers(tmp_path) == []


@pytest.mark.parametrize(("name", "content", "place"), [
    ("mixed.txt", b"ann@example.com\nfine\ncaf\xe9 bob@example.org\n", r"mixed\.txt: line 3: not valid UTF-8"),
    ("mixed.jsonl", b'{"text": "a"}\n{"text": "caf\xe9"}\n', r"mixed\.jsonl: line 2: not valid UTF-8"),
    ("mixed.csv", b"id,text\n1,ann@example.com\n2,caf\xe9\n", r"mixed\.csv: row 1: column 'text': not valid UTF-8"),
])
def test_invalid_utf8_names_the_line_and_leaves_nothing(tmp_path: Path, name: str, content: bytes,
                                                        place: str) -> None:
    source = tmp_path / name
    source.write_bytes(content)
    target = tmp_path / f"out{source.suffix}"
    with pytest.raises(DataError, match=rf"{place}.*mix encodings"):
        anonymize_file(source, target, parse_policy({}), None)
    assert not target.exists() and _leftovers(tmp_path) == []


def test_a_failure_midway_keeps_the_previous_output(tmp_path: Path) -> None:
    source = _jsonl(tmp_path / "in.jsonl", [{"text": f"user{i}@example.com"} for i in range(50)] + [{"text": ["x"]}])
    target = tmp_path / "out.jsonl"
    target.write_text("previous run\n")
    with pytest.raises(DataError, match="line 51"):
        anonymize_file(source, target, parse_policy({}), None)
    assert target.read_text() == "previous run\n" and _leftovers(tmp_path) == []


def test_a_bad_cell_names_the_row_and_column(tmp_path: Path) -> None:
    source = tmp_path / "t.csv"
    source.write_text("card\n4111111111111111\n123\n", encoding="utf-8")
    policy = parse_policy({"columns": {"card": {"operator": "fpe", "entity": "CREDIT_CARD"}}})
    with pytest.raises(DataError, match=r"t\.csv: row 1: column 'card': fpe on a CREDIT_CARD value"):
        anonymize_file(source, tmp_path / "o.csv", policy, KEYS)
    assert not (tmp_path / "o.csv").exists() and _leftovers(tmp_path) == []


def _patients(path: Path, rows: int = 400, seed: int = 7) -> list[list[str]]:
    rng = random.Random(seed)
    data = [[str(rng.randint(20, 69)), rng.choice(["02139", "02141", "10001", "10002"]), rng.choice("MF"),
             rng.choice(["flu", "asthma", "diabetes", "none"])] for _ in range(rows)]
    data += [["97", "99950", "F", "rare"], ["18", "73301", "M", "rare"], ["88", "59001", "F", "flu"]]  # outliers
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["age", "zip", "sex", "diagnosis"])
        writer.writerows(data)
    return data


# k-anonymity: needs bastion.data.anonymize.kanon.KAnonymizer (present and importable when these were written).
@pytest.mark.parametrize(("k", "l_value"), [(5, None), (4, 2)])
def test_k_anonymity_reaches_k_and_accounts_for_every_row(tmp_path: Path, k: int, l_value: int | None) -> None:
    data = _patients(tmp_path / "patients.csv")
    goal: dict[str, Any] = {"quasi_identifiers": ["age", "zip", "sex"], "k": k, "max_suppression": 0.02}
    if l_value is not None:
        goal |= {"l": l_value, "sensitive": "diagnosis"}
    policy = parse_policy({"columns": {"zip": "keep", "diagnosis": "keep"}, "k_anonymity": goal})
    report = anonymize_file(tmp_path / "patients.csv", tmp_path / "out.csv", policy, None)
    assert report.records == len(data)
    assert report.records == report.written + len(report.suppressed)
    assert 0 < len(report.suppressed) <= 0.02 * len(data)
    assert {len(data) - 3, len(data) - 2, len(data) - 1} <= set(report.suppressed)  # the three outliers
    out = pacsv.read_csv(tmp_path / "out.csv", convert_options=pacsv.ConvertOptions(
        column_types={"age": pa.string(), "zip": pa.string()})).to_pylist()
    assert len(out) == report.written
    classes = Counter((row["age"], row["zip"], row["sex"]) for row in out)
    assert min(classes.values()) >= k
    assert report.privacy["k_before"] == 1 and report.privacy["k_after"] >= k
    assert all(row["zip"] in {"02139", "02141", "10001", "10002"} or row["zip"].endswith("*") for row in out)
    kept = [row for index, row in enumerate(data) if index not in set(report.suppressed)]
    assert Counter(row[3] for row in kept) == Counter(row["diagnosis"] for row in out)  # sensitive column untouched
    if l_value is not None:
        diagnoses: dict[tuple[str, str, str], set[str]] = {}
        for row in out:
            diagnoses.setdefault((row["age"], row["zip"], row["sex"]), set()).add(row["diagnosis"])
        assert min(len(values) for values in diagnoses.values()) >= l_value
        assert report.privacy["l_after"] >= l_value


def test_k_anonymity_is_for_tables_only(tmp_path: Path) -> None:
    source = _jsonl(tmp_path / "in.jsonl", RECORDS)
    policy = parse_policy({"k_anonymity": {"quasi_identifiers": ["zip"], "k": 2}}, "policy.yaml")
    with pytest.raises(DataError, match=r"policy\.yaml: k_anonymity applies to tables"):
        anonymize_file(source, tmp_path / "out.jsonl", policy, None)
    assert not (tmp_path / "out.jsonl").exists()


def test_deanonymize_of_a_k_anonymous_table_only_reopens_tokens(tmp_path: Path) -> None:
    data = _patients(tmp_path / "patients.csv")
    table = pacsv.read_csv(tmp_path / "patients.csv", convert_options=pacsv.ConvertOptions(
        column_types={"zip": pa.string()}))
    table = table.append_column("name", pa.array([f"Person {i}" for i in range(table.num_rows)]))
    pacsv.write_csv(table, tmp_path / "named.csv")
    policy = parse_policy({"columns": {"zip": "keep", "diagnosis": "keep",
                                       "name": {"operator": "encrypt", "entity": "PERSON"}},
                           "k_anonymity": {"quasi_identifiers": ["age", "zip", "sex"], "k": 5,
                                           "max_suppression": 0.02}})
    anonymized = anonymize_file(tmp_path / "named.csv", tmp_path / "anon.csv", policy, KEYS)
    assert anonymized.written < len(data)
    report = deanonymize_file(tmp_path / "anon.csv", tmp_path / "back.csv", policy, KEYS)
    assert report.records == report.written == anonymized.written  # nothing suppressed a second time
    assert report.suppressed == () and report.privacy == {}
    options = pacsv.ConvertOptions(column_types={"age": pa.string(), "zip": pa.string()})
    anon = pacsv.read_csv(tmp_path / "anon.csv", convert_options=options)
    back = pacsv.read_csv(tmp_path / "back.csv", convert_options=options)
    for column in ("age", "zip", "sex", "diagnosis"):  # the generalised values are left as they are
        assert back.column(column).to_pylist() == anon.column(column).to_pylist()
    kept = [index for index in range(len(data)) if index not in set(anonymized.suppressed)]
    assert back.column("name").to_pylist() == [f"Person {index}" for index in kept]


def test_deanonymize_names_the_row_of_a_value_fpe_cannot_undo(tmp_path: Path) -> None:
    source = tmp_path / "t.csv"
    source.write_text("card,n\n4111111111111111,1\n5500000000000004,2\n", encoding="utf-8")
    policy = parse_policy({"columns": {"card": {"operator": "fpe", "entity": "CREDIT_CARD"}}})
    anonymize_file(source, tmp_path / "anon.csv", policy, KEYS)
    lines = (tmp_path / "anon.csv").read_text().splitlines()
    (tmp_path / "anon.csv").write_text("\n".join([*lines[:2], '"12",2']) + "\n")  # the second card cut short
    with pytest.raises(DataError, match=r"anon\.csv: row 1: column 'card': fpe on a CREDIT_CARD value"):
        deanonymize_file(tmp_path / "anon.csv", tmp_path / "back.csv", policy, KEYS)
    assert not (tmp_path / "back.csv").exists() and _leftovers(tmp_path) == []
