"""The rules catalogue and its generated documentation."""

from pathlib import Path

from bastion.findings import Severity
from bastion.taxonomy import REFERENCES, RULES, rules_markdown

DOC = Path(__file__).parents[2] / "docs" / "rules.md"


def test_docs_rules_md_is_current() -> None:
    assert DOC.read_text("utf-8") == rules_markdown(), "docs/rules.md is stale: run `make rules-doc`"


def test_every_rule_is_complete_and_referenced() -> None:
    for rule in RULES.values():
        assert rule.rule_id.startswith("BST-") and rule.title and rule.description and rule.remediation
        assert rule.refs and all(ref in REFERENCES for ref in rule.refs), rule.rule_id


def test_severity_parse_and_order() -> None:
    assert Severity.parse("High") is Severity.HIGH
    assert Severity.CRITICAL > Severity.HIGH > Severity.MEDIUM > Severity.LOW > Severity.INFO
