"""What ``bastion scan --trust KEY.pub`` reports about a model's signature: BST-SIG-001, -002 or -003."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from bastion.findings import Finding, Location
from bastion.supplychain.signing.api import default_signature_path, verify_trusted
from bastion.supplychain.signing.base import Verification

_NAMED = 10
"""Changed files named per kind in a finding's detail."""


def signature_findings(path: str, trusted_keys: Sequence[str | os.PathLike[str]],
                       signature_path: str | os.PathLike[str] | None = None, *,
                       workers: int | None = None) -> tuple[Finding, ...]:
    """Findings about the signature of the model at ``path`` (file or folder): none when a trusted key signed it
    and nothing changed.

    Raises SigningError for usage and I/O problems (a trusted key that cannot be read, an unreadable model file),
    which the caller reports as such rather than as a finding.
    """
    sig_path = Path(signature_path) if signature_path is not None else default_signature_path(path)
    if not os.path.lexists(sig_path):
        return (_finding("BST-SIG-001", path, f"No signature at {sig_path}; trusted keys were given.", ""),)
    result = verify_trusted(path, trusted_keys, sig_path, workers=workers)
    if result.ok:
        return ()
    if result.other_key:
        return (_finding("BST-SIG-003", path, result.error or "signed by another key", f"signature: {sig_path}"),)
    return (_finding("BST-SIG-002", path, _detail(result), f"signature: {sig_path}; key id: {result.key_id}"),)


def _detail(result: Verification) -> str:
    if result.error is not None:
        return result.error
    parts = []
    for kind, names in (("modified", result.modified), ("missing", result.missing), ("added", result.added)):
        if names:
            shown = ", ".join(names[:_NAMED]) + (f" and {len(names) - _NAMED} more" if len(names) > _NAMED else "")
            parts.append(f"{kind}: {shown}")
    count = len(result.modified) + len(result.missing) + len(result.added)
    return f"The signature verifies but {count} file(s) differ from what was signed; " + "; ".join(parts) + "."


def _finding(rule_id: str, path: str, detail: str, evidence: str) -> Finding:
    from bastion.taxonomy import rule

    entry = rule(rule_id)
    return Finding(rule_id, entry.severity, entry.title, detail, Location(path), evidence, entry.remediation,
                   entry.refs)
