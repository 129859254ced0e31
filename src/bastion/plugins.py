"""Entry-point discovery for Bastion's plug-in groups, without parsing every installed distribution.

``importlib.metadata.entry_points()`` reads and parses the metadata of every distribution on ``sys.path`` (62 ms
with PyTorch installed); this reads only the ``entry_points.txt`` files that mention a ``bastion.`` group, so the
command stays quick to start.
"""

from __future__ import annotations

import importlib
import os
import sys
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class Plugin:
    """One registered entry point."""

    group: str
    """The entry-point group (``bastion.checks``, ``bastion.formats``)."""
    name: str
    """The entry point's name."""
    value: str
    """``module:attribute``."""

    def load(self) -> object:
        """Import the module and return the attribute."""
        module, _, attribute = self.value.partition(":")
        target: object = importlib.import_module(module.strip())
        for part in attribute.strip().split("."):
            if part:
                target = getattr(target, part)
        return target


@lru_cache(maxsize=1)
def _all_plugins() -> tuple[Plugin, ...]:
    found: dict[tuple[str, str], Plugin] = {}
    for folder in sys.path:
        try:
            entries = os.scandir(folder or ".")
        except OSError:
            continue
        with entries:
            for entry in entries:
                if entry.name.endswith((".dist-info", ".egg-info")):
                    for plugin in _read(os.path.join(entry.path, "entry_points.txt")):
                        found.setdefault((plugin.group, plugin.name), plugin)  # first on sys.path wins
    return tuple(found.values())


def _read(path: str) -> list[Plugin]:
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError:
        return []
    if "[bastion." not in text:
        return []
    return _parse_entry_points(text)


def _parse_entry_points(text: str) -> list[Plugin]:
    """The ``bastion.*`` entries of an ``entry_points.txt`` (INI: ``[group]`` then ``name = value`` lines).

    Parsed by hand because configparser costs a millisecond to import on every start; comments, blank lines and
    other groups are skipped, and a line without ``=`` is ignored as a malformed entry rather than failing the scan.
    """
    group = ""
    found: list[Plugin] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            group = line[1:-1].strip()
            continue
        name, sep, value = line.partition("=")
        if sep and group.startswith("bastion.") and name.strip():
            found.append(Plugin(group, name.strip(), value.strip()))
    return found


def plugins(group: str) -> list[Plugin]:
    """Every entry point registered in ``group``, sorted by name."""
    return sorted((p for p in _all_plugins() if p.group == group), key=lambda p: p.name)
