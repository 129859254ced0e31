"""`bastion pii keygen | anonymize | deanonymize` as users run them: files, modes, exit codes, JSON, messages."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from _cli import run_bastion as bastion

RECORDS = [
    {"id": "a", "text": "Mail ann@example.com, card 4111 1111 1111 1111.", "card": "5500 0000 0000 0004"},
    {"id": "b", "text": "Nothing personal.", "card": "4111111111111111"},
]
POLICY = """\
key: {file: pii.key}
entities:
  EMAIL_ADDRESS: encrypt
  CREDIT_CARD: {operator: mask, keep: 4}
columns:
  card: {operator: fpe, entity: CREDIT_CARD}
"""


def _setup(tmp_path: Path) -> tuple[Path, Path]:
    run = bastion("pii", "keygen", str(tmp_path / "pii.key"))
    assert run.returncode == 0, run.stderr
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY, encoding="utf-8")
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(record) + "\n" for record in RECORDS), encoding="utf-8")
    return policy, source


def test_keygen_writes_a_0600_key_and_refuses_to_overwrite(tmp_path: Path) -> None:
    key = tmp_path / "pii.key"
    run = bastion("pii", "keygen", str(key))
    assert run.returncode == 0, run.stderr
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    text = key.read_text()
    assert len(text.strip()) == 64 and int(text, 16) >= 0
    assert text.strip() not in run.stdout + run.stderr  # the key is never printed
    again = bastion("pii", "keygen", str(key))
    assert again.returncode == 2 and "already exists" in again.stderr and "--force" in again.stderr
    assert key.read_text() == text
    forced = bastion("pii", "keygen", str(key), "--force")
    assert forced.returncode == 0, forced.stderr
    assert key.read_text() != text and stat.S_IMODE(key.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["pii.key"]  # no staging file left


def test_anonymize_writes_the_output_and_the_json_report_then_deanonymize_restores(tmp_path: Path) -> None:
    policy, source = _setup(tmp_path)
    key = (tmp_path / "pii.key").read_text().strip()
    run = bastion("pii", "anonymize", str(source), str(tmp_path / "anon.jsonl"), "--policy", str(policy),
                  "--report", str(tmp_path / "report.json"))
    assert run.returncode == 0, run.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["records"] == report["written"] == 2 and report["suppressed"] == []
    assert report["replaced"] == {"CREDIT_CARD:fpe": 2, "CREDIT_CARD:mask": 1, "EMAIL_ADDRESS:encrypt": 1}
    assert report["input"] == str(source) and report["output"] == str(tmp_path / "anon.jsonl")
    anon = (tmp_path / "anon.jsonl").read_text()
    assert "ann@example.com" not in anon and "4111 1111 1111 1111" not in anon and "**** **** **** 1111" in anon
    assert key not in anon + run.stdout + run.stderr + (tmp_path / "report.json").read_text()
    back = bastion("pii", "deanonymize", str(tmp_path / "anon.jsonl"), str(tmp_path / "back.jsonl"), "-p",
                   str(policy))
    assert back.returncode == 0, back.stderr
    restored = [json.loads(line) for line in (tmp_path / "back.jsonl").read_text().splitlines()]
    assert [r["card"] for r in restored] == [r["card"] for r in RECORDS]
    assert restored[0]["text"] == "Mail ann@example.com, card **** **** **** 1111."  # masking is one-way


def test_bad_policy_exits_2_with_the_message_on_stderr(tmp_path: Path) -> None:
    _, source = _setup(tmp_path)
    bad = tmp_path / "bad.yaml"
    bad.write_text("entities:\n  SHOE_SIZE: redact\n", encoding="utf-8")
    run = bastion("pii", "anonymize", str(source), str(tmp_path / "out.jsonl"), "--policy", str(bad))
    assert run.returncode == 2
    assert f"bastion pii anonymize: {bad}: entities.SHOE_SIZE: unknown entity type" in run.stderr
    assert "Traceback" not in run.stderr and run.stdout == ""
    bad.write_text("key: {file: pii.key}\ncolumns:\n  card: {operator: fpe, alphabet: x}\n", encoding="utf-8")
    run = bastion("pii", "deanonymize", str(source), str(tmp_path / "out.jsonl"), "--policy", str(bad))
    assert run.returncode == 2 and "columns.card: operator fpe: alphabet" in run.stderr
    assert not (tmp_path / "out.jsonl").exists()


def test_missing_key_and_wrong_key_exit_2_without_output(tmp_path: Path) -> None:
    policy, source = _setup(tmp_path)
    assert bastion("pii", "anonymize", str(source), str(tmp_path / "anon.jsonl"), "-p", str(policy)).returncode == 0
    (tmp_path / "pii.key").unlink()
    run = bastion("pii", "anonymize", str(source), str(tmp_path / "out.jsonl"), "-p", str(policy))
    assert run.returncode == 2 and "pii.key: cannot be read" in run.stderr
    assert bastion("pii", "keygen", str(tmp_path / "pii.key")).returncode == 0  # a different key
    run = bastion("pii", "deanonymize", str(tmp_path / "anon.jsonl"), str(tmp_path / "back.jsonl"), "-p",
                  str(policy))
    assert run.returncode == 2 and "does not open with this key" in run.stderr and "Traceback" not in run.stderr
    assert not (tmp_path / "out.jsonl").exists() and not (tmp_path / "back.jsonl").exists()
