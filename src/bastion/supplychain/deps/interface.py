"""What every dependency source shares: the Dependency record, a parsed Manifest, the bounds, the source protocol."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

PYPI = "PyPI"
"""The OSV ecosystem of Python packages, the one the advisory database is matched in."""
CONDA = "conda"
"""Packages from conda channels: no OSV ecosystem covers them; they are matched by name against PyPI advisories."""

_SEPARATORS = re.compile(r"[-_.]+")


def canonical_name(name: str) -> str:
    """The PEP 503 normalised form of a project name (``Foo_Bar.baz`` -> ``foo-bar-baz``)."""
    return _SEPARATORS.sub("-", name.strip()).lower()


class ManifestError(ValueError):
    """A manifest cannot be read at all (too large, not UTF-8, invalid TOML/JSON/YAML); the message names the file."""


@dataclass(frozen=True)
class ManifestLimits:
    """Bounds on reading one manifest; exceeding one is a ManifestError or an incomplete part, never a pass."""

    max_bytes: int = 16 * 1024 * 1024
    """Largest manifest file read (a large uv.lock is a few MB)."""
    max_lines: int = 200_000
    """Lines read from one requirements file."""
    max_include_depth: int = 10
    """Nested ``-r``/``-c`` includes."""
    max_files: int = 200
    """Files read through includes, per manifest."""
    max_dependencies: int = 100_000
    """Dependencies taken from one manifest."""


@dataclass(frozen=True)
class Dependency:
    """One dependency as a manifest, lock file or environment states it."""

    name: str
    """The PEP 503 normalised project name (``scikit-learn``)."""
    specifier: str
    """The constraint as written, converted to PEP 440 where the format has its own syntax (``>=1.2,<2``); empty
    when there is none; ``==X`` for lock files and installed distributions."""
    version: str | None
    """The exact version it resolves to, when it is pinned (``==X`` or ``===X``, a lock entry, an installed
    distribution), else ``None``."""
    source: str
    """The file it was read from, as reported (an included file names itself, not the file that included it)."""
    line: int | None = None
    """1-based line in ``source`` where it is declared, when known."""
    offset: int | None = None
    """Byte offset of that line's start in ``source``, when known (findings carry it as their location offset)."""
    extras: tuple[str, ...] = ()
    """Requested extras (``requests[socks]`` -> ``("socks",)``)."""
    markers: str | None = None
    """The environment marker as written (``python_version < "3.9"``), if any."""
    applicable: bool = True
    """Whether the marker holds for the running interpreter; dependencies whose marker does not are kept (and
    audited: the manifest is also used on other platforms) and say so."""
    hashes: tuple[str, ...] = ()
    """``algorithm:digest`` hashes the manifest pins for its artefacts."""
    unaudited: str | None = None
    """Why no advisory can be matched against it (URL, VCS checkout, local path, unpinned...); ``None`` when it
    can be audited."""
    ecosystem: str = PYPI
    """``PyPI``, or ``conda`` for packages from conda channels."""
    group: str = ""
    """Where in the manifest it sits (``optional-dependencies.dev``, ``develop``, ``pip``...), empty for the main
    list."""
    resolved_by: str | None = None
    """Where the exact version came from when the declaration is a range (``poetry.lock``,
    ``constraints.txt line 3``), else ``None``."""

    @property
    def pinned(self) -> bool:
        """Whether it resolves to exactly one version."""
        return self.version is not None

    @property
    def auditable(self) -> bool:
        """Whether advisories can be matched against it."""
        return self.version is not None and self.unaudited is None

    def requirement(self) -> str:
        """``name==version`` when pinned, else ``name<specifier>`` (the evidence of findings)."""
        if self.version is not None:
            return f"{self.name}=={self.version}"
        return f"{self.name}{self.specifier}" if self.specifier else self.name


@dataclass(frozen=True)
class Manifest:
    """What one source said: its dependencies and the parts that could not be examined."""

    path: str
    """The manifest as reported."""
    kind: str
    """The format (``requirements``, ``pyproject``, ``poetry-lock``, ``uv-lock``, ``pipfile``, ``pipfile-lock``,
    ``pylock``, ``conda-environment``, ``environment``)."""
    dependencies: tuple[Dependency, ...]
    """Every dependency, in file order (includes in place)."""
    problems: tuple[str, ...] = ()
    """Parts not examined, each naming the file and line (an unknown option, an invalid line, a refused include);
    any makes the target incomplete."""
    files: tuple[str, ...] = field(default=())
    """Every file read (the manifest and what it includes), as reported."""


class DependencySource(Protocol):
    """One manifest format: recognised by file name and a content check, parsed without executing anything."""

    kind: str
    """The format name, used as the scan target's kind."""

    def recognises(self, path: str, head: bytes) -> bool:
        """Whether the file at ``path`` (as reported) whose first bytes are ``head`` is in this format."""
        ...

    def parse(self, path: Path, shown: str, limits: ManifestLimits) -> Manifest:
        """Read ``path`` (reported as ``shown``); raises ManifestError when it cannot be read at all."""
        ...
