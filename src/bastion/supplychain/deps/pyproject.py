"""``pyproject.toml``: PEP 621 ``dependencies`` and ``optional-dependencies``, PEP 735 ``dependency-groups``, and
Poetry's ``[tool.poetry.dependencies]`` / ``dev-dependencies`` / ``group.*.dependencies`` with caret and tilde
constraints converted to PEP 440. Build requirements (``[build-system] requires``) are not audited: they are
fetched in an isolated build environment, not installed beside the application.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePath
from typing import Any

from bastion.supplychain.deps._pep508 import (
    RequirementError,
    direct_reference_reason,
    from_pep508,
    marker_applies_text,
    unpinned_reason,
)
from bastion.supplychain.deps._text import Lines
from bastion.supplychain.deps._toml import header_line, key_line, load_toml, string_line, table
from bastion.supplychain.deps.interface import Dependency, Manifest, ManifestLimits, canonical_name

_TERM = re.compile(r"(\^|~=|~|>=|<=|!=|===|==|>|<|=)?\s*([0-9A-Za-z][0-9A-Za-z.*+!_-]*)")
_DIRECT_KEYS = ("git", "path", "url")


class PyprojectSource:
    """``pyproject.toml`` with a ``[project]`` or ``[tool.poetry]`` table."""

    kind = "pyproject"

    def recognises(self, path: str, head: bytes) -> bool:
        """Named ``pyproject.toml``."""
        return PurePath(path).name == "pyproject.toml" and b"\0" not in head

    def parse(self, path: Path, shown: str, limits: ManifestLimits) -> Manifest:
        """Every declared dependency; a malformed entry is a problem naming its key."""
        data, lines = load_toml(path, shown, limits)
        found: list[Dependency] = []
        problems: list[str] = []
        _pep621(data, lines, shown, found, problems)
        _poetry(data, lines, shown, found, problems)
        return Manifest(shown, self.kind, tuple(found), tuple(problems), (shown,))


def _pep621(data: dict[str, Any], lines: Lines, shown: str, found: list[Dependency], problems: list[str]) -> None:
    project = table(data, "project")
    start = header_line(lines, "project")
    groups: list[tuple[str, object, int | None]] = [("", project.get("dependencies", []), start)]
    for name, entries in table(project, "optional-dependencies").items():
        groups.append((f"optional-dependencies.{name}", entries, header_line(lines, "project", "optional-dependencies")
                       or start))
    for name, entries in table(data, "dependency-groups").items():
        groups.append((f"dependency-groups.{name}", entries, header_line(lines, "dependency-groups")))
    for group, entries, first in groups:
        if not isinstance(entries, list):
            problems.append(f"{shown}: [project] {group or 'dependencies'} is not a list; not audited")
            continue
        for entry in entries:
            if isinstance(entry, dict) and "include-group" in entry:
                continue  # PEP 735 include: the included group is read on its own
            if not isinstance(entry, str):
                problems.append(f"{shown}: {group or 'dependencies'} holds a non-string entry {entry!r}; not audited")
                continue
            line = string_line(lines, entry, first)
            try:
                found.append(from_pep508(entry, shown, line, lines.offset(line), group))
            except RequirementError as exc:
                problems.append(f"{shown} line {line}: invalid requirement {entry!r}: {exc}; not audited")


def _poetry(data: dict[str, Any], lines: Lines, shown: str, found: list[Dependency], problems: list[str]) -> None:
    poetry = table(data, "tool", "poetry")
    sections: list[tuple[str, tuple[str, ...]]] = [("", ("dependencies",)), ("dev", ("dev-dependencies",))]
    sections += [(f"group.{name}", ("group", name, "dependencies")) for name in table(poetry, "group")]
    for group, keys in sections:
        start = header_line(lines, "tool", "poetry", *keys)
        for name, value in table(poetry, *keys).items():
            if canonical_name(name) == "python":
                continue  # the interpreter constraint, not a package
            line = key_line(lines, name, start)
            for spec in value if isinstance(value, list) else [value]:
                where = f"{shown} line {line}"
                try:
                    found.append(_poetry_dependency(name, spec, shown, line, lines.offset(line), group))
                except ValueError as exc:
                    problems.append(f"{where}: Poetry dependency {name!r}: {exc}; not audited")


def _poetry_dependency(name: str, spec: object, shown: str, line: int | None, offset: int | None,
                       group: str) -> Dependency:
    """One Poetry entry: a constraint string, or a table with ``version``, ``extras``, ``markers``, or a
    ``git``/``path``/``url`` source."""
    extras: tuple[str, ...] = ()
    markers: str | None = None
    if isinstance(spec, dict):
        direct = next((key for key in _DIRECT_KEYS if key in spec), None)
        if direct is not None:
            url = str(spec[direct])
            reason = direct_reference_reason(f"git+{url}" if direct == "git" else url if direct == "url" else "")
            return Dependency(canonical_name(name), "", None, shown, line, offset, unaudited=reason, group=group)
        extras = tuple(str(e) for e in spec.get("extras", []) if isinstance(e, str))
        markers = spec.get("markers") if isinstance(spec.get("markers"), str) else None
        spec = spec.get("version", "*")
    if not isinstance(spec, str):
        raise ValueError(f"constraint {spec!r} is neither a string nor a table")
    specifier, version = poetry_constraint(spec)
    unaudited = None if version is not None else unpinned_reason(specifier if specifier is not None else spec)
    return Dependency(canonical_name(name), specifier if specifier is not None else spec, version, shown, line,
                      offset, extras=extras, markers=markers, applicable=marker_applies_text(markers),
                      unaudited=unaudited, group=group)


def poetry_constraint(text: str) -> tuple[str | None, str | None]:
    """A Poetry constraint as a PEP 440 specifier and the exact version it pins (``None`` when it pins none).

    ``^1.2.3`` is ``>=1.2.3,<2.0.0``, ``^0.2.3`` is ``>=0.2.3,<0.3.0``, ``~1.2`` is ``>=1.2,<1.3``, a bare ``1.2.3``
    is ``==1.2.3``, ``*`` is no constraint. The specifier is ``None`` for ``||`` unions, which PEP 440 cannot say.
    """
    from packaging.version import InvalidVersion, Version

    text = text.strip()
    if "||" in text or "|" in text:
        return None, None
    terms: list[str] = []
    for operator, version in _TERM.findall(text.replace(",", " ")):
        if version == "*":
            continue
        try:
            terms.extend(_term(operator, version, Version))
        except InvalidVersion:
            raise ValueError(f"{version!r} in {text!r} is not a version") from None
    specifier = ",".join(terms)
    exact = [t[2:] for t in terms if t.startswith("==") and not t.endswith("*")]
    return specifier, (exact[0] if len(terms) == 1 and exact else None)


def _term(operator: str, version: str, version_type: type[Any]) -> list[str]:
    if operator in ("", "=") and version.endswith("*"):
        return [f"=={version}"]
    if operator in ("", "=", "=="):
        version_type(version)
        return [f"=={version}"]
    if operator not in ("^", "~"):
        return [f"{operator}{version}"]
    release = list(version_type(version).release)
    if operator == "^":
        index = next((i for i, part in enumerate(release) if part != 0), len(release) - 1)
    else:
        index = 1 if len(release) >= 2 else 0
    upper = release[:index] + [release[index] + 1]
    return [f">={version}", "<" + ".".join(str(part) for part in upper)]
