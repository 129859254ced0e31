"""Installed distributions (``bastion deps --env``): what ``importlib.metadata`` finds on ``sys.path``.

A distribution installed from a URL, a VCS checkout or a local folder (it has ``direct_url.json``, PEP 610) is
unaudited: its code need not match the release of that version. Nothing is imported; metadata files are read.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

from bastion.supplychain.deps._pep508 import direct_reference_reason
from bastion.supplychain.deps.interface import Dependency, Manifest, ManifestLimits, canonical_name

ENVIRONMENT = "<environment>"
"""How the running environment is reported as a target."""


def installed(paths: Sequence[str] | None = None, limits: ManifestLimits | None = None) -> Manifest:
    """Every distribution on ``paths`` (default ``sys.path``), in path order; unreadable ones are problems."""
    from importlib import metadata

    limits = limits or ManifestLimits()
    found: list[Dependency] = []
    problems: list[str] = []
    seen: set[tuple[str, str]] = set()
    for dist in metadata.distributions(path=list(paths) if paths is not None else sys.path):
        where = str(getattr(dist, "_path", ENVIRONMENT))
        name, version = dist.metadata["Name"] if dist.metadata else None, dist.version
        if not name or not version:
            problems.append(f"{where}: distribution metadata has no Name or Version; not audited")
            continue
        if (canonical_name(name), where) in seen:
            continue
        seen.add((canonical_name(name), where))
        found.append(Dependency(canonical_name(name), f"=={version}", version, where,
                                unaudited=_direct_url_reason(dist.read_text("direct_url.json"))))
        if len(found) > limits.max_dependencies:
            problems.append(f"{ENVIRONMENT}: more than {limits.max_dependencies:,} distributions; the rest not read")
            break
    return Manifest(ENVIRONMENT, "environment", tuple(found), tuple(problems), ())


def _direct_url_reason(text: str | None) -> str | None:
    """Why a distribution with this ``direct_url.json`` cannot be audited (``None`` without one)."""
    if text is None:
        return None
    try:
        data: Any = json.loads(text)
    except ValueError:
        return "its direct_url.json is unreadable; installed from an unknown location"
    if not isinstance(data, dict):
        return "its direct_url.json is unreadable; installed from an unknown location"
    if isinstance(data.get("vcs_info"), dict):
        return direct_reference_reason(f"{data['vcs_info'].get('vcs', 'git')}+{data.get('url', '')}")
    if isinstance(data.get("dir_info"), dict):
        editable = data["dir_info"].get("editable") is True
        return ("editable install; " if editable else "") + direct_reference_reason("")
    return direct_reference_reason(str(data.get("url", "")))
