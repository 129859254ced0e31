"""``bastion bom PATH``: the CycloneDX 1.6 ML-BOM of a project folder or model file."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import typer

from bastion.cli.output import write_report
from bastion.findings import ScanResult, TargetStatus

if TYPE_CHECKING:
    from bastion.config import Settings


def bom_command(
    path: Path = typer.Argument(..., help="Project folder or model file to describe."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write the BOM here instead of stdout."),
    config: Path | None = typer.Option(None, "--config", help="Project file (default: ./bastion.toml if present)."),
) -> None:
    """Write a CycloneDX 1.6 ML-BOM: models with hashes and model cards, datasets, and findings as vulnerabilities."""
    if not path.exists():
        _fail(f"{path}: no such file or directory")
    if output is not None and str(output) != "-" and str(output.parent) and not output.parent.is_dir():
        _fail(f"--output folder {output.parent} does not exist")
    settings = _settings(config)
    from bastion.cli.scan import _DelayedProgress
    from bastion.scan import scan
    from bastion.supplychain.bom import BomValidationError, bom_json, build_bom, can_validate

    progress = _DelayedProgress()
    try:
        result = scan([str(path)], settings, progress=progress)
    finally:
        progress.close()
    validate = can_validate()
    if not validate:
        typer.echo("bastion bom: jsonschema is not installed; the BOM is not checked against the CycloneDX 1.6 "
                   "schema (pip install 'cyclonedx-python-lib[json-validation]')", err=True)
    try:
        text = bom_json(build_bom(result, str(path)), validate=validate)
    except BomValidationError as exc:  # a Bastion bug: say so rather than write a document consumers would reject
        _fail(f"internal error, no BOM written: {exc}")
    try:
        write_report(text, output)
    except OSError as exc:
        _fail(f"cannot write {output}: {exc.strerror or exc}")
    _say_if_incomplete(result)


def _settings(config: Path | None) -> Settings:
    from bastion.config import ConfigError, load_settings

    try:
        return replace(load_settings(config), hash_files=True)  # the BOM's hashes come from the scan
    except ConfigError as exc:
        _fail(str(exc))


def _say_if_incomplete(result: ScanResult) -> None:
    incomplete = [t for t in result.targets if t.status is TargetStatus.INCOMPLETE]
    if incomplete or result.errors:
        typer.echo(f"bastion bom: the scan was incomplete ({len(incomplete)} file(s) not examined completely); the "
                   "BOM was written and marks them with bastion:scan-status=incomplete", err=True)
        for target in incomplete[:10]:
            typer.echo(f"  {target.path}: {target.reason}", err=True)
        for error in result.errors:
            typer.echo(f"  {error}", err=True)


def _fail(message: str) -> NoReturn:
    typer.echo(f"bastion bom: {message}", err=True)
    raise typer.Exit(2)
