"""The terminal table: findings in a Rich table; clean plain-text runs say the same without Rich."""

from __future__ import annotations

from bastion.findings import Finding, Location, ScanResult, Severity, TargetResult, TargetStatus
from bastion.reports import TableFormat

CLEAN = TargetResult("models/a.pkl", "pickle", None, TargetStatus.SCANNED)
PARTIAL = TargetResult("models/b.pt", "torch-zip", None, TargetStatus.INCOMPLETE, "opcode limit reached")


def test_clean_run_without_colour_lists_gaps_errors_and_summary() -> None:
    result = ScanResult((CLEAN, PARTIAL), (), 0.5, ("gone.pkl: no such file or directory",))
    text = TableFormat(color=False).render(result)
    assert text.splitlines() == [
        "incomplete models/b.pt: opcode limit reached",
        "error gone.pkl: no such file or directory",
        "2 targets (1 scanned, 1 incomplete); no findings; 0.5 s",
    ]


def test_findings_are_tabulated_with_location() -> None:
    finding = Finding("BST-PKL-001", Severity.CRITICAL, "os.system is called", "detail",
                      Location("models/a.pkl", "archive/data.pkl", 42))
    text = TableFormat(color=False).render(ScanResult((CLEAN,), (finding,), 0.1))
    assert "BST-PKL-001" in text and "models/a.pkl!archive/data.pkl @42" in text
    assert "1 critical" in text.splitlines()[-1]
