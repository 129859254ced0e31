"""Pipenv's ``Pipfile`` (TOML: ``[packages]``, ``[dev-packages]`` and other categories)."""

from __future__ import annotations

from pathlib import Path, PurePath

from bastion.supplychain.deps._pep508 import direct_reference_reason, exact_text, marker_applies_text, unpinned_reason
from bastion.supplychain.deps._toml import header_line, key_line, load_toml
from bastion.supplychain.deps.interface import Dependency, Manifest, ManifestLimits, canonical_name

_NOT_PACKAGES = frozenset({"source", "requires", "scripts", "pipenv"})
"""Pipfile tables that are not package categories."""
_DIRECT_KEYS = ("git", "hg", "svn", "bzr", "path", "file")


class PipfileSource:
    """``Pipfile``."""

    kind = "pipfile"

    def recognises(self, path: str, head: bytes) -> bool:
        """Named ``Pipfile``."""
        return PurePath(path).name == "Pipfile" and b"\0" not in head

    def parse(self, path: Path, shown: str, limits: ManifestLimits) -> Manifest:
        """Every package of every category."""
        data, lines = load_toml(path, shown, limits)
        found: list[Dependency] = []
        problems: list[str] = []
        for category, packages in data.items():
            if category in _NOT_PACKAGES or not isinstance(packages, dict):
                continue
            start = header_line(lines, category)
            for name, spec in packages.items():
                line = key_line(lines, name, start)
                dependency = _dependency(name, spec, shown, line, lines.offset(line), category)
                if dependency is None:
                    problems.append(f"{shown} line {line}: [{category}] {name}: {spec!r} is not a version "
                                    "constraint or package table; not audited")
                else:
                    found.append(dependency)
        return Manifest(shown, self.kind, tuple(found), tuple(problems), (shown,))


def _dependency(name: str, spec: object, shown: str, line: int | None, offset: int | None,
                category: str) -> Dependency | None:
    group = "" if category == "packages" else category
    markers: str | None = None
    extras: tuple[str, ...] = ()
    if isinstance(spec, dict):
        direct = next((key for key in _DIRECT_KEYS if key in spec), None)
        if direct is not None:
            url = f"{direct}+{spec[direct]}" if direct in ("git", "hg", "svn", "bzr") else str(spec[direct])
            return Dependency(canonical_name(name), "", None, shown, line, offset,
                              unaudited=direct_reference_reason(url if "://" in url else ""), group=group)
        markers = spec.get("markers") if isinstance(spec.get("markers"), str) else None
        extras = tuple(e for e in spec.get("extras", []) if isinstance(e, str))
        spec = spec.get("version", "*")
    if not isinstance(spec, str):
        return None
    specifier = "" if spec.strip() == "*" else spec.strip()
    version = exact_text(specifier)
    return Dependency(canonical_name(name), specifier, version, shown, line, offset, extras=extras, markers=markers,
                      applicable=marker_applies_text(markers),
                      unaudited=None if version is not None else unpinned_reason(specifier), group=group)
