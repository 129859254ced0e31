"""pip requirements files: ``-r``/``-c`` includes, continuations, comments, hashes, markers, URLs and paths.

Includes are followed only inside the top file's folder (a scanned repository must not make Bastion read
``/etc/...``), once each (so cycles and diamonds end), to a bounded depth. Constraint files pin the versions of
requirements declared as ranges; their own entries install nothing and are not dependencies.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from bastion.supplychain.deps._pep508 import (
    ENV_VARIABLE,
    RequirementError,
    direct_reference_reason,
    from_pep508,
    is_unpinned,
)
from bastion.supplychain.deps._text import Lines, read_text
from bastion.supplychain.deps.interface import Dependency, Manifest, ManifestError, ManifestLimits, canonical_name
from bastion.supplychain.deps.names import is_requirements_name

_COMMENT = re.compile(r"(^|\s+)#.*$")
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")
_EGG = re.compile(r"#(?:.*&)?egg=([A-Za-z0-9][A-Za-z0-9._-]*)")
_ARCHIVE = (".whl", ".tar.gz", ".tgz", ".tar.bz2", ".zip", ".tar")
_INCLUDE = {"-r": False, "--requirement": False, "-c": True, "--constraint": True}
"""Include options -> whether the included file holds constraints."""
_EDITABLE = ("-e", "--editable")
_IGNORED = frozenset({
    "-i", "--index-url", "--extra-index-url", "--no-index", "-f", "--find-links", "--pre", "--trusted-host",
    "--use-feature", "--prefer-binary", "--only-binary", "--no-binary", "--require-hashes", "--progress-bar",
})
"""Global options that change where or how packages are fetched, not which versions: read and ignored."""
_TAKES_VALUE = frozenset({"-i", "--index-url", "--extra-index-url", "-f", "--find-links", "--trusted-host",
                          "--use-feature", "--only-binary", "--no-binary", "--progress-bar"})
_PER_REQUIREMENT = ("--hash", "--global-option", "--install-option", "--config-settings", "-C")


class RequirementsSource:
    """``requirements*.txt`` (and ``*.txt`` under a ``requirements/`` folder)."""

    kind = "requirements"

    def recognises(self, path: str, head: bytes) -> bool:
        """Named like a requirements file, and text rather than binary."""
        return is_requirements_name(path) and b"\0" not in head

    def parse(self, path: Path, shown: str, limits: ManifestLimits) -> Manifest:
        """Every requirement of ``path`` and what it includes."""
        reader = _Reader(limits, path.resolve().parent)
        reader.read(path, shown, depth=0, constraint=False)
        dependencies = _apply_constraints(reader.dependencies, reader.constraints)
        return Manifest(shown, self.kind, tuple(dependencies), tuple(reader.problems), tuple(reader.files))


def pip_lines(entries: list[tuple[str, int, int | None]], path: Path, shown: str, limits: ManifestLimits
              ) -> tuple[list[Dependency], list[str], list[str]]:
    """Requirement lines written inside another manifest (conda's ``pip:`` list), as (text, line, offset):
    their dependencies, problems, and the files their includes read (relative to ``path``'s folder)."""
    reader = _Reader(limits, path.resolve().parent)
    reader.seen.add(path.resolve())
    for text, number, offset in entries:
        logical = _COMMENT.sub("", text).strip()
        if logical:
            reader.line(logical, _Where(shown, number, offset), path)
    return _apply_constraints(reader.dependencies, reader.constraints), reader.problems, reader.files


@dataclass
class _Reader:
    """State of one parse: what was read, what was found, and what could not be examined."""

    limits: ManifestLimits
    root: Path
    dependencies: list[Dependency] = field(default_factory=list)
    constraints: dict[str, Dependency] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    seen: set[Path] = field(default_factory=set)

    def read(self, path: Path, shown: str, depth: int, constraint: bool) -> None:
        """Parse one file; includes recurse through ``_include``."""
        self.seen.add(path.resolve())
        self.files.append(shown)
        text, bom = read_text(path, shown, self.limits)
        lines = Lines(text, bom)
        if len(lines.lines) > self.limits.max_lines:
            self.problems.append(f"{shown}: more than {self.limits.max_lines:,} lines; the rest was not read")
        for number, logical in _logical_lines(lines.lines[: self.limits.max_lines]):
            self.line(logical, _Where(shown, number, lines.offset(number)), path, depth, constraint)

    def line(self, logical: str, where: _Where, path: Path, depth: int = 0, constraint: bool = False) -> None:
        """One logical line (comments removed) of ``path``: an option, an include or a requirement."""
        if logical.startswith("-"):
            self._option(logical, where, path, depth, constraint)
        else:
            self._requirement(logical, where, constraint)
        if len(self.dependencies) > self.limits.max_dependencies:
            raise ManifestError(f"{where.path}: more than {self.limits.max_dependencies:,} dependencies; not read")

    def _option(self, logical: str, where: _Where, path: Path, depth: int, constraint: bool) -> None:
        option, value = _split_option(logical)
        if option in _INCLUDE:
            self._include(value, where, path, depth, _INCLUDE[option])
        elif option in _EDITABLE:
            self._add(_direct(value, where, editable=True), constraint)
        elif option not in _IGNORED:
            self.problems.append(f"{where}: unknown option {option!r}; the line was not examined")

    def _include(self, value: str, where: _Where, path: Path, depth: int, constraint: bool) -> None:
        kind = "constraints" if constraint else "requirements"
        if not value or _URL.match(value) or "${" in value:
            self.problems.append(f"{where}: {kind} include {value!r} is remote, empty or uses an environment "
                                 "variable; not read")
            return
        target = (path.parent / value).resolve()
        shown = os.path.normpath(os.path.join(os.path.dirname(where.path), value))
        if not target.is_relative_to(self.root):
            self.problems.append(f"{where}: {kind} include {value!r} is outside {self.root}; not read")
        elif target in self.seen:
            return  # already read: a cycle or a file included twice
        elif depth + 1 > self.limits.max_include_depth:
            self.problems.append(f"{where}: includes nested deeper than {self.limits.max_include_depth}; "
                                 f"{value!r} not read")
        elif len(self.files) >= self.limits.max_files:
            self.problems.append(f"{where}: more than {self.limits.max_files} included files; {value!r} not read")
        elif not target.is_file():
            self.problems.append(f"{where}: {kind} include {value!r} does not exist")
        else:
            try:
                self.read(target, shown, depth + 1, constraint)
            except ManifestError as exc:
                self.problems.append(str(exc))

    def _requirement(self, logical: str, where: _Where, constraint: bool) -> None:
        text, options = _split_requirement(logical)
        hashes = tuple(value for option, value in options if option == "--hash")
        if _URL.match(text) or _looks_like_path(text):
            self._add(_direct(text, where, editable=False, hashes=hashes), constraint)
            return
        if "${" in text and (name := _NAME.match(text)):  # pip expands it from the installing environment
            self._add(Dependency(canonical_name(name.group(0)), "", None, where.path, where.line, where.offset,
                                 hashes=hashes, unaudited=ENV_VARIABLE), constraint)
            return
        try:
            dependency = from_pep508(text, where.path, where.line, where.offset, hashes=hashes)
        except RequirementError as exc:
            self.problems.append(f"{where}: invalid requirement {_clip(text)!r}: {exc}; not audited")
            return
        self._add(dependency, constraint)

    def _add(self, dependency: Dependency, constraint: bool) -> None:
        if not constraint:
            self.dependencies.append(dependency)
        elif dependency.version is not None and dependency.unaudited is None:
            self.constraints.setdefault(dependency.name, dependency)


@dataclass(frozen=True)
class _Where:
    path: str
    line: int
    offset: int | None

    def __str__(self) -> str:
        return f"{self.path} line {self.line}"


def _logical_lines(physical: list[str]) -> list[tuple[int, str]]:
    """(first line number, text) of each logical line: continuations joined, comments removed, blanks dropped."""
    out: list[tuple[int, str]] = []
    buffer: list[str] = []
    start = 0
    for number, line in enumerate(physical, start=1):
        if not buffer:
            start = number
        if line.endswith("\\") and not _COMMENT.search(line):
            buffer.append(line[:-1])
            continue
        buffer.append(line)
        logical = _COMMENT.sub("", " ".join(buffer) if len(buffer) > 1 else buffer[0]).strip()
        buffer = []
        if logical:
            out.append((start, logical))
    if buffer:
        logical = _COMMENT.sub("", " ".join(buffer)).strip()
        if logical:
            out.append((start, logical))
    return out


def _split_option(logical: str) -> tuple[str, str]:
    """``-r x``, ``-rx``, ``--requirement=x`` and ``--requirement x`` all give ``("-r"/"--requirement", "x")``."""
    head, _, rest = logical.partition(" ")
    if head.startswith("--"):
        option, equals, value = head.partition("=")
        return option, (value if equals else rest).strip()
    if len(head) > 2:  # -rfile
        return head[:2], (head[2:] + " " + rest).strip()
    return head, rest.strip()


def _split_requirement(logical: str) -> tuple[str, list[tuple[str, str]]]:
    """The requirement text and its per-requirement options (``--hash=sha256:...``) as (option, value) pairs."""
    tokens = logical.split()
    cut = next((i for i, t in enumerate(tokens) if t.startswith(_PER_REQUIREMENT)), len(tokens))
    options: list[tuple[str, str]] = []
    index = cut
    while index < len(tokens):
        option, equals, value = tokens[index].partition("=")
        if not equals and index + 1 < len(tokens) and not tokens[index + 1].startswith("-"):
            value, index = tokens[index + 1], index + 1
        options.append((option, value))
        index += 1
    return " ".join(tokens[:cut]), options


def _looks_like_path(text: str) -> bool:
    head = text.split(";")[0].strip()
    if " @ " in head or "@" in head.split("[")[0]:
        return False  # name @ url: PEP 508 handles it
    return head.startswith((".", "/", "~")) or "/" in head or "\\" in head or head.lower().endswith(_ARCHIVE)


def _direct(text: str, where: _Where, editable: bool, hashes: tuple[str, ...] = ()) -> Dependency:
    """A requirement given as a URL, VCS checkout or local path: named from ``#egg=`` or the file name."""
    target = text.split(";")[0].strip()
    egg = _EGG.search(target)
    if egg:
        name = egg.group(1)
    else:
        base = target.split("#")[0].split("?")[0].rstrip("/\\").replace("\\", "/").rsplit("/", 1)[-1]
        name = re.split(r"-\d", base, maxsplit=1)[0] if base.lower().endswith(_ARCHIVE) else base
    name = name.split("[")[0]
    name = canonical_name(name) if re.search(r"[A-Za-z0-9]", name) else target  # "-e ." has no name: show the path
    reason = direct_reference_reason(target if _URL.match(target) else "")
    if editable:
        reason = "editable install; " + reason.removeprefix("installed ")
    return Dependency(name=name, specifier="", version=None, source=where.path, line=where.line,
                      offset=where.offset, hashes=hashes, unaudited=reason)


def _apply_constraints(dependencies: list[Dependency], constraints: dict[str, Dependency]) -> list[Dependency]:
    """Requirements declared as ranges take the exact version a constraints file pins, when it satisfies them."""
    if not constraints:
        return dependencies
    from packaging.specifiers import SpecifierSet

    out = []
    for dependency in dependencies:
        pin = constraints.get(dependency.name)
        if pin is not None and pin.version is not None and is_unpinned(dependency) and SpecifierSet(
                dependency.specifier).contains(pin.version, prereleases=True):
            dependency = replace(dependency, version=pin.version, unaudited=None,
                                 resolved_by=f"{pin.source} line {pin.line}")
        out.append(dependency)
    return out


def _clip(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
