"""The Typer application; each command lives in its own module and only parses arguments."""

from __future__ import annotations

import typer

from bastion import __version__
from bastion.cli import bom, db, demo, deps, drift, fairness, keys, modeltest, pii, rules, scan, sign
from bastion.cli.entry import run_verb

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


_PASSTHROUGH = {"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []}


def _fast_verb(verb: str, description: str) -> None:
    """Register ``verb``, which ``entry.py`` runs with argparse before Typer loads, as a passthrough command.

    It lists the verb in ``bastion --help`` (with the argparse description as its help) and serves callers that
    embed this app: every argument, ``--help`` included, goes to the verb's own parser.
    """

    def passthrough(ctx: typer.Context) -> None:
        raise typer.Exit(run_verb(verb, list(ctx.args)))

    passthrough.__doc__ = description
    app.command(verb, help=description, context_settings=_PASSTHROUGH)(passthrough)


_fast_verb("scan", scan.DESCRIPTION)
app.command("rules")(rules.rules_command)
app.command("demo")(demo.demo_command)
app.add_typer(keys.app, name="keys")
_fast_verb("sign", sign.SIGN_DESCRIPTION)
_fast_verb("verify", sign.VERIFY_DESCRIPTION)
app.command("bom")(bom.bom_command)
app.add_typer(db.app, name="db")
app.command("deps")(deps.deps_command)
app.add_typer(pii.app, name="pii")
_fast_verb("drift", drift.DESCRIPTION)
modeltest.app.command("fairness")(fairness.fairness_command)
app.add_typer(modeltest.app, name="test")
app.command("explain")(fairness.explain_command)
app.add_typer(fairness.data_app, name="data")
