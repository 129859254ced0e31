"""The renderer interface: a format turns a ScanResult into text. Registered under ``bastion.formats``."""

from __future__ import annotations

from typing import Protocol

from bastion.findings import ScanResult


class Format(Protocol):
    """One output format."""

    name: str
    """What ``--format`` calls it."""

    def render(self, result: ScanResult) -> str:
        """The whole report as text."""
        ...
