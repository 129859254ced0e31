"""SARIF 2.1.0 output, in the shape GitHub code scanning accepts."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

from bastion import __version__
from bastion.findings import Finding, ScanResult, Severity
from bastion.taxonomy import REFERENCES, RULES

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
# GitHub ranks alerts by security-severity (0.0-10.0), CVSS-like.
_SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
    Severity.INFO: "0.0",
}


def _rule_descriptor(rule_id: str) -> dict[str, Any]:
    entry = RULES[rule_id]
    links = "\n".join(f"- [{REFERENCES[r].title}]({REFERENCES[r].url})" for r in entry.refs)
    return {
        "id": entry.rule_id,
        "name": "".join(w.capitalize() for w in entry.title.replace("-", " ").replace("/", " ").split()),
        "shortDescription": {"text": entry.title},
        "fullDescription": {"text": entry.description},
        "help": {
            "text": f"{entry.description}\n\nRemediation: {entry.remediation}",
            "markdown": f"{entry.description}\n\n**Remediation:** {entry.remediation}\n\n{links}",
        },
        "defaultConfiguration": {"level": _LEVEL[entry.severity]},
        "properties": {
            "tags": ["security", *entry.refs],
            "security-severity": _SECURITY_SEVERITY[entry.severity],
            "precision": "high",
        },
    }


def _uri(path: str) -> str:
    """A valid URI reference: relative paths stay relative, absolute ones become file URIs; both percent-encoded."""
    if os.path.isabs(path):
        return Path(path).as_uri()
    return quote(path.replace("\\", "/"), safe="/-._~")


def _fingerprint(finding: Finding) -> str:
    """Stable across runs; the column joins only when there is one, so older fingerprints stay the same."""
    loc = finding.location
    column = f"[{loc.column}]" if loc.column else ""
    return f"{finding.rule_id}:{loc.path}:{loc.member or ''}{column}:{finding.title}"


def _result(finding: Finding, rule_index: dict[str, int]) -> dict[str, Any]:
    loc = finding.location
    message = finding.title if not loc.member else f"{finding.title} (in {loc.member})"
    if loc.column:
        message += f" (column {loc.column})"
    physical: dict[str, Any] = {"artifactLocation": {"uri": _uri(loc.path)}}
    if loc.offset is not None and not loc.member:
        physical["region"] = {"byteOffset": loc.offset}
    result: dict[str, Any] = {
        "ruleId": finding.rule_id,
        "ruleIndex": rule_index[finding.rule_id],
        "level": _LEVEL[finding.severity],
        "message": {"text": f"{message}. {finding.detail}"},
        "locations": [{"physicalLocation": physical}],
        "partialFingerprints": {
            "bastionFinding/v1": _fingerprint(finding),
        },
        "properties": {
            "severity": finding.severity.label,
            "security-severity": _SECURITY_SEVERITY[finding.severity],
            "evidence": finding.evidence,
            "remediation": finding.remediation,
            "refs": list(finding.refs),
        },
    }
    logical = [{"name": loc.member, "kind": "member"}] if loc.member else []
    logical += [{"name": loc.column, "kind": "column"}] if loc.column else []
    if logical:
        result["locations"][0]["logicalLocations"] = logical
    return result


def sarif_dict(result: ScanResult) -> dict[str, Any]:
    """The SARIF log as plain data."""
    used = sorted({f.rule_id for f in result.findings})
    rule_index = {rule_id: i for i, rule_id in enumerate(used)}
    notifications = [
        {"level": "warning", "message": {"text": f"{t.path}: {t.status.value}: {t.reason}"}}
        for t in result.targets
        if t.status.value == "incomplete"
    ]
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "Bastion",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "informationUri": "https://github.com/bastion-ai/bastion",
                        "rules": [_rule_descriptor(r) for r in used],
                    }
                },
                "invocations": [
                    {
                        "executionSuccessful": not result.incomplete(),
                        "toolExecutionNotifications": notifications,
                    }
                ],
                "results": [_result(f, rule_index) for f in result.findings],
            }
        ],
    }


class SarifFormat:
    """``--format sarif``."""

    name = "sarif"

    def render(self, result: ScanResult) -> str:
        """Indented SARIF JSON."""
        return json.dumps(sarif_dict(result), indent=2) + "\n"
