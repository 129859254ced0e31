"""OSV matching for PyPI: is version ``v`` affected, and what is the smallest fix above it.

It follows the OSV schema's evaluation pseudocode: a version is affected when it is listed in ``versions`` or
lies in any ``ECOSYSTEM``/``SEMVER`` range. A range's events are sorted by version (``introduced: "0"`` before
everything, ties ``introduced`` first so ``[X, X)`` is empty) and walked: ``v >= introduced`` sets affected,
``v >= fixed`` and ``v > last_affected`` clear it; ``limit`` events bound the range above (``*`` is infinity).
Versions compare with PEP 440 ordering (``packaging.version``), pre-releases included; the installed version's
local label (``+cu121``) is ignored, as PEP 440 specifiers ignore it.

Bounds that are not PEP 440 versions are read conservatively: an unparseable ``introduced`` counts as ``"0"``
and an unparseable ``fixed``, ``last_affected`` or ``limit`` is ignored, so bad data can cause a false alarm but
not a silent pass. An installed version that is not PEP 440 matches listed versions by exact string only, and
the audit reports it as unaudited.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from bastion.supplychain.deps.osv import Range

if TYPE_CHECKING:
    from packaging.version import Version

    from bastion.supplychain.deps.database import AffectedEntry

_ORDER = {"introduced": 0, "fixed": 1, "last_affected": 1, "limit": 2}


@lru_cache(maxsize=65536)
def parse_version(text: str) -> Version | None:
    """``text`` as a PEP 440 Version, ``None`` when it is not one."""
    from packaging.version import InvalidVersion, Version

    try:
        return Version(text)
    except InvalidVersion:
        return None


@lru_cache(maxsize=65536)
def public_version(text: str) -> Version | None:
    """``text`` as a Version without its local label (``2.1.0+cu121`` -> ``2.1.0``)."""
    version = parse_version(text)
    if version is None or version.local is None:
        return version
    return parse_version(version.public)


def _sorted_events(events: Iterable[tuple[str, str]]) -> list[tuple[str, Version | None]]:
    """Events with parsed versions in evaluation order; ``None`` stands for ``introduced: "0"``."""
    keyed: list[tuple[tuple[object, ...], str, Version | None]] = []
    for kind, text in events:
        version = None if kind == "introduced" and text == "0" else parse_version(text)
        if version is None and kind != "introduced":
            continue  # an unreadable end is dropped: the range stays open
        # "0" (and an unreadable start, read as the beginning) sorts before every version; ties: introduced first
        key: tuple[object, ...] = (0,) if version is None else (1, version, _ORDER[kind])
        keyed.append((key, kind, version))
    keyed.sort(key=lambda item: item[0])
    return [(kind, version) for _, kind, version in keyed]


def _before_limits(version: Version, events: Sequence[tuple[str, str]]) -> bool:
    limits = [text for kind, text in events if kind == "limit"]
    if not limits:
        return True
    for text in limits:
        bound = parse_version(text)
        if "*" in text or bound is None or version < bound:
            return True
    return False


def in_range(version: Version, events: Sequence[tuple[str, str]]) -> bool:
    """Whether ``version`` lies in the OSV range with these (kind, version) events."""
    if not _before_limits(version, events):
        return False
    affected = False
    for kind, bound in _sorted_events(events):
        if kind != "limit" and _reached(kind, bound, version):
            affected = kind == "introduced"  # the last event reached decides
    return affected


def _reached(kind: str, bound: Version | None, version: Version) -> bool:
    """Whether ``version`` is at or past an event (strictly past a ``last_affected``); ``None`` is the start."""
    if bound is None:
        return True
    return version > bound if kind == "last_affected" else version >= bound


def in_versions(text: str, versions: Iterable[str]) -> bool:
    """Whether ``text`` is listed: the same string, or the same PEP 440 version (local label ignored)."""
    listed = _listed(tuple(versions))
    if text in listed[0]:
        return True
    version = public_version(text)
    return version is not None and version in listed[1]


@lru_cache(maxsize=4096)
def _listed(versions: tuple[str, ...]) -> tuple[frozenset[str], frozenset[Version]]:
    parsed = (parse_version(v) for v in versions)
    return frozenset(versions), frozenset(v for v in parsed if v is not None)


def is_affected(text: str, ranges: Iterable[Range], versions: Iterable[str]) -> bool:
    """OSV's ``IsVulnerable`` for one affected entry: listed, or inside an evaluable range."""
    if in_versions(text, versions):
        return True
    version = public_version(text)
    return version is not None and any(in_range(version, r.events) for r in ranges)


def fixed_versions(ranges: Iterable[Range]) -> list[str]:
    """Every ``fixed`` version of the ranges, in PEP 440 order (unparseable ones last, as written)."""
    texts = {text for r in ranges for kind, text in r.events if kind == "fixed"}
    parsed = sorted((v, t) for t in texts if (v := parse_version(t)) is not None)
    return [t for _, t in parsed] + sorted(t for t in texts if parse_version(t) is None)


def smallest_fix(text: str, ranges: Iterable[Range]) -> str | None:
    """The smallest ``fixed`` version greater than ``text``, ``None`` when there is none."""
    version = public_version(text)
    if version is None:
        return None
    above = [t for t in fixed_versions(ranges) if (v := parse_version(t)) is not None and v > version]
    return above[0] if above else None


@dataclass(frozen=True)
class Match:
    """One advisory that affects one dependency version."""

    entry: AffectedEntry
    """The advisory's entry for the package."""
    fixed: tuple[str, ...]
    """Every fixed version the advisory names for the package, in order."""
    fix: str | None
    """The smallest fixed version above the dependency's, ``None`` when the advisory names none."""


def matches(version: str, entries: Iterable[AffectedEntry]) -> list[Match]:
    """The entries that affect ``version``, each with its remediation."""
    found = []
    for entry in entries:
        if is_affected(version, entry.ranges, entry.versions):
            found.append(Match(entry, tuple(fixed_versions(entry.ranges)), smallest_fix(version, entry.ranges)))
    return found


def clearing_version(version: str, entries: Sequence[AffectedEntry]) -> str | None:
    """The smallest fixed version above ``version`` that no advisory of ``entries`` affects, if one is named."""
    candidates = fixed_versions(r for e in entries for r in e.ranges)
    current = public_version(version)
    for text in candidates:
        candidate = parse_version(text)
        if candidate is None or current is None or candidate <= current:
            continue
        if not any(is_affected(text, e.ranges, e.versions) for e in entries):
            return text
    return None
