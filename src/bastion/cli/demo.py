"""``bastion demo``: build a small AI project with a trojaned model and scan it."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from bastion.cli.output import write_report
from bastion.findings import Severity
from bastion.reports import JsonFormat, TableFormat
from bastion.scan import scan


def demo_command(
    folder: Path = typer.Argument(Path("bastion-demo"), help="Where to write the sample project."),
) -> None:
    """Write a sample AI project (benign and trojaned models, a vulnerable pin), scan it and write the report."""
    from bastion.demo import build_demo_project, install_demo_advisories

    written = build_demo_project(folder)
    # The demo keeps its state (an advisory database holding its one advisory) beside the project, so the
    # user's own $BASTION_HOME is never touched.
    home = folder / ".bastion"
    os.environ["BASTION_HOME"] = str(home)
    install_demo_advisories(home)
    typer.echo(f"Wrote a sample AI project to {folder}/ ({len(written)} files):")
    for path in written:
        typer.echo(f"  {path.relative_to(folder)}")
    typer.echo("")
    result = scan([str(folder)])
    typer.echo(TableFormat(color=False).render(result), nl=False)
    report = folder / "bastion-report.json"
    write_report(JsonFormat().render(result), report)
    typer.echo(f"\nJSON report: {report}. `bastion scan {folder}` exits {result.exit_code(Severity.MEDIUM)}: "
               "the trojaned files, the vulnerable torch pin and the leaked key are critical; the benign models raise "
               "nothing. "
               f"(The demo's advisory database is {home}/advisories.sqlite; for real audits, import a full one "
               "with `bastion db import`.)")
