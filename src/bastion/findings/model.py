"""The one data model of Bastion: severities, locations, findings, targets and scan results."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class Severity(enum.IntEnum):
    """How bad a finding is; ordered so that comparisons mean "at least as bad as"."""

    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @property
    def label(self) -> str:
        """The lower-case name used in every output format."""
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        """Read a severity name case-insensitively; raises ValueError naming the valid choices."""
        try:
            return cls[text.strip().upper()]
        except KeyError:
            choices = ", ".join(s.label for s in cls)
            raise ValueError(f"unknown severity {text!r}; choose one of: {choices}") from None


class TargetStatus(enum.StrEnum):
    """Whether a target was examined completely."""

    SCANNED = "scanned"
    INCOMPLETE = "incomplete"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Location:
    """Where a finding was seen."""

    path: str
    """The path as given on the command line joined with the walked relative path."""
    member: str | None = None
    """The member inside an archive or container (``archive/data.pkl``, nested with ``!``), if any."""
    offset: int | None = None
    """The byte offset inside the member (or file when there is no member), if known."""
    column: str | None = None
    """The column of a table (or field of JSON Lines records) the finding is about, if any."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: always the four keys, ``None`` where unknown."""
        return {"path": self.path, "member": self.member, "offset": self.offset, "column": self.column}


@dataclass(frozen=True)
class Finding:
    """One thing a check found, in the shape every renderer and gate understands."""

    rule_id: str
    """Stable identifier of the rule in the catalogue (``bastion rules``), e.g. ``BST-PKL-001``."""
    severity: Severity
    """How bad it is; gates compare it with ``--fail-on``."""
    title: str
    """One line saying what was found."""
    detail: str
    """Why it matters and what exactly was seen."""
    location: Location
    """Where it was seen."""
    evidence: str = ""
    """A short excerpt that proves the finding (never a secret in clear)."""
    remediation: str = ""
    """What to do about it."""
    refs: tuple[str, ...] = ()
    """References into the risk taxonomy: seed risks, OWASP, MITRE ATLAS, ISO/IEC 42001, NIST AI RMF."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON form documented in ``docs/schema/scan-report.schema.json``."""
        return {
            "rule_id": self.rule_id,
            "severity": self.severity.label,
            "title": self.title,
            "detail": self.detail,
            "location": self.location.to_dict(),
            "evidence": self.evidence,
            "refs": list(self.refs),
            "remediation": self.remediation,
        }


@dataclass(frozen=True)
class TargetResult:
    """One examined target and how completely it was examined."""

    path: str
    """The path as reported (command-line path joined with the walked relative path)."""
    kind: str
    """What the content was recognised as (``pickle``, ``pytorch-zip``, ``zip``, ``unknown``...)."""
    sha256: str | None
    """SHA-256 of the file's bytes, ``None`` when it could not be read."""
    status: TargetStatus
    """``scanned`` when examined completely, ``incomplete`` when a bound or error stopped it, ``skipped``."""
    reason: str | None = None
    """Why the target is incomplete or skipped."""
    size: int | None = None
    """Size in bytes, when known."""
    facts: Mapping[str, Any] = field(default_factory=dict)
    """What the content says about itself (format, architecture, parameter count, task...), for the ML-BOM."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "path": self.path,
            "kind": self.kind,
            "sha256": self.sha256,
            "status": self.status.value,
            "reason": self.reason,
            "size": self.size,
            "facts": dict(self.facts),
        }


@dataclass(frozen=True)
class ScanResult:
    """Everything one scan produced."""

    targets: tuple[TargetResult, ...]
    """Every target seen, in walk order."""
    findings: tuple[Finding, ...]
    """Every finding, sorted by severity (worst first), then path."""
    seconds: float = 0.0
    """Wall-clock duration of the scan."""
    errors: tuple[str, ...] = field(default=())
    """Usage-level problems (a path that does not exist...), each naming the place."""

    def worst(self) -> Severity | None:
        """The highest severity among the findings, or ``None`` when there are none."""
        return max((f.severity for f in self.findings), default=None)

    def incomplete(self) -> bool:
        """Whether any target could not be examined completely, or a path was unusable."""
        return bool(self.errors) or any(t.status is TargetStatus.INCOMPLETE for t in self.targets)

    def exit_code(self, fail_on: Severity) -> int:
        """0: nothing at or above ``fail_on``; 1: findings at or above it; 2: something not examined."""
        worst = self.worst()
        if worst is not None and worst >= fail_on:
            return 1
        return 2 if self.incomplete() else 0

    def summary(self) -> dict[str, Any]:
        """Counts by severity and by target status, for reports."""
        by_severity = {s.label: 0 for s in sorted(Severity, reverse=True)}
        for f in self.findings:
            by_severity[f.severity.label] += 1
        by_status = {s.value: 0 for s in TargetStatus}
        for t in self.targets:
            by_status[t.status.value] += 1
        return {
            "targets": len(self.targets),
            "findings": len(self.findings),
            "by_severity": by_severity,
            "by_status": by_status,
            "errors": list(self.errors),
            "seconds": round(self.seconds, 3),
        }
