"""``uv.lock``: every locked package; the project itself (an editable or virtual ``.``) is not a dependency,
other local, git and URL sources are unaudited."""

from __future__ import annotations

from pathlib import Path, PurePath
from typing import Any

from bastion.supplychain.deps._pep508 import direct_reference_reason
from bastion.supplychain.deps._toml import array_of_tables, key_line, load_toml
from bastion.supplychain.deps.interface import Dependency, Manifest, ManifestLimits, canonical_name

_LOCAL = ("editable", "virtual", "path", "directory")


class UvLockSource:
    """``uv.lock``."""

    kind = "uv-lock"

    def recognises(self, path: str, head: bytes) -> bool:
        """Named ``uv.lock``."""
        return PurePath(path).name == "uv.lock" and b"\0" not in head

    def parse(self, path: Path, shown: str, limits: ManifestLimits) -> Manifest:
        """One dependency per ``[[package]]`` except the project's own."""
        data, lines = load_toml(path, shown, limits)
        packages = array_of_tables(data, "package", shown, limits)
        headers = lines.headers("[[package]]")
        found: list[Dependency] = []
        problems: list[str] = []
        for index, package in enumerate(packages):
            line = key_line(lines, "name", headers[index]) if index < len(headers) else None
            if not isinstance(package, dict) or not isinstance(package.get("name"), str):
                problems.append(f"{shown} line {line}: [[package]] #{index + 1} has no name; not audited")
                continue
            source = package["source"] if isinstance(package.get("source"), dict) else {}
            if any(source.get(key) == "." for key in ("editable", "virtual")):
                continue  # the project being locked
            found.append(_dependency(package, source, shown, line, lines.offset(line)))
        return Manifest(shown, self.kind, tuple(found), tuple(problems), (shown,))


def _dependency(package: dict[str, Any], source: dict[str, Any], shown: str, line: int | None,
                offset: int | None) -> Dependency:
    version = package.get("version") if isinstance(package.get("version"), str) else None
    unaudited = None
    if any(key in source for key in _LOCAL):
        unaudited = direct_reference_reason("")
    elif "git" in source:
        unaudited = direct_reference_reason("git+" + str(source["git"]))
    elif "url" in source:
        unaudited = direct_reference_reason(str(source["url"]))
    elif version is None:
        unaudited = "the lock records no version"
    artefacts = [package.get("sdist")] + list(package.get("wheels") or [])
    hashes = tuple(a["hash"] for a in artefacts if isinstance(a, dict) and isinstance(a.get("hash"), str))
    return Dependency(canonical_name(package["name"]), f"=={version}" if version else "", version, shown, line,
                      offset, hashes=hashes, unaudited=unaudited)
