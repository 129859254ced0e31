"""Dependency audit: manifests and the environment against a local OSV advisory database (``bastion deps``).

Only the check is imported eagerly, so ``bastion scan`` loads it without paying for the parsers, packaging,
sqlite3 or YAML; the other public names load on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from bastion.supplychain.deps.check import DependencyCheck

if TYPE_CHECKING:
    from bastion.supplychain.deps.audit import audit_environment, audit_manifest, audit_paths
    from bastion.supplychain.deps.database import AdvisoryDatabase, database_status, import_advisories
    from bastion.supplychain.deps.interface import (
        Dependency,
        DependencySource,
        Manifest,
        ManifestError,
        ManifestLimits,
        canonical_name,
    )

_LAZY = {
    "Dependency": "interface", "DependencySource": "interface", "Manifest": "interface", "ManifestError": "interface",
    "ManifestLimits": "interface", "canonical_name": "interface", "audit_paths": "audit",
    "audit_environment": "audit", "audit_manifest": "audit", "AdvisoryDatabase": "database",
    "import_advisories": "database", "database_status": "database",
}

__all__ = ["AdvisoryDatabase", "Dependency", "DependencyCheck", "DependencySource", "Manifest", "ManifestError",
           "ManifestLimits", "audit_environment", "audit_manifest", "audit_paths", "canonical_name",
           "database_status", "import_advisories"]


def __getattr__(name: str) -> Any:
    """Load the other public names on first use."""
    if name in _LAZY:
        return getattr(import_module(f"bastion.supplychain.deps.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'bastion.supplychain.deps' has no attribute {name!r}")
