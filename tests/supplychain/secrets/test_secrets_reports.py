"""Secrets never leave in clear: masking, fingerprints, every report format, errors, and the record itself."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from secret_samples import POSITIVES, code_cell, notebook, write_notebook

from bastion.config import ConfigError, Settings
from bastion.findings import ScanResult
from bastion.reports import get_format
from bastion.scan import scan
from bastion.supplychain.secrets import SecretsCheck, find_secrets, fingerprint, mask, options_for
from bastion.supplychain.secrets.masking import key_path
from bastion.taxonomy import REFERENCES, RULES
from bastion.taxonomy.families import secrets as secret_rules


@pytest.fixture(autouse=True)
def _catalogue(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The renderers read the catalogue; until the family is wired into it, add its rules for these tests."""
    for entry in secret_rules.RULES:
        if entry.rule_id not in RULES:
            monkeypatch.setitem(RULES, entry.rule_id, entry)
    for reference in secret_rules.REFERENCES:
        if reference.ref_id not in REFERENCES:
            monkeypatch.setitem(REFERENCES, reference.ref_id, reference)
    yield


def _leaked(text: str, secret: str) -> bool:
    """The secret, or any 10 consecutive characters of it beyond its public prefix, appears in ``text``."""
    return any(secret[i:i + 10] in text for i in range(8, len(secret) - 9)) or secret in text


def _project(tmp_path: Path) -> tuple[Path, list[str]]:
    keys = [POSITIVES[d][0] for d in ("openai-project-key", "anthropic-api-key", "generic-password",
                                      "aws-secret-access-key", "huggingface-token", "wandb-api-key")]
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / ".env").write_text(f"OPENAI_API_KEY={keys[0]}\nDB_PASSWORD={keys[2]}\n")
    (folder / "app.py").write_text(f'import anthropic\nc = anthropic.Anthropic(api_key="{keys[1]}")\n'
                                   f"aws_secret_access_key = '{keys[3]}'\n")
    write_notebook(folder / "nb.ipynb", notebook([code_cell(f"login('{keys[4]}')", [
        {"output_type": "stream", "name": "stdout", "text": [f"WANDB_API_KEY={keys[5]}\n"]}])]))
    return folder, keys


def _scan(folder: Path) -> ScanResult:
    return scan([str(folder)], Settings(hash_files=False), checks=[SecretsCheck()])


@pytest.mark.parametrize("fmt", ["json", "sarif", "table"])
def test_reports_never_contain_a_secret(tmp_path: Path, fmt: str) -> None:
    folder, keys = _project(tmp_path)
    result = _scan(folder)
    assert len([f for f in result.findings if f.rule_id.startswith("BST-SEC")]) == 6
    text = get_format(fmt).render(result)
    for key in keys:
        assert not _leaked(text, key), fmt
    if fmt != "table":
        json.loads(text)


def test_findings_carry_masks_and_fingerprints_that_recognise_a_repeated_key(tmp_path: Path) -> None:
    folder, keys = _project(tmp_path)
    (folder / "copy.py").write_text(f'OPENAI_API_KEY = "{keys[0]}"\n')
    findings = [f for f in _scan(folder).findings if "OpenAI" in f.title]
    assert len(findings) == 2 and findings[0].evidence == findings[1].evidence
    assert findings[0].evidence.startswith("sk-pro...") and "fingerprint" in findings[0].evidence
    assert sorted(f.location.offset or 0 for f in findings) == [len("OPENAI_API_KEY="), len('OPENAI_API_KEY = "')]


def test_mask_shows_at_most_eight_characters() -> None:
    for detector_id, (key, line) in POSITIVES.items():
        for match in find_secrets(line):
            visible = match.masked.replace("...", "")
            assert len(visible) <= 8, detector_id
            assert key not in match.masked
    assert mask(b"sk-proj-abcdefghijklmnopqrstuvwxyz", 8) == "sk-pro...yz"
    assert mask(b"short-secret", 0) == "..."
    assert mask(b"\x00\xffabcdefghijklmnop\xfe\x01", 3) == "??a...??"


def test_fingerprint_is_keyed_stable_and_stored_privately(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = POSITIVES["groq-api-key"][0].encode()
    first = fingerprint(secret)
    assert first == fingerprint(secret) and len(first) == 16
    assert first != hashlib.sha256(secret).hexdigest()[:16]  # keyed: a report alone cannot confirm guesses
    path = key_path()
    assert path.is_file() and stat.S_IMODE(path.stat().st_mode) == 0o600 and len(path.read_bytes()) == 32
    monkeypatch.setenv("BASTION_HOME", str(tmp_path / "other-home"))
    assert fingerprint(secret) != first  # another installation, another key
    assert fingerprint(secret, key=b"k" * 32) == fingerprint(secret, key=b"k" * 32)


def test_unwritable_home_still_fingerprints_consistently(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("")
    monkeypatch.setenv("BASTION_HOME", str(blocked))
    secret = b"value"
    assert fingerprint(secret) == fingerprint(secret)


def test_match_record_holds_no_secret() -> None:
    key, line = POSITIVES["anthropic-api-key"]
    (match,) = find_secrets(line)
    assert not _leaked(repr(match), key) and not _leaked(str(vars(match)), key)


def test_allow_list_errors_never_repeat_a_pasted_secret(tmp_path: Path) -> None:
    key = POSITIVES["openai-project-key"][0]
    settings = Settings(source="bastion.toml", sections={"secrets": {"allow": [key]}})
    with pytest.raises(ConfigError) as error:
        options_for(settings)
    assert "bastion.toml" in str(error.value) and "allow[0]" in str(error.value)
    assert not _leaked(str(error.value), key)


def test_notebook_parse_errors_never_quote_the_content(tmp_path: Path) -> None:
    key = POSITIVES["groq-api-key"][0]
    (tmp_path / "bad.ipynb").write_text('{"cells": [' + f'"{key}" oops')
    result = _scan(tmp_path)
    assert not _leaked(result.targets[0].reason or "", key)
    assert not _leaked(json.dumps(result.summary()), key)


def test_key_file_is_created_once(tmp_path: Path) -> None:
    fingerprint(b"a")
    before = key_path().read_bytes()
    fingerprint(b"b")
    assert key_path().read_bytes() == before
    assert os.environ["BASTION_HOME"] in str(key_path())
