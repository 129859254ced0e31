"""The BST-DEP rules: complete, referenced, and rendered by the SARIF report once in the catalogue."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft7Validator

from bastion.config import Settings
from bastion.findings import Severity
from bastion.reports import SarifFormat
from bastion.supplychain.deps.audit import audit_paths
from bastion.taxonomy import catalogue
from bastion.taxonomy.families import deps

SARIF_SCHEMA = Path(__file__).resolve().parents[2] / "data" / "sarif-2.1.0.schema.json"


def test_rules_are_complete_and_their_references_exist() -> None:
    known = {r.ref_id for r in deps.REFERENCES} | set(catalogue.REFERENCES)
    assert [r.rule_id for r in deps.RULES] == [f"BST-DEP-00{i}" for i in range(1, 6)]
    for rule in deps.RULES:
        assert rule.title and rule.description and rule.remediation and rule.refs
        assert set(rule.refs) <= known, rule.rule_id
    severities = {r.rule_id: r.severity for r in deps.RULES}
    assert severities["BST-DEP-003"] < Severity.MEDIUM  # so a missing database exits 2 at the default --fail-on


def test_findings_render_as_valid_sarif(mini_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for rule in deps.RULES:  # as the catalogue will hold them once the family is registered
        monkeypatch.setitem(catalogue.RULES, rule.rule_id, rule)
    for reference in deps.REFERENCES:
        monkeypatch.setitem(catalogue.REFERENCES, reference.ref_id, reference)
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "requirements.txt").write_text("demo-pkg==1.1.0\nflask\ntorch==2.0.0\n")
    result = audit_paths([str(tmp_path / "p")], Settings())
    sarif = json.loads(SarifFormat().render(result))
    Draft7Validator(json.loads(SARIF_SCHEMA.read_text("utf-8"))).validate(sarif)
    rule_ids = {r["ruleId"] for r in sarif["runs"][0]["results"]}
    assert rule_ids == {"BST-DEP-001", "BST-DEP-002", "BST-DEP-005"}
    region = sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    assert region["artifactLocation"]["uri"].endswith("requirements.txt")
