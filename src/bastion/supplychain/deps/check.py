"""``DependencyCheck``: the ``bastion.checks`` plug-in that audits every dependency manifest a scan meets.

Importing this module is cheap (no packaging, sqlite3 or YAML): most scanned files are not manifests, and the
check only looks at names until one is. The advisory database is opened once per process, on first use.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from bastion.config import Settings
from bastion.scan.check import CheckOutcome, Target
from bastion.supplychain.deps.names import could_be_manifest


class DependencyCheck:
    """Audit requirements files, pyproject.toml, lock files and conda environments against OSV advisories."""

    name = "dependencies"

    def __init__(self, explicit: Iterable[str] = (), database_path: Path | None = None) -> None:
        self._explicit = frozenset(explicit)
        self._database_path = database_path

    def examine(self, target: Target, settings: Settings) -> CheckOutcome:
        """Audit ``target`` when it is a manifest; ``CheckOutcome(kind=None)`` otherwise."""
        explicit = target.path in self._explicit
        if not explicit and not could_be_manifest(target.path):
            return CheckOutcome()
        from bastion.supplychain.deps.audit import audit_file

        return audit_file(target.fs_path, target.path, settings, explicit, self._database_path)
