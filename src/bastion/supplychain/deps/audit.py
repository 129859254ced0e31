"""The dependency audit: a manifest's (or the environment's) dependencies against the local advisory database.

Fail closed: a dependency that cannot be audited is a finding (BST-DEP-002), and a missing or empty database
makes the target incomplete (BST-DEP-003, exit 2), never clean.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from bastion.config import Settings
from bastion.findings import Finding, ScanResult, TargetResult, TargetStatus
from bastion.scan.check import CheckOutcome
from bastion.supplychain.deps import findings as make
from bastion.supplychain.deps.config import DepsConfig
from bastion.supplychain.deps.frameworks import category, inventory
from bastion.supplychain.deps.interface import Dependency, Manifest, ManifestLimits

if TYPE_CHECKING:
    from bastion.supplychain.deps.database import AdvisoryDatabase, AffectedEntry


def audit_manifest(manifest: Manifest, database: AdvisoryDatabase | None, database_error: str | None = None,
                   config: DepsConfig | None = None, now: datetime | None = None) -> CheckOutcome:
    """Findings, incomplete parts and facts for ``manifest``; ``database`` is ``None`` when it could not be
    opened, and ``database_error`` says why."""
    config = config or DepsConfig()
    outcome = CheckOutcome(kind=manifest.kind, incomplete=list(manifest.problems))
    if database is None:
        reason = database_error or "no advisory database"
        outcome.findings.append(make.database_missing(manifest.path, reason))
        outcome.incomplete.append(f"{manifest.path}: dependencies not checked for known vulnerabilities: {reason}")
    else:
        status = database.status
        age = status.age_days(now)
        if age is not None and age > config.max_age_days:
            outcome.findings.append(make.database_stale(manifest.path, age, config.max_age_days,
                                                        status.newest_modified, status.source))
    tally = _Tally()
    for dependency in manifest.dependencies:
        outcome.findings.extend(_audit_one(dependency, database, config, tally))
    outcome.findings.extend(_frameworks(manifest))
    outcome.facts.update(_facts(manifest, database, tally))
    return outcome


class _Tally:
    """Counts and vulnerability records kept while auditing one manifest."""

    def __init__(self) -> None:
        self.audited = 0
        self.unaudited = 0
        self.vulnerable = 0
        self.ignored: list[str] = []
        self.vulnerabilities: list[dict[str, object]] = []


def _audit_one(dependency: Dependency, database: AdvisoryDatabase | None, config: DepsConfig,
               tally: _Tally) -> list[Finding]:
    """BST-DEP-002 when it cannot be audited, else one BST-DEP-001 per vulnerability of its version."""
    from bastion.supplychain.deps.matching import clearing_version, matches, public_version

    entries = database.entries(dependency.name) if database is not None else ()
    if dependency.unaudited is not None or dependency.version is None:
        tally.unaudited += 1
        reason = dependency.unaudited or "no exact version"
        return [make.unaudited(dependency, reason, _range_note(dependency, entries))]
    if database is None:
        return []  # the manifest is already incomplete: BST-DEP-003
    version = dependency.version
    found: list[Finding] = []
    if public_version(version) is None and entries:
        tally.unaudited += 1
        found.append(make.unaudited(dependency, f"version {version!r} is not a PEP 440 version, so advisory ranges "
                                                "cannot be compared with it (only listed versions were)"))
    else:
        tally.audited += 1
    vulnerabilities = [v for v in make.merge(matches(version, entries)) if not _ignored(v, config, tally)]
    clears = clearing_version(version, entries) if vulnerabilities else None
    for vulnerability in vulnerabilities:
        found.append(make.vulnerable(dependency, vulnerability, clears))
        tally.vulnerabilities.append(vulnerability.to_fact(dependency))
    tally.vulnerable += bool(vulnerabilities)
    return found


def _ignored(vulnerability: make.Vulnerability, config: DepsConfig, tally: _Tally) -> bool:
    names = {vulnerability.id.upper(), *(a.upper() for a in vulnerability.aliases)}
    if names & config.ignore:
        tally.ignored.append(vulnerability.id)
        return True
    return False


def _range_note(dependency: Dependency, entries: Sequence[AffectedEntry]) -> str:
    """For an unpinned range: how many known advisories affect versions it allows (among the versions they
    list and their range bounds)."""
    if not entries or not dependency.specifier:
        return ""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    from bastion.supplychain.deps.matching import is_affected

    try:
        allowed = SpecifierSet(dependency.specifier)
    except InvalidSpecifier:
        return ""
    candidates = sorted({v for e in entries for v in e.versions} | {v for e in entries for r in e.ranges
                         for kind, v in r.events if kind in ("introduced", "last_affected") and v != "0"})
    admitted = [v for v in candidates if allowed.contains(v, prereleases=True)]
    hits = [e.advisory_id for e in entries if any(is_affected(v, e.ranges, e.versions) for v in admitted)]
    if not hits:
        return ""
    return (f" The range allows versions that {len(hits)} known advisor{'y' if len(hits) == 1 else 'ies'} "
            f"affect ({', '.join(hits[:3])}{', …' if len(hits) > 3 else ''}).")


def _frameworks(manifest: Manifest) -> list[Finding]:
    found = [make.framework(d, "ML framework") for d in manifest.dependencies if category(d.name) == "framework"]
    cuda = inventory(manifest.dependencies).get("cuda_libraries")
    if cuda:
        found.append(make.cuda_libraries(manifest.path, cuda))
    return found


def _facts(manifest: Manifest, database: AdvisoryDatabase | None, tally: _Tally) -> dict[str, object]:
    facts: dict[str, object] = {
        "format": manifest.kind,
        "dependencies": len(manifest.dependencies),
        "audited": tally.audited,
        "unaudited": tally.unaudited,
        "vulnerable": tally.vulnerable,
        "vulnerabilities": tally.vulnerabilities,
        **inventory(manifest.dependencies),
    }
    if len(manifest.files) > 1:
        facts["files"] = list(manifest.files)
    if tally.ignored:
        facts["ignored_advisories"] = sorted(set(tally.ignored))
    if database is not None:
        facts["advisory_database"] = {"records": database.status.records,
                                      "newest_modified": database.status.newest_modified}
    return facts


def summary_lines(result: ScanResult) -> list[str]:
    """One line per audited target: dependencies, audited, not audited, vulnerable (for the table report)."""
    lines = []
    for target in result.targets:
        facts = target.facts
        if "dependencies" in facts:
            lines.append(f"{target.path} ({target.kind}): {facts['dependencies']} dependencies, {facts['audited']} "
                         f"audited, {facts['unaudited']} not audited, {facts['vulnerable']} vulnerable")
    return lines


def open_database(path: Path | None = None) -> tuple[AdvisoryDatabase | None, str | None]:
    """The shared database, or ``None`` and why it cannot be used."""
    from bastion.supplychain.deps.database import DatabaseError, shared_database

    try:
        return shared_database(path), None
    except DatabaseError as exc:
        return None, str(exc)


def audit_file(fs_path: Path, shown: str, settings: Settings, explicit: bool = False,
               database_path: Path | None = None) -> CheckOutcome:
    """Audit one file if it is a manifest (``CheckOutcome(kind=None)`` when it is not)."""
    from bastion.supplychain.deps.interface import ManifestError
    from bastion.supplychain.deps.manifests import read_manifest, recognise

    source = recognise(shown, fs_path, explicit)
    if source is None:
        return CheckOutcome()
    config = DepsConfig.from_settings(settings)
    limits = ManifestLimits(max_bytes=min(ManifestLimits.max_bytes, settings.limits.max_file_bytes))
    try:
        manifest = read_manifest(source, fs_path, shown, limits)
    except ManifestError as exc:
        return CheckOutcome(kind=source.kind, incomplete=[str(exc)])
    database, error = open_database(database_path)
    return audit_manifest(manifest, database, error, config)


def audit_paths(paths: Sequence[str], settings: Settings, database_path: Path | None = None) -> ScanResult:
    """``bastion deps PATH...``: every manifest under ``paths`` audited; other files are left out of the result.

    A named file that is not a manifest, or a folder without one, is an error (nothing audited is no pass)."""
    from bastion.scan import scan
    from bastion.supplychain.deps.check import DependencyCheck

    explicit = [p for p in paths if Path(p).is_file()]
    check = DependencyCheck(explicit=explicit, database_path=database_path)
    result = scan(paths, replace(settings, hash_files=False, trust_keys=()), checks=[check])
    targets = tuple(t for t in result.targets if t.kind != "unknown" or t.status is TargetStatus.INCOMPLETE)
    errors = list(result.errors)
    for path in paths:
        if Path(path).exists() and not any(_under(t.path, path) for t in targets):
            what = "is not a dependency manifest" if path in explicit else "holds no dependency manifest"
            errors.append(f"{path}: {what} (requirements*.txt, pyproject.toml, poetry.lock, uv.lock, Pipfile, "
                          "Pipfile.lock, pylock.toml, environment.yml)")
    return ScanResult(targets, result.findings, result.seconds, tuple(errors))


def _under(target: str, given: str) -> bool:
    return target == given or target.startswith(given.rstrip("/\\") + "/") or target.startswith(given + "\\")


def audit_environment(settings: Settings, paths: Sequence[str] | None = None, database_path: Path | None = None,
                      probe_driver: bool = True) -> ScanResult:
    """``bastion deps --env``: the distributions installed on ``paths`` (default ``sys.path``), the torch CUDA
    build and, when ``nvidia-smi`` is on PATH, the NVIDIA driver version (recorded, not audited)."""
    import time

    from bastion.supplychain.deps.environment import ENVIRONMENT, installed
    from bastion.supplychain.deps.frameworks import nvidia_driver

    started = time.monotonic()
    config = DepsConfig.from_settings(settings)
    manifest = installed(paths)
    database, error = open_database(database_path)
    outcome = audit_manifest(manifest, database, error, config)
    cuda = _torch_cuda(paths)
    if cuda:
        outcome.facts["torch_cuda"] = cuda
    probe = nvidia_driver() if probe_driver else None
    if probe is not None:
        outcome.facts["nvidia_driver"] = probe.version or f"unknown: {probe.error}"
        outcome.findings.append(make.driver(ENVIRONMENT, probe.version, probe.error, cuda))
    status = TargetStatus.INCOMPLETE if outcome.incomplete else TargetStatus.SCANNED
    reason = "; ".join(outcome.incomplete[:5]) if outcome.incomplete else None
    target = TargetResult(ENVIRONMENT, "environment", None, status, reason, None, outcome.facts)
    ordered = sorted(outcome.findings, key=lambda f: (-f.severity, f.location.path, f.location.offset or 0))
    return ScanResult((target,), tuple(ordered), time.monotonic() - started)


def _torch_cuda(paths: Sequence[str] | None) -> str | None:
    """The CUDA version of the installed torch build, read from ``torch/version.py`` (never imported)."""
    from importlib import metadata

    from bastion.supplychain.deps.frameworks import torch_cuda_version

    for dist in metadata.distributions(name="torch", path=list(paths) if paths is not None else sys.path):
        try:
            with open(Path(str(dist.locate_file("torch/version.py"))), encoding="utf-8") as handle:
                return torch_cuda_version(handle.read(65536))
        except OSError:
            return None
    return None
