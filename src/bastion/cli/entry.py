"""Console-script entry point: ``--version`` and the fast verbs run without importing the CLI framework."""

from __future__ import annotations

import sys
from importlib import import_module

FAST_VERBS = {
    "scan": "bastion.cli.scan:main",
    "sign": "bastion.cli.sign:sign_main",
    "verify": "bastion.cli.sign:verify_main",
    "drift": "bastion.cli.drift:main",
}
"""Verbs parsed with argparse (verb -> ``module:function(argv) -> exit code``): Typer and pydantic cost 0.1-0.2 s
to import, which these verbs, run in CI and on every model signed, do not pay."""


def run_verb(verb: str, argv: list[str]) -> int:
    """Run the fast verb ``verb`` with ``argv`` (the arguments after it) and return its exit code."""
    module, function = FAST_VERBS[verb].split(":")
    code: int = getattr(import_module(module), function)(argv)
    return code


def main() -> None:
    """Run the ``bastion`` command."""
    if sys.argv[1:] in (["--version"], ["-V"]):
        from bastion import __version__

        print(f"bastion {__version__}")
        return
    if len(sys.argv) > 1 and sys.argv[1] in FAST_VERBS:
        sys.exit(run_verb(sys.argv[1], sys.argv[2:]))
    from bastion.cli.app import app

    app()


if __name__ == "__main__":
    main()
