"""``bastion deps [PATH...] [--env]``: the dependency audit alone (what ``bastion scan`` includes for manifests)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NoReturn

import typer

from bastion.cli.output import write_report


def deps_command(
    paths: list[Path] | None = typer.Argument(None, help="Manifests or folders to audit (default: . unless --env)."),
    env: bool = typer.Option(False, "--env", help="Audit the distributions installed in this Python environment "
                             "(and record torch's CUDA build and the NVIDIA driver)."),
    fmt: str = typer.Option("table", "--format", "-f", help="table, json or sarif (or a plug-in format)."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write the report here instead of stdout."),
    fail_on: str = typer.Option("medium", "--fail-on", help="Exit 1 when a finding is at or above this severity."),
    config: Path | None = typer.Option(None, "--config", help="Project file (default: ./bastion.toml if present)."),
) -> None:
    """Audit dependencies against the local OSV advisory database; exit 0 clean, 1 findings at --fail-on,
    2 not audited completely (no database, unreadable manifest, nothing to audit)."""
    from bastion.config import ConfigError, load_settings
    from bastion.findings import ScanResult, Severity
    from bastion.reports import get_format
    from bastion.supplychain.deps.audit import audit_environment, audit_paths, summary_lines
    from bastion.supplychain.deps.config import DepsConfig

    try:
        threshold = Severity.parse(fail_on)
        renderer = get_format(fmt)
        settings = load_settings(config)
        DepsConfig.from_settings(settings)
    except (ValueError, ConfigError) as exc:
        _fail(str(exc))
    if output is not None and str(output) != "-" and str(output.parent) and not output.parent.is_dir():
        _fail(f"--output folder {output.parent} does not exist")
    given = [str(p) for p in paths or ([] if env else [Path(".")])]
    results = []
    if given:
        results.append(audit_paths(given, settings))
    if env:
        results.append(audit_environment(settings))
    result = ScanResult(tuple(t for r in results for t in r.targets),
                        tuple(sorted((f for r in results for f in r.findings),
                                     key=lambda f: (-f.severity, f.location.path, f.location.offset or 0))),
                        sum(r.seconds for r in results), tuple(e for r in results for e in r.errors))
    if fmt == "table" and output is None:
        from bastion.reports import TableFormat

        renderer = TableFormat(color=sys.stdout.isatty())
    text = renderer.render(result)
    if fmt == "table":
        text = "".join(f"{line}\n" for line in summary_lines(result)) + text
    try:
        write_report(text, output)
    except OSError as exc:
        _fail(f"cannot write {output}: {exc.strerror or exc}")
    for error in result.errors:
        typer.echo(f"bastion deps: {error}", err=True)
    raise typer.Exit(result.exit_code(threshold))


def _fail(message: str) -> NoReturn:
    typer.echo(f"bastion deps: {message}", err=True)
    raise typer.Exit(2)

