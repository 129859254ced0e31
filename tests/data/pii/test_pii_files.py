"""Records and tables: streaming detection in order, column classification with exact counts, and the scan check."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bastion.compute import InProcessExecutor, ProcessPoolExecutor
from bastion.config import ConfigError, Settings
from bastion.data.files import DataError
from bastion.data.pii.records import DetectOptions, detect_records
from bastion.data.pii.tables import mask_value, name_hint, scan_table
from bastion.findings import ScanResult, Severity


def _jsonl(path: Path, records: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    return path


def test_jsonl_records_keep_order_ids_and_offsets(tmp_path: Path) -> None:
    source = _jsonl(tmp_path / "chat.jsonl", [
        {"id": "a1", "text": "mail me: ann@example.com"},
        {"text": "nothing personal"},
        {"id": 7, "text": "card 4111 1111 1111 1111"},
    ])
    results = list(detect_records(source))
    assert [r.id for r in results] == ["a1", 1, 7]
    first = results[0].to_dict()
    assert first == {"id": "a1", "entities": [{"type": "EMAIL_ADDRESS", "start": 9, "end": 24, "score": 1.0}]}
    assert results[1].to_dict()["entities"] == []
    assert results[2].to_dict(show_values=True)["entities"][0]["text"] == "4111 1111 1111 1111"


def test_missing_text_field_and_bad_utf8_name_the_line(tmp_path: Path) -> None:
    source = _jsonl(tmp_path / "a.jsonl", [{"text": "ok"}, {"body": "x"}])
    with pytest.raises(DataError, match=r"a.jsonl: line 2: no field 'text' \(its fields: body\)"):
        list(detect_records(source))
    latin = tmp_path / "b.txt"
    latin.write_bytes(b"fine\n" + "café 555\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"b.txt: line 2: not valid UTF-8.*mix encodings"):
        list(detect_records(latin))


def test_text_and_table_files_are_records(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello\ncall (415) 555-0132\n", encoding="utf-8")
    assert [bool(r.found) for r in detect_records(text)] == [False, True]
    table = tmp_path / "people.csv"
    table.write_text("id,name,contact,age\n10,Ann,ann@example.com,31\n11,Bob,,40\n", encoding="utf-8")
    results = list(detect_records(table))
    assert [r.id for r in results] == [10, 11]
    assert results[0].to_dict()["entities"] == [
        {"type": "EMAIL_ADDRESS", "start": 0, "end": 15, "score": 0.95, "field": "contact"}]


def test_process_pool_gives_the_same_results_in_order(tmp_path: Path) -> None:
    records = [{"text": f"row {i}: call (415) 555-{i:04d}" if i % 3 else f"row {i}"} for i in range(300)]
    source = _jsonl(tmp_path / "big.jsonl", records)
    expected = [r.to_dict() for r in detect_records(source, executor=InProcessExecutor())]
    with ProcessPoolExecutor(2) as pool:
        got = [r.to_dict() for r in detect_records(source, executor=pool, batch_records=40)]
    assert got == expected
    assert sum(bool(r["entities"]) for r in got) == 200


def test_options_fail_early_in_the_caller(tmp_path: Path) -> None:
    source = _jsonl(tmp_path / "x.jsonl", [{"text": "a"}])
    with pytest.raises(ValueError, match="unknown entity type"):
        list(detect_records(source, DetectOptions(entities=("NOPE",))))


def _customers(path: Path, rows: int) -> Path:
    table = pa.table({
        "customer_id": list(range(rows)),
        "first_name": ["Ann"] * rows,
        "email": [f"user{i}@example.com" for i in range(rows)],
        "ssn": [f"536-22-{1000 + i:04d}" for i in range(rows)],
        "notes": ["call me on +44 20 7946 0958" if i % 4 == 0 else "fine" for i in range(rows)],
        "amount": [1.5] * rows,
    })
    pq.write_table(table, path)
    return path


def test_scan_table_classifies_from_samples_and_counts_exactly(tmp_path: Path) -> None:
    report = scan_table(_customers(tmp_path / "c.parquet", 2000), sample_rows=100)
    by_column = {(c.column, c.entity): c for c in report.columns}
    assert report.rows == 2000 and not report.truncated
    assert by_column["email", "EMAIL_ADDRESS"].rows == 2000
    assert by_column["ssn", "US_SSN"].rows == 2000
    assert by_column["notes", "PHONE_NUMBER"].rows == 500  # counted over all rows, not the 100-row sample
    assert by_column["first_name", "PERSON"].source == "name"
    assert all("@example.com" in example and "user" not in example
               for example in by_column["email", "EMAIL_ADDRESS"].examples)
    assert ("amount", "PHONE_NUMBER") not in by_column


def test_scan_table_max_rows_truncates(tmp_path: Path) -> None:
    report = scan_table(_customers(tmp_path / "c.parquet", 500), max_rows=120)
    assert report.truncated and report.rows == 120


def test_masking_and_name_hints() -> None:
    assert mask_value("4111 1111 1111 1111") == "**** **** **** **11"
    assert mask_value("ann@example.com") == "a***@example.com"
    assert name_hint("lastName") == "PERSON" and name_hint("postal_code") == "LOCATION"
    assert name_hint("date_of_birth") == "DATE_TIME" and name_hint("amount") is None


def test_bastion_scan_reports_datasets_with_personal_data(tmp_path: Path,
                                                          scan_file: Callable[..., ScanResult]) -> None:
    _customers(tmp_path / "customers.parquet", 1500)
    (tmp_path / "clean.csv").write_text("sku,price\nA-1,3.50\nB-2,4.00\n", encoding="utf-8")
    result = scan_file(tmp_path)
    pii = [f for f in result.findings if f.rule_id.startswith("BST-PII")]
    assert {(f.location.column, f.severity) for f in pii} >= {
        ("ssn", Severity.CRITICAL), ("email", Severity.HIGH), ("notes", Severity.MEDIUM)}
    assert all(f.location.path.endswith("customers.parquet") for f in pii)
    target = next(t for t in result.targets if t.path.endswith("customers.parquet"))
    assert target.facts["rows"] == 1500


def test_pii_config_is_validated(tmp_path: Path, scan_file: Callable[..., ScanResult]) -> None:
    _customers(tmp_path / "c.parquet", 10)
    with pytest.raises(ConfigError, match=r"\[pii\] sample_row is not a known key"):
        scan_file(tmp_path, Settings(sections={"pii": {"sample_row": 5}}))
    quiet = scan_file(tmp_path, Settings(sections={"pii": {"exclude": ["*c.parquet"]}}))
    assert not [f for f in quiet.findings if f.rule_id.startswith("BST-PII")]


def test_unreadable_table_is_incomplete_not_a_crash(tmp_path: Path, scan_file: Callable[..., ScanResult]) -> None:
    (tmp_path / "broken.parquet").write_bytes(b"PAR1 this is not parquet")
    result = scan_file(tmp_path)
    target = result.targets[0]
    assert target.status.value == "incomplete" and "personal data" in (target.reason or "")
