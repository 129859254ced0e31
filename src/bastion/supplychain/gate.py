"""The load gate: nothing Bastion loads (a model under test, an NER model) is opened before the model-file scan.

``gate(path)`` runs only the model-file check (pickles, Keras lambdas, ONNX external data...) and refuses the files
when a finding is at ``GATE_SEVERITY`` or above, or the scan failed. ``allow_unsafe=True`` overrides the refusal
loudly: a warning on the log, and one JSON line in ``$BASTION_HOME/unsafe-loads.jsonl`` (file hash, findings, user,
time). That record is written *before* loading, and if it cannot be written the load is refused: the override must
leave a trace.
"""

from __future__ import annotations

import getpass
import json
import logging
import os
import time
from pathlib import Path

from bastion.config import bastion_home
from bastion.findings import ScanResult, Severity, TargetStatus

log = logging.getLogger("bastion.load")

GATE_SEVERITY = Severity.MEDIUM
"""Findings at or above this severity in a model's files refuse the model (unless ``allow_unsafe``)."""
UNSAFE_LOG = "unsafe-loads.jsonl"
"""File under ``BASTION_HOME`` that records every load made with the override."""


class UnsafeLoadError(Exception):
    """The model-file scanner found something dangerous in the files; nothing was loaded."""

    def __init__(self, message: str, result: ScanResult) -> None:
        super().__init__(message)
        self.result = result
        """The scan that refused the files, for reports."""


def gate(path: Path, *, what: str = "model", allow_unsafe: bool = False) -> ScanResult:
    """Scan ``path``; refuse it when a finding is at least MEDIUM (or the scan failed), unless ``allow_unsafe``.

    Only the model-file check runs: secrets, dependency or PII findings about a model folder (a tokenizer
    vocabulary, a pattern file full of names) say nothing about whether loading it runs code.
    """
    from bastion.config import Settings
    from bastion.scan import scan
    from bastion.supplychain import ModelFileCheck

    result = scan([str(path)], Settings(hash_files=False), checks=[ModelFileCheck()])
    bad = [f for f in result.findings if f.severity >= GATE_SEVERITY]
    if bad or result.errors:
        listed = "; ".join(f"{f.rule_id} ({f.severity.label}) {f.title} [{f.location.path}]" for f in bad)
        listed = "; ".join(filter(None, [listed, *result.errors]))
        if not allow_unsafe:
            raise UnsafeLoadError(f"refusing to load the {what} at {path}: the model-file scan found {listed}. "
                                  f"Run `bastion scan {path}` for details.", result)
        _record_override(path, what, [f.rule_id for f in bad], list(result.errors))
        log.warning("LOADING AN UNSAFE %s because the override is set: %s: %s (recorded in %s)", what.upper(), path,
                    listed, bastion_home() / UNSAFE_LOG)
    incomplete = [t for t in result.targets if t.status is TargetStatus.INCOMPLETE]
    if incomplete:
        reasons = "; ".join(t.reason or t.path for t in incomplete[:3])
        log.warning("the scan of %s %s could not fully examine %d file(s): %s", what, path, len(incomplete), reasons)
    return result


def _record_override(path: Path, what: str, rules: list[str], errors: list[str]) -> None:
    from bastion.scan.engine import sha256_file

    record = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "what": what, "path": str(path.resolve()),
              "sha256": sha256_file(path), "rules": rules, "errors": errors, "user": _user(), "pid": os.getpid()}
    target = bastion_home() / UNSAFE_LOG
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, sort_keys=True) + "\n")
    except OSError as exc:
        raise UnsafeLoadError(f"refusing to load the {what} at {path}: the unsafe-load override could not be "
                              f"recorded in {target} ({exc.strerror or exc})", ScanResult((), ())) from exc


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
