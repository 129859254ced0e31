"""``bastion rules``: the rules catalogue."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from bastion.cli.output import write_report
from bastion.taxonomy import RULES, rules_markdown


def rules_command(
    format: str = typer.Option("table", "--format", "-f", help="table, json or markdown."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write here instead of stdout."),
) -> None:
    """List every rule Bastion can report, with its severity and references."""
    if format == "markdown":
        text = rules_markdown()
    elif format == "json":
        text = json.dumps([
            {"rule_id": r.rule_id, "severity": r.severity.label, "title": r.title, "description": r.description,
             "remediation": r.remediation, "refs": list(r.refs)} for r in RULES.values()
        ], indent=2) + "\n"
    elif format == "table":
        width = max(len(r.rule_id) for r in RULES.values())
        text = "".join(f"{r.rule_id:<{width}}  {r.severity.label:<8}  {r.title}\n" for r in RULES.values())
    else:
        typer.echo(f"bastion rules: unknown format {format!r}; choose one of: table, json, markdown", err=True)
        raise typer.Exit(2)
    write_report(text, output)
