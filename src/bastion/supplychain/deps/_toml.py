"""Bounded TOML reading for the TOML-based manifests, with line lookup (tomllib reports no positions)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from bastion.supplychain.deps._text import Lines, read_text
from bastion.supplychain.deps.interface import ManifestError, ManifestLimits


def load_toml(path: Path, shown: str, limits: ManifestLimits) -> tuple[dict[str, Any], Lines]:
    """The parsed document and its lines; ManifestError naming the file when it is not valid TOML."""
    import tomllib

    text, bom = read_text(path, shown, limits)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ManifestError(f"{shown}: not valid TOML: {exc}") from None
    return data, Lines(text, bom)


def table(data: dict[str, Any], *keys: str) -> dict[str, Any]:
    """``data[k1][k2]...`` when every step is a table, else an empty dict."""
    node: Any = data
    for key in keys:
        node = node.get(key) if isinstance(node, dict) else None
    return node if isinstance(node, dict) else {}


def header_line(lines: Lines, *names: str) -> int | None:
    """The line of the table header ``[a.b]`` (also written with quoted parts), if present."""
    wanted = ".".join(names)
    for number, line in enumerate(lines.lines, start=1):
        text = line.strip()
        if text.startswith("[") and not text.startswith("[[") and "]" in text:
            inside = text[1: text.index("]")]
            if ".".join(part.strip().strip("\"'") for part in inside.split(".")) == wanted:
                return number
    return None


def key_line(lines: Lines, key: str, start: int | None) -> int | None:
    """The first line at or after ``start`` that assigns ``key`` (bare or quoted), or ``start`` itself."""
    pattern = re.compile(rf"^\s*(?:{re.escape(key)}|\"{re.escape(key)}\"|'{re.escape(key)}')\s*=")
    first = start or 1
    for number in range(first, len(lines.lines) + 1):
        if pattern.match(lines.lines[number - 1]):
            return number
    return start


def string_line(lines: Lines, value: str, start: int | None) -> int | None:
    """The first line at or after ``start`` holding ``value`` as a quoted string, or ``start`` itself."""
    for quoted in (f'"{value}"', f"'{value}'"):
        found = lines.find(quoted, start or 1)
        if found is not None:
            return found
    return start


def array_of_tables(data: dict[str, Any], key: str, shown: str, limits: ManifestLimits) -> list[Any]:
    """``data[key]`` as a list (empty when absent); ManifestError when it is not one or holds too many entries."""
    entries = data.get(key, [])
    if not isinstance(entries, list):
        raise ManifestError(f"{shown}: {key!r} is not an array of tables")
    if len(entries) > limits.max_dependencies:
        raise ManifestError(f"{shown}: more than {limits.max_dependencies:,} [[{key}]] entries; not read")
    return entries
