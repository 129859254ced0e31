"""The Finding model shared by every check, renderer and gate. Depends on nothing else in Bastion."""

from bastion.findings.model import (
    Finding,
    Location,
    ScanResult,
    Severity,
    TargetResult,
    TargetStatus,
)

__all__ = ["Finding", "Location", "ScanResult", "Severity", "TargetResult", "TargetStatus"]
