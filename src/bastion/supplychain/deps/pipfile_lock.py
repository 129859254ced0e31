"""Pipenv's ``Pipfile.lock`` (JSON: ``default`` and ``develop`` maps of exact versions)."""

from __future__ import annotations

import json
from pathlib import Path, PurePath
from typing import Any

from bastion.supplychain.deps._pep508 import direct_reference_reason, exact_text, marker_applies_text
from bastion.supplychain.deps._text import Lines, read_text
from bastion.supplychain.deps.interface import Dependency, Manifest, ManifestError, ManifestLimits, canonical_name

_SECTIONS = ("default", "develop")
_DIRECT_KEYS = ("git", "hg", "svn", "bzr", "path", "file")


class PipfileLockSource:
    """``Pipfile.lock``."""

    kind = "pipfile-lock"

    def recognises(self, path: str, head: bytes) -> bool:
        """Named ``Pipfile.lock`` and a JSON object."""
        return PurePath(path).name == "Pipfile.lock" and head.lstrip().startswith(b"{")

    def parse(self, path: Path, shown: str, limits: ManifestLimits) -> Manifest:
        """Every package of ``default`` and ``develop``."""
        text, bom = read_text(path, shown, limits)
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise ManifestError(f"{shown}: not valid JSON: {str(exc)[:200]}") from None
        if not isinstance(data, dict):
            raise ManifestError(f"{shown}: not a JSON object")
        lines = Lines(text, bom)
        found: list[Dependency] = []
        problems: list[str] = []
        for section in _SECTIONS:
            packages = data.get(section, {})
            if not isinstance(packages, dict):
                problems.append(f"{shown}: {section!r} is not an object; not audited")
                continue
            start = lines.find(f'"{section}"')
            for name, entry in packages.items():
                line = lines.find(f'"{name}"', start or 1) or start
                if not isinstance(entry, dict):
                    problems.append(f"{shown} line {line}: {section}.{name} is not an object; not audited")
                    continue
                found.append(_dependency(name, entry, shown, line, lines.offset(line), section))
            if len(found) > limits.max_dependencies:
                raise ManifestError(f"{shown}: more than {limits.max_dependencies:,} packages; not read")
        return Manifest(shown, self.kind, tuple(found), tuple(problems), (shown,))


def _dependency(name: str, entry: dict[str, Any], shown: str, line: int | None, offset: int | None,
                section: str) -> Dependency:
    group = "" if section == "default" else section
    markers = entry.get("markers") if isinstance(entry.get("markers"), str) else None
    hashes = tuple(h for h in entry.get("hashes", []) if isinstance(h, str))
    direct = next((key for key in _DIRECT_KEYS if key in entry), None)
    specifier = entry["version"] if isinstance(entry.get("version"), str) else ""
    version = exact_text(specifier)
    unaudited = None
    if direct is not None:
        url = f"{direct}+{entry[direct]}" if direct in ("git", "hg", "svn", "bzr") else str(entry[direct])
        unaudited, version = direct_reference_reason(url if "://" in url else ""), None
    elif version is None:
        unaudited = "the lock records no exact version"
    return Dependency(canonical_name(name), specifier, version, shown, line, offset, markers=markers,
                      applicable=marker_applies_text(markers), hashes=hashes, unaudited=unaudited, group=group)
