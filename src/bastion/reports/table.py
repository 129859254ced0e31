"""The terminal report: a Rich table of findings and a summary line."""

from __future__ import annotations

import io

from bastion.findings import ScanResult, Severity, TargetStatus

_STYLE = {
    Severity.CRITICAL: "bold red",
    Severity.HIGH: "red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFO: "dim",
}


class TableFormat:
    """``--format table`` (the default)."""

    name = "table"

    def __init__(self, color: bool = False, width: int = 120) -> None:
        self.color = color
        self.width = width

    def render(self, result: ScanResult) -> str:
        """Findings, then targets that were not examined completely, then a summary."""
        if not result.findings and not self.color:
            return self._plain(result)
        from rich.console import Console
        from rich.markup import escape
        from rich.table import Table

        out = io.StringIO()
        console = Console(file=out, force_terminal=self.color, no_color=not self.color, width=self.width)
        if result.findings:
            table = Table(title="Findings", show_lines=False, expand=False)
            for column in ("severity", "rule", "location", "finding"):
                table.add_column(column, overflow="fold")
            for f in result.findings:
                where = f.location.path + (f"!{f.location.member}" if f.location.member else "")
                if f.location.offset is not None:
                    where += f" @{f.location.offset}"
                if f.location.column:
                    where += f" [{f.location.column}]"
                table.add_row(f"[{_STYLE[f.severity]}]{f.severity.label}[/]", f.rule_id, escape(where),
                              escape(f.title))
            console.print(table)
        gaps = [t for t in result.targets if t.status is TargetStatus.INCOMPLETE]
        for t in gaps:
            console.print(f"[yellow]incomplete[/] {t.path}: {t.reason}", highlight=False)
        for error in result.errors:
            console.print(f"[red]error[/] {error}", highlight=False)
        console.print(_summary_line(result), highlight=False)
        return out.getvalue()

    @staticmethod
    def _plain(result: ScanResult) -> str:
        """The same report without a findings table, and without importing Rich (30 ms on a clean CI run)."""
        lines = [f"incomplete {t.path}: {t.reason}" for t in result.targets if t.status is TargetStatus.INCOMPLETE]
        lines += [f"error {error}" for error in result.errors]
        lines.append(_summary_line(result))
        return "".join(f"{line}\n" for line in lines)


def _summary_line(result: ScanResult) -> str:
    summary = result.summary()
    counts = ", ".join(f"{n} {label}" for label, n in summary["by_severity"].items() if n) or "no findings"
    statuses = ", ".join(f"{n} {label}" for label, n in summary["by_status"].items() if n)
    return f"{summary['targets']} targets ({statuses or 'none'}); {counts}; {summary['seconds']} s"
