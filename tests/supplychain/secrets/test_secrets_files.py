"""Which files are searched and how: text by content, encodings, bounds, hostile inputs, decoded JSON."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from secret_samples import POSITIVES, body

from bastion.config import Limits, Settings
from bastion.findings import ScanResult, TargetStatus
from bastion.scan import scan
from bastion.scan.check import Target
from bastion.supplychain.secrets import SecretsCheck

GROQ = POSITIVES["groq-api-key"][0]
XAI = POSITIVES["xai-api-key"][0]


def run(folder: Path, settings: Settings | None = None) -> ScanResult:
    return scan([str(folder)], settings or Settings(hash_files=False), checks=[SecretsCheck()])


def titles(result: ScanResult) -> list[str]:
    return [f.title for f in result.findings if f.rule_id.startswith("BST-SEC")]


def test_any_text_file_is_searched_whatever_its_name(tmp_path: Path) -> None:
    for name in ("settings.toml", "Dockerfile", "run.sh", "notes", "values.yaml", "app.ts", "data.csv"):
        (tmp_path / name).write_text(f"# {name}\nGROQ_API_KEY={GROQ}\n")
    result = run(tmp_path)
    assert titles(result) == ["Groq API key"] * 7
    for finding in result.findings:
        assert finding.location.offset == len(f"# {Path(finding.location.path).name}\nGROQ_API_KEY=")


def test_binary_files_are_not_searched(tmp_path: Path) -> None:
    (tmp_path / "weights.bin").write_bytes(b"\x00\x01\x02" + f"GROQ_API_KEY={GROQ}".encode())
    (tmp_path / "empty.txt").write_bytes(b"")
    result = run(tmp_path)
    assert titles(result) == [] and {t.status for t in result.targets} == {TargetStatus.SKIPPED}


def test_utf16_and_invalid_utf8_text_is_searched(tmp_path: Path) -> None:
    (tmp_path / "win.txt").write_bytes(b"\xff\xfe" + f"GROQ_API_KEY={GROQ}\r\n".encode("utf-16-le"))
    (tmp_path / "latin.txt").write_bytes(b"caf\xe9 \xff\xfe\xfd XAI_API_KEY=" + XAI.encode() + b"\n")
    result = run(tmp_path)
    assert sorted(titles(result)) == ["Groq API key", "xAI API key"]
    offsets = {Path(f.location.path).name: f.location.offset for f in result.findings}
    assert offsets == {"latin.txt": len(b"caf\xe9 \xff\xfe\xfd XAI_API_KEY="), "win.txt": None}  # UTF-16: line only


def test_dotenv_kind(tmp_path: Path) -> None:
    for name in (".env", ".env.production", "prod.env"):
        (tmp_path / name).write_text(f"GROQ_API_KEY={GROQ}\n")
    (tmp_path / "app.py").write_text("x = 1\n")
    kinds = {Path(t.path).name: t.kind for t in run(tmp_path).targets}
    assert kinds == {".env": "dotenv", ".env.production": "dotenv", "prod.env": "dotenv", "app.py": "unknown"}


def test_huge_single_line_is_searched_quickly(tmp_path: Path) -> None:
    (tmp_path / "minified.js").write_bytes(b"a" * 8_000_000 + b' apiKey="' + GROQ.encode() + b'"' + b"sk-" * 200_000)
    started = time.perf_counter()
    result = run(tmp_path)
    assert titles(result) == ["Groq API key"]
    assert time.perf_counter() - started < 20


def test_files_over_the_bound_are_searched_in_part_and_incomplete(tmp_path: Path) -> None:
    head = f"GROQ_API_KEY={GROQ}\n".encode()
    (tmp_path / "big.log").write_bytes(head + b"x" * 5000 + f"\nXAI_API_KEY={XAI}\n".encode())
    settings = Settings(hash_files=False, sections={"secrets": {"max_file_bytes": 4096}})
    result = run(tmp_path, settings)
    assert titles(result) == ["Groq API key"]
    (target,) = result.targets
    assert target.status is TargetStatus.INCOMPLETE and "larger than 4096 bytes" in (target.reason or "")


def test_json_escapes_are_decoded_without_double_reports(tmp_path: Path) -> None:
    escaped = XAI.replace("-", "\\u002d")
    (tmp_path / "config.json").write_text(
        '{"llm": {"groq": "' + GROQ + '", "xai": "' + escaped + '", "note": "caf\\u00e9"}}')
    result = run(tmp_path)
    assert sorted((f.title, f.location.member) for f in result.findings) == [
        ("Groq API key", None), ("xAI API key", "JSON string $.llm.xai, line 1")]


def test_time_limit_makes_the_target_incomplete(tmp_path: Path) -> None:
    (tmp_path / "slow.txt").write_bytes(b"key=" * 3_000_000)
    result = run(tmp_path, Settings(hash_files=False, limits=Limits(timeout_seconds=0.001)))
    assert result.targets[0].status is TargetStatus.INCOMPLETE
    assert "time limit" in (result.targets[0].reason or "")


def test_too_many_secrets_are_capped_and_reported(tmp_path: Path) -> None:
    lines = [f"K{i}_API_KEY=ghp_{body(i, 36)}" for i in range(1100)]
    (tmp_path / "dump.env").write_text("\n".join(lines))
    result = run(tmp_path)
    assert len(result.findings) == 1000
    assert "more than 1000 secrets" in (result.targets[0].reason or "")


def test_check_reads_the_file_once_and_never_writes(tmp_path: Path) -> None:
    path = tmp_path / "a.py"
    path.write_text(f"GROQ_API_KEY = '{GROQ}'\n")
    before = path.stat().st_mtime_ns
    outcome = SecretsCheck().examine(Target(str(path), path, path.stat().st_size), Settings())
    assert [f.title for f in outcome.findings] == ["Groq API key"] and path.stat().st_mtime_ns == before
    assert outcome.kind == "text"  # a file with findings is reported as examined, never as skipped


def test_findings_are_json_serialisable_with_byte_offsets(tmp_path: Path) -> None:
    text = f"# é\nGROQ_API_KEY={GROQ}\n"
    (tmp_path / "a.txt").write_text(text)
    (finding,) = run(tmp_path).findings
    data = text.encode()
    assert finding.location.offset is not None
    assert data[finding.location.offset:finding.location.offset + len(GROQ)].decode() == GROQ
    assert "at line 2" in finding.detail
    json.dumps(finding.to_dict())


@pytest.mark.parametrize("content", [b"\xef\xbb\xbf{" * 100, b"{" * 500_000,
                                     b'{"a": "\\ud800 ' + GROQ.encode() + b'"}'])
def test_odd_json_does_not_break_the_search(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "odd.json").write_bytes(content + b"\\u0041")
    result = run(tmp_path)
    assert result.targets[0].status is not TargetStatus.INCOMPLETE
    assert titles(result) == (["Groq API key"] if GROQ.encode() in content else [])
