"""``pylock.toml`` (PEP 751): every package; VCS, directory and URL-archive packages are unaudited."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bastion.supplychain.deps._pep508 import direct_reference_reason, marker_applies_text
from bastion.supplychain.deps._toml import array_of_tables, key_line, load_toml
from bastion.supplychain.deps.interface import Dependency, Manifest, ManifestLimits, canonical_name
from bastion.supplychain.deps.names import is_pylock_name


class PylockSource:
    """``pylock.toml`` and ``pylock.NAME.toml`` holding ``lock-version``."""

    kind = "pylock"

    def recognises(self, path: str, head: bytes) -> bool:
        """Named per PEP 751, and the content has ``lock-version``."""
        return is_pylock_name(path) and b"lock-version" in head

    def parse(self, path: Path, shown: str, limits: ManifestLimits) -> Manifest:
        """One dependency per ``[[packages]]``."""
        data, lines = load_toml(path, shown, limits)
        packages = array_of_tables(data, "packages", shown, limits)
        headers = lines.headers("[[packages]]")
        found: list[Dependency] = []
        problems: list[str] = []
        for index, package in enumerate(packages):
            line = key_line(lines, "name", headers[index]) if index < len(headers) else None
            if not isinstance(package, dict) or not isinstance(package.get("name"), str):
                problems.append(f"{shown} line {line}: [[packages]] #{index + 1} has no name; not audited")
                continue
            found.append(_dependency(package, shown, line, lines.offset(line)))
        return Manifest(shown, self.kind, tuple(found), tuple(problems), (shown,))


def _dependency(package: dict[str, Any], shown: str, line: int | None, offset: int | None) -> Dependency:
    version = package.get("version") if isinstance(package.get("version"), str) else None
    unaudited = None
    if isinstance(package.get("vcs"), dict):
        unaudited = direct_reference_reason("git+" + str(package["vcs"].get("url", "")))
    elif isinstance(package.get("directory"), dict):
        unaudited = direct_reference_reason("")
    elif isinstance(package.get("archive"), dict):
        archive = package["archive"]
        unaudited = direct_reference_reason(str(archive.get("url", "")) if "url" in archive else "")
    elif version is None:
        unaudited = "the lock records no version"
    artefacts = [package.get("sdist")] + list(package.get("wheels") or [])
    hashes = tuple(f"{algorithm}:{digest}" for a in artefacts if isinstance(a, dict)
                   for algorithm, digest in (a.get("hashes") or {}).items() if isinstance(digest, str))
    marker = package.get("marker") if isinstance(package.get("marker"), str) else None
    return Dependency(canonical_name(package["name"]), f"=={version}" if version else "", version, shown, line,
                      offset, markers=marker, applicable=marker_applies_text(marker), hashes=hashes,
                      unaudited=unaudited)
