"""The [secrets] and [ai] tables: validation errors that name the file and key, and what each key does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from secret_samples import POSITIVES

from bastion.config import ConfigError, Settings, load_settings
from bastion.findings import ScanResult
from bastion.scan import scan
from bastion.supplychain.secrets import SecretsCheck, options_for

GROQ = POSITIVES["groq-api-key"][0]
GENERIC = POSITIVES["generic-secret"][1]


def settings_with(**sections: Any) -> Settings:
    return Settings(hash_files=False, source="/repo/bastion.toml", sections=sections)


def run(folder: Path, settings: Settings) -> ScanResult:
    return scan([str(folder)], settings, checks=[SecretsCheck()])


@pytest.mark.parametrize(("sections", "message"), [
    ({"secrets": {"alow": []}}, "[secrets] alow is not a known key"),
    ({"secrets": {"allow": "abc"}}, "[secrets] allow must be a list"),
    ({"secrets": {"allow": ["not-hex"]}}, "[secrets] allow[0] must be a 16-hex-digit fingerprint"),
    ({"secrets": {"disable": ["no-such-detector"]}}, "[secrets] disable: unknown detector 'no-such-detector'"),
    ({"secrets": {"exclude": [3]}}, "[secrets] exclude must be a list of non-empty strings"),
    ({"secrets": {"generic": "yes"}}, "[secrets] generic must be true or false"),
    ({"secrets": {"max_file_bytes": 0}}, "[secrets] max_file_bytes must be a positive integer"),
    ({"secrets": {"max_file_bytes": True}}, "[secrets] max_file_bytes must be a positive integer"),
    ({"ai": {"approved": ["open-ai"]}}, "[ai] approved: unknown service 'open-ai'"),
    ({"ai": {"aproved": []}}, "[ai] aproved is not a known key"),
])
def test_invalid_tables_name_the_file_and_key(sections: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as error:
        options_for(settings_with(**sections))
    assert str(error.value).startswith("/repo/bastion.toml: ") and message in str(error.value)


def test_tables_from_a_project_file(tmp_path: Path) -> None:
    path = tmp_path / "bastion.toml"
    path.write_text('[secrets]\ndisable = ["jwt"]\nexclude = ["tests/*"]\n[ai]\napproved = ["openai"]\n')
    options = options_for(load_settings(path))
    assert "jwt" not in {d.detector_id for d in options.detectors}
    assert options.exclude == ("tests/*",) and options.approved == frozenset({"openai"})
    path.write_text("[ai]\napproved = ['nope']\n")
    with pytest.raises(ConfigError, match=str(path).replace("\\", "\\\\") + r": \[ai\] approved"):
        options_for(load_settings(path))


def test_defaults() -> None:
    options = options_for(Settings())
    assert options.approved is None and options.allow == frozenset() and options.max_file_bytes == 64 * 1024 * 1024
    assert options.generic == frozenset({"generic-secret", "generic-password", "bearer-token"})


def test_allow_list_suppresses_a_reviewed_secret_by_fingerprint(tmp_path: Path) -> None:
    (tmp_path / "fixture.py").write_text(f"GROQ_API_KEY = '{GROQ}'\n{GENERIC}\n")
    (first, second) = run(tmp_path, settings_with()).findings
    fingerprint = first.evidence.split("fingerprint ")[1]
    remaining = run(tmp_path, settings_with(secrets={"allow": [fingerprint]})).findings
    assert [f.title for f in remaining] == [second.title]


def test_exclude_disable_and_generic_switches(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "fixture.py").write_text(f"GROQ_API_KEY = '{GROQ}'\n")
    (tmp_path / "app.py").write_text(f"GROQ_API_KEY = '{GROQ}'\n{GENERIC}\n")
    assert len(run(tmp_path, settings_with()).findings) == 3
    excluded = run(tmp_path, settings_with(secrets={"exclude": ["tests/*"]})).findings
    assert [f.location.path.endswith("app.py") for f in excluded] == [True, True]
    disabled = run(tmp_path, settings_with(secrets={"disable": ["groq-api-key"], "generic": False})).findings
    assert disabled == ()
