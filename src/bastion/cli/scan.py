"""``bastion scan PATH...``."""

from __future__ import annotations

import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import typer

from bastion.cli.output import write_report
from bastion.config import ConfigError, load_settings
from bastion.findings import Severity
from bastion.reports import available_formats, get_format
from bastion.scan import scan


class _DelayedProgress:
    """A Rich progress bar on stderr, shown only when stderr is a terminal and the scan passes one second."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.enabled = sys.stderr.isatty()
        self.bar: Any = None
        self.task: Any = None

    def __call__(self, done: int, total: int, path: str) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            if time.monotonic() - self.started < 1.0 or done >= total:
                return
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(TextColumn("scanning"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                                TextColumn("{task.description}"), console=Console(stderr=True), transient=True)
            self.bar.start()
            self.task = self.bar.add_task("", total=total)
        self.bar.update(self.task, completed=done, total=total, description=path[-60:])

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def scan_command(
    paths: list[str] = typer.Argument(..., help="Files or directories to examine."),
    format: str = typer.Option("table", "--format", "-f", help="table, json or sarif (or a plug-in format)."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write the report here instead of stdout."),
    fail_on: str = typer.Option("medium", "--fail-on", help="Exit 1 when a finding is at or above this severity."),
    config: Path | None = typer.Option(None, "--config", help="Project file (default: ./bastion.toml if present)."),
    hash_files: bool = typer.Option(True, "--hash/--no-hash", help="Record each file's SHA-256 in the report."),
) -> None:
    """Examine model files and project trees; exit 0 clean, 1 findings at --fail-on, 2 not examined completely."""
    try:
        threshold = Severity.parse(fail_on)
        renderer = get_format(format)
        settings = replace(load_settings(config), hash_files=hash_files)
    except (ValueError, ConfigError) as exc:
        typer.echo(f"bastion scan: {exc}", err=True)
        raise typer.Exit(2) from None
    if output is not None and str(output) != "-" and not output.parent.exists() and str(output.parent):
        typer.echo(f"bastion scan: --output folder {output.parent} does not exist", err=True)
        raise typer.Exit(2)
    progress = _DelayedProgress()
    try:
        result = scan(paths, settings, progress=progress)
    finally:
        progress.close()
    if format == "table" and output is None:
        from bastion.reports import TableFormat

        renderer = TableFormat(color=sys.stdout.isatty())
    write_report(renderer.render(result), output)
    for error in result.errors:
        typer.echo(f"bastion scan: {error}", err=True)
    raise typer.Exit(result.exit_code(threshold))


__all__ = ["available_formats", "scan_command"]
