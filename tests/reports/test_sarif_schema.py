"""`bastion scan --format sarif` against the SARIF 2.1.0 JSON schema and what GitHub code scanning expects.

The schema is tests/data/sarif-2.1.0.schema.json (origin and licence in tests/data/SOURCE.txt).
"""

from __future__ import annotations

import io
import json
import math
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from jsonschema import Draft4Validator, Draft7Validator
from jsonschema.protocols import Validator

from _cli import BENIGN, MALFORMED, MALICIOUS, scan_report

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "data" / "sarif-2.1.0.schema.json"

LEVELS = {"error", "warning", "note"}


def bastion_sarif(*args: str, cwd: Path) -> tuple[int, dict[str, Any]]:
    """`bastion scan ARGS --format sarif`: the exit code and the parsed report."""
    return scan_report("sarif", *args, cwd=cwd)


@pytest.fixture(scope="module")
def validators() -> list[Validator]:
    """The schema as it declares itself (draft-04) and as the OASIS errata edition declares it (draft-07)."""
    schema = json.loads(SCHEMA_PATH.read_text("utf-8"))
    assert schema["properties"]["version"]["enum"] == ["2.1.0"]
    found: list[Validator] = []
    for cls in (Draft4Validator, Draft7Validator):
        cls.check_schema(schema)
        found.append(cls(schema))  # no format checker: formats are not checked
    return found


def validate(log: dict[str, Any], validators: list[Validator]) -> None:
    for validator in validators:
        errors = sorted(validator.iter_errors(log), key=lambda e: list(e.absolute_path))
        shown = "\n".join(f"{list(e.absolute_path)}: {e.message[:200]}" for e in errors[:10])
        assert not errors, f"{type(validator).__name__}:\n{shown}"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tmp/models with a malicious, a benign and a malformed pickle, and a zip holding a malicious pickle."""
    root = tmp_path_factory.mktemp("sarif")
    models = root / "models"
    models.mkdir()
    (models / "evil.pkl").write_bytes(MALICIOUS)
    (models / "good.pkl").write_bytes(BENIGN)
    (models / "broken.pkl").write_bytes(MALFORMED)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("archive/data.pkl", MALICIOUS)
    (models / "bundle.zip").write_bytes(buffer.getvalue())
    return root


@pytest.fixture(scope="module")
def sarif(project: Path) -> dict[str, Any]:
    code, log = bastion_sarif("models", cwd=project)
    assert code == 1
    return log


def test_schema_file_is_the_sarif_2_1_0_schema() -> None:
    schema = json.loads(SCHEMA_PATH.read_text("utf-8"))
    assert schema["title"] == "Static Analysis Results Format (SARIF) Version 2.1.0 JSON Schema"
    assert {"run", "result", "reportingDescriptor", "toolComponent", "message", "tool"} <= set(schema["definitions"])
    assert schema["additionalProperties"] is False and schema["required"] == ["version", "runs"]


def test_sarif_validates_against_the_schema(sarif: dict[str, Any], validators: list[Validator]) -> None:
    validate(sarif, validators)


def test_schema_is_not_vacuous(sarif: dict[str, Any], validators: list[Validator]) -> None:
    damaged = json.loads(json.dumps(sarif))
    damaged["runs"][0]["results"][0]["level"] = "critical"
    damaged["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["path"] = "x"
    for validator in validators:
        assert len(list(validator.iter_errors(damaged))) >= 2


def test_clean_and_missing_paths_validate(project: Path, validators: list[Validator]) -> None:
    code, log = bastion_sarif("models/good.pkl", cwd=project)
    assert code == 0
    validate(log, validators)
    assert log["runs"][0]["results"] == [] and log["runs"][0]["tool"]["driver"]["rules"] == []
    code, log = bastion_sarif("models/absent.pkl", cwd=project)
    assert code == 2
    validate(log, validators)
    assert log["runs"][0]["invocations"][0]["executionSuccessful"] is False


def test_github_code_scanning_expectations(sarif: dict[str, Any]) -> None:
    assert sarif["version"] == "2.1.0"
    assert isinstance(sarif["$schema"], str) and "sarif" in sarif["$schema"]
    assert len(sarif["runs"]) == 1
    run = sarif["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] == "Bastion" and driver["version"]
    rules = driver["rules"]
    ids = [r["id"] for r in rules]
    assert len(ids) == len(set(ids)), "rule ids must be unique"
    for rule in rules:
        score = rule["properties"]["security-severity"]
        assert isinstance(score, str) and math.isfinite(float(score)) and 0.0 <= float(score) <= 10.0
        assert rule["shortDescription"]["text"] and rule["fullDescription"]["text"]
        assert rule["help"]["text"] and rule["defaultConfiguration"]["level"] in LEVELS
        assert "security" in rule["properties"]["tags"]
    assert run["results"], "the fixture has findings"
    fingerprints = []
    for result in run["results"]:
        assert result["ruleId"] in ids
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["level"] in LEVELS
        assert result["message"]["text"]
        assert result["partialFingerprints"] and all(
            isinstance(v, str) and v for v in result["partialFingerprints"].values())
        fingerprints.append(json.dumps(result["partialFingerprints"], sort_keys=True))
        assert result["locations"]
        for location in result["locations"]:
            uri = location["physicalLocation"]["artifactLocation"]["uri"]
            parts = urlsplit(uri)
            assert not parts.scheme and not parts.netloc and not uri.startswith("/"), uri
            assert uri.startswith("models/") and "\\" not in uri
    assert len(fingerprints) == len(set(fingerprints)), "each alert needs its own fingerprint"


def test_results_name_the_files_and_the_archive_member(sarif: dict[str, Any]) -> None:
    results = sarif["runs"][0]["results"]

    def uri(result: dict[str, Any]) -> str:
        return str(result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"])

    evil = [r for r in results if uri(r) == "models/evil.pkl"]
    assert evil and evil[0]["ruleId"] == "BST-PKL-001" and evil[0]["level"] == "error"
    member = [r for r in results if uri(r) == "models/bundle.zip"]
    assert member and member[0]["ruleId"] == "BST-PKL-001"
    assert member[0]["locations"][0]["logicalLocations"][0]["name"] == "archive/data.pkl"
    assert "archive/data.pkl" in member[0]["message"]["text"]
    broken = [r for r in results if uri(r) == "models/broken.pkl"]
    assert broken and broken[0]["ruleId"] == "BST-PKL-011" and broken[0]["level"] == "note"
    assert not [r for r in results if uri(r) == "models/good.pkl"]
    invocation = sarif["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False
    notes = [n["message"]["text"] for n in invocation["toolExecutionNotifications"]]
    assert any(n.startswith("models/broken.pkl") for n in notes)


def test_absolute_scan_paths_give_file_uris(project: Path, validators: list[Validator]) -> None:
    _, log = bastion_sarif(str(project / "models" / "evil.pkl"), cwd=project)
    validate(log, validators)
    uri = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == (project / "models" / "evil.pkl").as_uri()


@pytest.mark.parametrize("name", ["my model.pkl", "100%.pkl", "a#b.pkl", "ünï.pkl"])
def test_uris_are_percent_encoded(tmp_path: Path, validators: list[Validator], name: str) -> None:
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / name).write_bytes(MALICIOUS)
    _, log = bastion_sarif("models", cwd=tmp_path)
    validate(log, validators)
    uri = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == "models/" + quote(name), f"{uri!r} is not a valid URI reference for {name!r}"
