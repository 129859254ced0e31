"""The interface every check implements: a pure function of a target that yields findings."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from bastion.config import Settings
from bastion.findings import Finding


@dataclass(frozen=True)
class Target:
    """One file to examine."""

    path: str
    """The path as reported: the command-line path joined with the walked relative path."""
    fs_path: Path
    """Where to read it."""
    size: int
    """Size in bytes."""


@dataclass
class CheckOutcome:
    """What one check concluded about one target."""

    kind: str | None = None
    """What the content was recognised as; None when this check does not handle it."""
    findings: list[Finding] = field(default_factory=list)
    """What it found."""
    incomplete: list[str] = field(default_factory=list)
    """Parts it could not examine, each saying what and why."""
    facts: dict[str, object] = field(default_factory=dict)
    """What the content says about itself (format, architecture, parameter count...), for reports and the ML-BOM."""


class Check(Protocol):
    """A check, registered under the ``bastion.checks`` entry-point group."""

    name: str
    """Short name shown in reports."""

    def examine(self, target: Target, settings: Settings) -> CheckOutcome:
        """Examine ``target`` without executing anything in it; bounded by ``settings.limits``."""
        ...
