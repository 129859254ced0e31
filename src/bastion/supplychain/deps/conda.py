"""Conda ``environment.yml``: conda package specs and the ``pip:`` subsection.

Conda packages are a different ecosystem from PyPI and OSV has no conda ecosystem. Conda-forge and defaults
build Python packages from the same upstream releases under the same version numbers, so a conda package is
matched against the PyPI advisories of the same name (``pytorch`` as ``torch`` and a few other known renames)
and marked ``ecosystem="conda"``; native packages (``openssl``, ``cudatoolkit``) have no PyPI advisories and are
therefore not audited by this database. ``name=1.2.3``, ``name==1.2.3``, ``name=1.2.3=build`` and
``name 1.2.3`` are pins; wildcards, ranges and bare names are unpinned (unaudited).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from bastion.supplychain.deps._pep508 import unpinned_reason
from bastion.supplychain.deps._text import Lines, read_text
from bastion.supplychain.deps.interface import (
    CONDA,
    Dependency,
    Manifest,
    ManifestError,
    ManifestLimits,
    canonical_name,
)
from bastion.supplychain.deps.names import is_conda_name
from bastion.supplychain.deps.requirements import pip_lines

CONDA_TO_PYPI = {
    "pytorch": "torch", "pytorch-cpu": "torch", "pytorch-gpu": "torch", "tensorflow-base": "tensorflow",
    "py-xgboost": "xgboost", "py-lightgbm": "lightgbm", "msgpack-python": "msgpack", "py-opencv": "opencv-python",
}
"""Conda package names whose PyPI project has another name."""
_SPEC = re.compile(r"^([A-Za-z0-9_][A-Za-z0-9_.+-]*)\s*(.*)$")
_EXACT = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.+!_-]*$")


class CondaEnvironmentSource:
    """``environment.yml`` / ``environment.yaml`` (and ``*environment*.yml``, ``conda*.yml``) with ``dependencies``."""

    kind = "conda-environment"

    def recognises(self, path: str, head: bytes) -> bool:
        """A YAML file named like a conda environment whose first bytes mention ``dependencies``."""
        return is_conda_name(path) and b"dependencies" in head and b"\0" not in head

    def parse(self, path: Path, shown: str, limits: ManifestLimits) -> Manifest:
        """Conda specs as ``conda`` dependencies, ``pip:`` entries as requirement lines."""
        text, bom = read_text(path, shown, limits)
        root = _compose(text, shown)
        lines = Lines(text, bom)
        entries = _mapping_value(root, "dependencies")
        if entries is None:
            return Manifest(shown, self.kind, (), (), (shown,))
        if not _is(entries, "SequenceNode"):
            raise ManifestError(f"{shown} line {entries.start_mark.line + 1}: 'dependencies' is not a list")
        found: list[Dependency] = []
        problems: list[str] = []
        files = [shown]
        for node in entries.value[: limits.max_dependencies]:
            line = node.start_mark.line + 1
            if _is(node, "ScalarNode") and _SPEC.match(_bare(str(node.value))):
                found.append(conda_dependency(str(node.value), shown, line, lines.offset(line)))
            elif _is(node, "MappingNode") and _is(_mapping_value(node, "pip"), "SequenceNode"):
                pip = _mapping_value(node, "pip")
                items = [(str(n.value), n.start_mark.line + 1, lines.offset(n.start_mark.line + 1))
                         for n in pip.value if _is(n, "ScalarNode")]
                if len(items) < len(pip.value):
                    problems.append(f"{shown} line {line}: a pip: entry is not a requirement string; not audited")
                deps, issues, read = pip_lines(items, path, shown, limits)
                found += [_in_group(d, "pip") for d in deps]
                problems += issues
                files += read
            else:
                problems.append(f"{shown} line {line}: dependency entry is neither a package spec nor a pip: "
                                "list; not audited")
        if len(entries.value) > limits.max_dependencies:
            problems.append(f"{shown}: more than {limits.max_dependencies:,} dependencies; the rest not read")
        return Manifest(shown, self.kind, tuple(found), tuple(problems), tuple(files))


def conda_dependency(spec: str, source: str, line: int | None, offset: int | None) -> Dependency:
    """One conda MatchSpec string (``conda-forge::numpy=1.26.4=py311h...``) as a Dependency."""
    text = _bare(spec)
    match = _SPEC.match(text)
    name, rest = (match.group(1), match.group(2).strip()) if match else (text, "")
    pypi = CONDA_TO_PYPI.get(name.lower(), name)
    version = _conda_pin(rest)
    group = "conda" if pypi == name else f"conda ({name})"
    specifier = rest if version is None else f"=={version}"
    unaudited = None if version is not None else unpinned_reason(rest)
    return Dependency(canonical_name(pypi), specifier, version, source, line, offset, unaudited=unaudited,
                      ecosystem=CONDA, group=group)


def _bare(spec: str) -> str:
    """The spec without a comment or a ``channel::`` prefix."""
    return spec.split("#", 1)[0].strip().rsplit("::", 1)[-1]


def _conda_pin(rest: str) -> str | None:
    """The exact version a MatchSpec's version part names, if it names one."""
    if not rest or rest.startswith("["):
        return None
    if rest.startswith("=="):
        candidate = rest[2:].split("=")[0].strip()
    elif rest.startswith("="):
        candidate = rest[1:].split("=")[0].strip()
    elif rest[0].isalnum():
        candidate = rest.split()[0]
    else:
        return None
    return candidate if _EXACT.match(candidate) else None


def _in_group(dependency: Dependency, group: str) -> Dependency:
    from dataclasses import replace

    return replace(dependency, group=group)


def _compose(text: str, shown: str) -> Any:
    """The YAML node tree (nothing is constructed, so tags and aliases build no objects)."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.compose(text, Loader=loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ManifestError(f"{shown}{where}: not valid YAML: {exc.problem}") from None
    except (yaml.YAMLError, RecursionError) as exc:
        raise ManifestError(f"{shown}: not valid YAML: {type(exc).__name__}") from None


def _is(node: Any, kind: str) -> bool:
    return type(node).__name__ == kind


def _mapping_value(node: Any, key: str) -> Any:
    if not _is(node, "MappingNode"):
        return None
    for key_node, value in node.value:
        if _is(key_node, "ScalarNode") and key_node.value == key:
            return value
    return None
