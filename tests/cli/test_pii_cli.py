"""``bastion pii detect``: JSON Lines out, one record per input record, values only when asked, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from _cli import run_bastion


def test_detect_one_string() -> None:
    run = run_bastion("pii", "detect", "--text", "mail ann@example.com")
    assert run.returncode == 1, run.stderr
    assert json.loads(run.stdout) == {"id": 0, "entities": [
        {"type": "EMAIL_ADDRESS", "start": 5, "end": 20, "score": 1.0}]}


def test_detect_file_writes_json_lines_atomically_without_values(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"id": "r1", "body": "SSN 536-22-1234"}) + "\n" + json.dumps({"body": "hi"}) + "\n",
                      encoding="utf-8")
    out = tmp_path / "out.jsonl"
    run = run_bastion("pii", "detect", str(source), "--text-field", "body", "-o", str(out))
    assert run.returncode == 1, run.stderr
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [line["id"] for line in lines] == ["r1", 1]
    assert lines[0]["entities"][0]["type"] == "US_SSN" and "text" not in lines[0]["entities"][0]
    assert "536-22-1234" not in out.read_text(encoding="utf-8")
    shown = run_bastion("pii", "detect", str(source), "--text-field", "body", "--show-values", "--workers", "2")
    assert json.loads(shown.stdout.splitlines()[0])["entities"][0]["text"] == "536-22-1234"


def test_clean_input_exits_zero_and_bad_input_exits_two(tmp_path: Path) -> None:
    assert run_bastion("pii", "detect", "--text", "nothing to see").returncode == 0
    broken = tmp_path / "bad.jsonl"
    broken.write_text('{"text": "ok"}\n{not json\n', encoding="utf-8")
    out = tmp_path / "out.jsonl"
    run = run_bastion("pii", "detect", str(broken), "-o", str(out))
    assert run.returncode == 2 and "bad.jsonl: line 2: not JSON" in run.stderr
    assert not out.exists() and list(tmp_path.iterdir()) == [broken]
    run = run_bastion("pii", "detect", "--text", "x", "--entities", "PERSON")
    assert run.returncode == 2 and "NER plug-in" in run.stderr
