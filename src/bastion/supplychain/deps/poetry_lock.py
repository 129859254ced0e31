"""``poetry.lock``: every locked package with its exact version; git, path and URL sources are unaudited."""

from __future__ import annotations

from pathlib import Path, PurePath
from typing import Any

from bastion.supplychain.deps._pep508 import direct_reference_reason, marker_applies_text
from bastion.supplychain.deps._toml import array_of_tables, key_line, load_toml
from bastion.supplychain.deps.interface import Dependency, Manifest, ManifestLimits, canonical_name

_UNAUDITED_SOURCES = {"git": "git+https://x", "url": "https://x", "file": "", "directory": ""}
"""Poetry source types whose code need not match a release -> a URL of that kind, for the reason text."""


class PoetryLockSource:
    """``poetry.lock`` (lock format 1.x and 2.x)."""

    kind = "poetry-lock"

    def recognises(self, path: str, head: bytes) -> bool:
        """Named ``poetry.lock``."""
        return PurePath(path).name == "poetry.lock" and b"\0" not in head

    def parse(self, path: Path, shown: str, limits: ManifestLimits) -> Manifest:
        """One dependency per ``[[package]]``."""
        data, lines = load_toml(path, shown, limits)
        packages = array_of_tables(data, "package", shown, limits)
        headers = lines.headers("[[package]]")
        found: list[Dependency] = []
        problems: list[str] = []
        for index, package in enumerate(packages):
            line = key_line(lines, "name", headers[index]) if index < len(headers) else None
            if not isinstance(package, dict) or not all(isinstance(package.get(k), str) for k in ("name", "version")):
                problems.append(f"{shown} line {line}: [[package]] #{index + 1} has no name or version; not audited")
                continue
            found.append(_dependency(package, shown, line, lines.offset(line)))
        return Manifest(shown, self.kind, tuple(found), tuple(problems), (shown,))


def _dependency(package: dict[str, Any], shown: str, line: int | None, offset: int | None) -> Dependency:
    version = package["version"]
    source = package.get("source")
    kind = source.get("type") if isinstance(source, dict) else None
    unaudited = direct_reference_reason(_UNAUDITED_SOURCES[kind]) if kind in _UNAUDITED_SOURCES else None
    groups = package.get("groups") or [package.get("category", "")]
    markers = package.get("markers") if isinstance(package.get("markers"), str) else None
    files = package["files"] if isinstance(package.get("files"), list) else []
    hashes = tuple(f["hash"] for f in files if isinstance(f, dict) and isinstance(f.get("hash"), str))
    return Dependency(canonical_name(package["name"]), f"=={version}", version, shown, line, offset, markers=markers,
                      applicable=marker_applies_text(markers), hashes=hashes, unaudited=unaudited,
                      group=",".join(str(g) for g in groups if g) if isinstance(groups, list) else "")
