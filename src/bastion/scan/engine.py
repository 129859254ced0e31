"""``scan(paths)``: discover targets, run every registered check on each, and collect one ScanResult."""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bastion.config import ConfigError, Settings
from bastion.findings import Finding, ScanResult, TargetResult, TargetStatus
from bastion.plugins import plugins
from bastion.scan.check import Check, CheckOutcome, Target

if TYPE_CHECKING:
    from concurrent.futures import Future

ProgressCallback = Callable[[int, int, str], None]
"""Called as (targets done, targets found so far, current path)."""


@dataclass(frozen=True)
class Skipped:
    """A path that discovery will not examine, and why."""

    path: str
    """The reported path."""
    reason: str
    """Why it was skipped."""


def discover(paths: Iterable[str], settings: Settings | None = None) -> Iterator[Target | Skipped]:
    """Walk ``paths`` in a stable order; symlinks inside a directory are followed only while they stay in it."""
    settings = settings or Settings()
    for given in paths:
        root = Path(given)
        if root.is_dir():
            yield from _walk(given, root, settings)
        elif root.is_file():
            yield Target(given, root, root.stat().st_size)
        elif root.exists():
            yield Skipped(given, "not a regular file or directory")
        else:
            yield Skipped(given, "no such file or directory")


def _walk(given: str, root: Path, settings: Settings) -> Iterator[Target | Skipped]:
    real_root = root.resolve()
    for folder, dirs, files in os.walk(root, followlinks=False):
        dirs[:] = sorted(d for d in dirs if d not in settings.exclude)
        for name in sorted(files) + sorted(d for d in dirs if (Path(folder) / d).is_symlink()):
            full = Path(folder) / name
            shown = os.path.join(given, os.path.relpath(full, root))
            try:
                info = full.lstat()
            except OSError as exc:
                yield Skipped(shown, f"cannot be read: {exc.strerror}")
                continue
            if stat.S_ISLNK(info.st_mode):
                target = full.resolve()
                if not target.is_relative_to(real_root):
                    yield Skipped(shown, "symlink points outside the scanned directory; not followed")
                    continue
                if target.is_dir():
                    yield Skipped(shown, "symlink to a directory; not followed (its target is walked if inside)")
                    continue
                if not target.is_file():
                    yield Skipped(shown, "dangling or special symlink")
                    continue
                yield Target(shown, target, target.stat().st_size)
            elif stat.S_ISREG(info.st_mode):
                yield Target(shown, full, info.st_size)
            else:
                yield Skipped(shown, "not a regular file")


def load_checks() -> list[Check]:
    """Every check registered under the ``bastion.checks`` entry-point group (Bastion's own included)."""
    checks: list[Check] = []
    for entry in plugins("bastion.checks"):
        factory = entry.load()
        assert callable(factory), f"entry point {entry.name} is not callable"
        checks.append(factory())
    if not checks:  # running from a source tree without installed metadata
        from bastion.supplychain import ModelFileCheck

        checks.append(ModelFileCheck())
    return checks


def sha256_file(path: Path) -> str | None:
    """Hex SHA-256 of a file's bytes, or None when it cannot be read (a folder, a vanished file)."""
    import hashlib

    digest = hashlib.sha256()
    try:
        with open(path, "rb", buffering=0) as handle:
            while chunk := handle.read(1 << 22):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()


def _examine(target: Target, checks: list[Check], settings: Settings
             ) -> tuple[str, list[Finding], list[str], dict[str, object]]:
    kinds: list[str] = []
    findings: list[Finding] = []
    incomplete: list[str] = []
    facts: dict[str, object] = {}
    for check in checks:
        try:
            outcome = check.examine(target, settings)
        except OSError as exc:
            outcome = CheckOutcome(None, [], [f"{target.path}: cannot be read: {exc.strerror or exc}"])
        except ConfigError:
            raise  # a bad project file is the user's to fix, once, not a gap in every target
        except Exception as exc:  # a check bug must not end the scan or pass the file silently
            outcome = CheckOutcome(None, [], [f"{target.path}: {check.name} failed: {type(exc).__name__}: {exc}"])
        if outcome.kind:
            kinds.append(outcome.kind)
        findings.extend(outcome.findings)
        incomplete.extend(outcome.incomplete)
        for key, value in outcome.facts.items():
            facts.setdefault(key, value)
    return (kinds[0] if kinds else "unknown"), findings, incomplete, facts


def scan(
    paths: Iterable[str],
    settings: Settings | None = None,
    progress: ProgressCallback | None = None,
    checks: list[Check] | None = None,
) -> ScanResult:
    """Examine every file under ``paths`` with every check and return all targets and findings."""
    paths = list(paths)
    settings = settings or Settings()
    checks = checks if checks is not None else load_checks()
    started = time.monotonic()
    targets: list[TargetResult] = []
    findings: list[Finding] = []
    errors: list[str] = []
    discovered = list(discover(paths, settings))
    if not settings.hash_files:
        _examine_all(discovered, checks, settings, progress, None, targets, findings, errors)
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=1) as hasher:  # hashing overlaps the (mostly CPU-bound) analysis
            _examine_all(discovered, checks, settings, progress, hasher.submit, targets, findings, errors)
    if settings.trust_keys:
        _check_signatures(paths, settings.trust_keys, findings, errors)
    findings.sort(key=lambda f: (-f.severity, f.location.path, f.location.member or "", f.location.offset or 0))
    return ScanResult(tuple(targets), tuple(findings), time.monotonic() - started, tuple(errors))


def _check_signatures(paths: Iterable[str], keys: tuple[str, ...], findings: list[Finding],
                      errors: list[str]) -> None:
    """BST-SIG-* findings for each scanned path: unsigned, not verifying, or signed by an untrusted key."""
    from bastion.supplychain.signing import SigningError, signature_findings

    for path in paths:
        if not os.path.lexists(path):
            continue  # already reported as "no such file or directory"
        try:
            findings.extend(signature_findings(path, keys))
        except SigningError as exc:  # an unreadable key or model: the signature was not checked, which is no pass
            errors.append(f"{path}: signature not checked: {exc}")


def _examine_all(
    discovered: list[Target | Skipped],
    checks: list[Check],
    settings: Settings,
    progress: ProgressCallback | None,
    submit: Callable[..., Future[str | None]] | None,
    targets: list[TargetResult],
    findings: list[Finding],
    errors: list[str],
) -> None:
    """Examine each discovered file, appending to ``targets``, ``findings`` and ``errors``."""
    for done, item in enumerate(discovered):
        if progress is not None:
            progress(done, len(discovered), item.path)
        if isinstance(item, Skipped):
            if item.reason == "no such file or directory":
                errors.append(f"{item.path}: {item.reason}")
            targets.append(TargetResult(item.path, "unknown", None, TargetStatus.SKIPPED, item.reason))
            continue
        digest = submit(sha256_file, item.fs_path) if submit is not None else None
        kind, found, incomplete, facts = _examine(item, checks, settings)
        findings.extend(found)
        status, reason = _status(kind, incomplete)
        sha256 = digest.result() if digest else None
        targets.append(TargetResult(item.path, kind, sha256, status, reason, item.size, facts))
    if progress is not None:
        progress(len(discovered), len(discovered), "")


def _status(kind: str, incomplete: list[str]) -> tuple[TargetStatus, str | None]:
    if incomplete:
        return TargetStatus.INCOMPLETE, "; ".join(incomplete[:5]) + (" …" if len(incomplete) > 5 else "")
    if kind == "unknown":
        return TargetStatus.SKIPPED, "content is not a format any check examines"
    return TargetStatus.SCANNED, None
