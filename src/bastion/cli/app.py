"""The Typer application; each command lives in its own module and only parses arguments."""

from __future__ import annotations

import typer

from bastion import __version__
from bastion.cli import bom, demo, keys, rules, scan, sign

app = typer.Typer(
    name="bastion",
    help="Bastion secures AI systems: it finds what can attack, leak, drift or discriminate, and helps prove it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"bastion {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(False, "--version", "-V", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """Bastion: security for AI systems."""


@app.command("scan", context_settings={"ignore_unknown_options": True, "allow_extra_args": True,
                                       "help_option_names": []})
def _scan(ctx: typer.Context) -> None:
    """Examine model files and project trees; exit 0 clean, 1 findings at --fail-on, 2 not examined completely."""
    # entry.py dispatches `scan` before Typer loads; this entry lists it in --help and serves `app()` callers.
    raise typer.Exit(scan.main(list(ctx.args)))



app.command("rules")(rules.rules_command)
app.command("demo")(demo.demo_command)
app.add_typer(keys.app, name="keys")
app.command("sign")(sign.sign_command)
app.command("verify")(sign.verify_command)
app.command("bom")(bom.bom_command)
