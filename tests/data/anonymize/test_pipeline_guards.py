"""Guards against silent leaks: misspelt text fields, unreadable dates in free text, values kept out of reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bastion.data.anonymize.pipeline import anonymize_file
from bastion.data.anonymize.policy import parse_policy
from bastion.data.files import DataError


def test_a_text_field_no_record_has_stops_the_run_and_writes_nothing(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"body": "mail ann@example.com"}) + "\n", encoding="utf-8")
    target = tmp_path / "out.jsonl"
    with pytest.raises(DataError, match=r"no record has the text field\(s\) 'text'"):
        anonymize_file(source, target, parse_policy({}, "p.yaml"))
    assert not target.exists()
    anonymize_file(source, target, parse_policy({"text_fields": ["body"]}, "p.yaml"))
    assert json.loads(target.read_text(encoding="utf-8")) == {"body": "mail <EMAIL_ADDRESS_1>"}


def test_dates_in_words_generalise_and_unreadable_ones_get_a_placeholder(tmp_path: Path) -> None:
    source = tmp_path / "notes.txt"
    source.write_text("Born on April 12, 1987 and 12 Apr 1990; rendez-vous le 5 août 2021.\n", encoding="utf-8")
    target = tmp_path / "out.txt"
    policy = parse_policy({"entities": {"DATE_TIME": {"operator": "generalize", "to": "year"}}}, "p.yaml")
    report = anonymize_file(source, target, policy)
    assert target.read_text(encoding="utf-8") == "Born on 1987 and 1990; rendez-vous le <DATE_TIME_1>.\n"
    assert report.replaced == {"DATE_TIME:generalize": 2, "DATE_TIME:replace": 1}


def test_column_types_come_from_telling_names() -> None:
    policy = parse_policy({"columns": {"card_number": "fpe", "customerEmail": "pseudonymize", "score": "keep"}})
    assert {name: rule.entity for name, rule in policy.columns.items()} == {
        "card_number": "CREDIT_CARD", "customerEmail": "EMAIL_ADDRESS", "score": "SCORE"}


def test_k_anonymity_report_names_suppressed_rows_but_not_their_values(tmp_path: Path) -> None:
    rows = ["zip,age,diagnosis"] + [f"0213{i % 3},{30 + i % 5},flu" for i in range(60)] + ["99999,97,rare"]
    source = tmp_path / "t.csv"
    source.write_text("\n".join(rows) + "\n", encoding="utf-8")
    policy = parse_policy({"columns": {"zip": "keep", "age": "keep"},
                           "k_anonymity": {"quasi_identifiers": ["zip", "age"], "k": 3, "max_suppression": 0.05}})
    report = anonymize_file(source, tmp_path / "o.csv", policy)
    assert report.records == report.written + len(report.suppressed)
    assert 60 in report.suppressed
    assert "99999" not in json.dumps(report.to_dict())
