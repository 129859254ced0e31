"""Argument parsing for the verbs that run before Typer is imported (``scan``, ``sign``, ``verify``).

Typer (which pulls in pydantic) costs about 0.1 s of CPU to import; these verbs run in CI and on every model
signed, so they use argparse. A usage error raises :class:`UsageError` instead of exiting, so each verb prints
``bastion VERB: message`` and returns exit code 2 in one place.
"""

from __future__ import annotations

import argparse
from typing import Any


class UsageError(Exception):
    """Bad arguments: reported as ``bastion VERB: ...`` with exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:
        raise UsageError(message)


def parser(prog: str, description: str) -> argparse.ArgumentParser:
    """An argument parser for ``prog`` whose usage errors raise :class:`UsageError`; ``--help`` exits 0."""
    return _Parser(prog=prog, description=description)


def positive_int(text: str) -> int:
    """An argparse ``type`` for counts that must be at least 1 (``--workers``)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value
