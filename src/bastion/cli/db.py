"""``bastion db import SOURCE`` and ``bastion db status``: the local OSV advisory database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import NoReturn

import typer

app = typer.Typer(name="db", help="The local advisory database that bastion deps and scan audit against.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)


@app.command("import")
def import_command(
    source: Path = typer.Argument(..., help="A folder, .zip (OSV's all.zip) or .tar.gz of OSV records (.json/.yaml)."),
    allow_invalid: bool = typer.Option(False, "--allow-invalid", help="Skip malformed records (counted in db status) "
                                       "instead of refusing the import."),
) -> None:
    """Replace the advisory database with the PyPI advisories in SOURCE, in one transaction."""
    from bastion.supplychain.deps.database import DatabaseError, import_advisories
    from bastion.supplychain.deps.osv import SourceError

    try:
        summary = import_advisories(source, allow_invalid=allow_invalid)
    except (SourceError, DatabaseError) as exc:
        _fail("import", str(exc))
    status = summary.status
    typer.echo(f"imported {status.records:,} advisories ({status.packages:,} packages) from {source} in "
               f"{summary.seconds:.1f} s")
    skipped = [(summary.withdrawn, "withdrawn"), (summary.other_ecosystems, "affecting no PyPI package"),
               (summary.duplicates, "duplicate ids"), (summary.not_osv, "files that are not OSV records"),
               (summary.members.refused, "members refused (absolute or '..' names, oversized)"),
               (len(summary.invalid), "malformed records")]
    for count, what in skipped:
        if count:
            typer.echo(f"  skipped {count:,} {what}")
    for problem in summary.invalid[:10]:
        typer.echo(f"  malformed: {problem}", err=True)
    typer.echo(f"newest advisory modified {status.newest_modified}; database {status.path}")


@app.command("status")
def status_command(
    fmt: str = typer.Option("table", "--format", "-f", help="table or json."),
    config: Path | None = typer.Option(None, "--config", help="Project file, for [deps] max_age_days."),
) -> None:
    """Show what the advisory database holds and how old it is; exit 2 when it is missing, empty or unusable."""
    from bastion.config import ConfigError, load_settings
    from bastion.supplychain.deps.config import DepsConfig
    from bastion.supplychain.deps.database import DatabaseError, database_path, database_status

    if fmt not in ("table", "json"):
        _fail("status", f"unknown format {fmt!r}; choose one of: json, table")
    try:
        max_age = DepsConfig.from_settings(load_settings(config)).max_age_days
    except ConfigError as exc:
        _fail("status", str(exc))
    try:
        status = database_status()
    except DatabaseError as exc:
        if fmt == "json":
            typer.echo(json.dumps({"path": str(database_path()), "error": str(exc)}, indent=2))
        _fail("status", str(exc))
    data = status.to_dict()
    data["stale"] = data["age_days"] is not None and data["age_days"] > max_age
    if fmt == "json":
        typer.echo(json.dumps(data, indent=2))
    else:
        _print_status(data, max_age)
    if status.records == 0:
        raise typer.Exit(2)


def _print_status(data: dict[str, object], max_age: float) -> None:
    age = data["age_days"]
    rows = [("database", data["path"]), ("source", data["source"] or "never imported"),
            ("advisories", f"{data['records']:,} ({data['packages']:,} packages)"),
            ("newest modified", f"{data['newest_modified']} ({age} days ago)" if age is not None else "unknown"),
            ("imported at", data["imported_at"] or "never")]
    if data["invalid"]:
        rows.append(("malformed skipped", data["invalid"]))
    for label, value in rows:
        typer.echo(f"{label + ':':<17}{value}")
    if data["records"] == 0:
        typer.echo("the database is empty: audits are incomplete until bastion db import SOURCE")
    elif data["stale"]:
        typer.echo(f"stale: the newest advisory is older than [deps] max_age_days = {max_age:g}; import a fresh export")


def _fail(verb: str, message: str) -> NoReturn:
    typer.echo(f"bastion db {verb}: {message}", err=True)
    raise typer.Exit(2)
