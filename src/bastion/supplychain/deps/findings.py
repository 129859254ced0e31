"""The findings of the dependency audit (BST-DEP-001..005), worded once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bastion.findings import Finding, Location, Severity
from bastion.supplychain.deps.interface import CONDA, Dependency
from bastion.supplychain.deps.matching import Match
from bastion.taxonomy.families.deps import RULES

_RULES = {rule.rule_id: rule for rule in RULES}
_PREFERRED = ("PYSEC-", "GHSA-")
"""Which id names a merged advisory: the PyPI database's own, then GitHub's, then any other."""


@dataclass(frozen=True)
class Vulnerability:
    """One vulnerability of one dependency: advisories that alias each other merged into one."""

    id: str
    """The id findings name (a ``PYSEC-`` id when the PyPA database has one)."""
    aliases: tuple[str, ...]
    """Every other id: the merged advisories' ids and their aliases (CVE, GHSA...)."""
    summary: str
    """One line about it."""
    severity: Severity
    """The worst severity of the merged advisories."""
    severity_basis: str
    """What that severity rests on."""
    fixed: tuple[str, ...]
    """Every fixed version named."""
    fix: str | None
    """The smallest fixed version above the dependency's (the largest such among merged advisories)."""

    def to_fact(self, dependency: Dependency) -> dict[str, object]:
        """The JSON form kept in the target's facts."""
        return {"package": dependency.name, "version": dependency.version, "id": self.id,
                "aliases": list(self.aliases), "severity": self.severity.label, "fix": self.fix,
                "fixed": list(self.fixed), "source": dependency.source, "line": dependency.line}


def merge(found: Sequence[Match]) -> list[Vulnerability]:
    """Group advisories that share an id or alias (one vulnerability published by PyPA and GitHub)."""
    groups: list[tuple[set[str], list[Match]]] = []
    for match in found:
        names = {match.entry.advisory_id, *match.entry.aliases}
        joined = [g for g in groups if g[0] & names]
        for group in joined:
            groups.remove(group)
            names |= group[0]
        groups.append((names, [m for g in joined for m in g[1]] + [match]))
    return [_vulnerability(names, members) for names, members in groups]


def _vulnerability(names: set[str], members: list[Match]) -> Vulnerability:
    ids = sorted(m.entry.advisory_id for m in members)
    primary = next((i for prefix in _PREFERRED for i in ids if i.startswith(prefix)), ids[0])
    worst = max(members, key=lambda m: m.entry.severity)
    fixes = [m.fix for m in members if m.fix is not None]
    from bastion.supplychain.deps.matching import parse_version

    fix = max(fixes, key=lambda t: (parse_version(t) is not None, parse_version(t) or 0)) if fixes else None
    fixed = tuple(dict.fromkeys(v for m in members for v in m.fixed))
    summary = next((m.entry.summary for m in members if m.entry.advisory_id == primary), "")
    return Vulnerability(primary, tuple(sorted(names - {primary})), summary, worst.entry.severity,
                         worst.entry.severity_basis, fixed, fix)


def _where(dependency: Dependency) -> str:
    return f"{dependency.source} line {dependency.line}" if dependency.line else dependency.source


def _location(dependency: Dependency) -> Location:
    return Location(dependency.source, None, dependency.offset)


def _context(dependency: Dependency) -> str:
    notes = []
    if dependency.resolved_by:
        notes.append(f"version {dependency.version} from {dependency.resolved_by}")
    if not dependency.applicable:
        notes.append(f"its marker ({dependency.markers}) does not hold for this interpreter, so it is not installed "
                     "here; it is audited for the platforms where it is")
    if dependency.ecosystem == CONDA:
        notes.append("a conda package, matched against the PyPI advisories of the same project")
    return f" ({'; '.join(notes)})" if notes else ""


def vulnerable(dependency: Dependency, vulnerability: Vulnerability, clears: str | None) -> Finding:
    """BST-DEP-001 for one vulnerability of one dependency."""
    rule = _RULES["BST-DEP-001"]
    cve = next((a for a in vulnerability.aliases if a.startswith("CVE-")), None)
    aliases = f" (aliases: {', '.join(vulnerability.aliases)})" if vulnerability.aliases else ""
    fixed = ", ".join(vulnerability.fixed) or "none named"
    detail = (f"{_where(dependency)} declares {dependency.requirement()}{_context(dependency)}. "
              f"{vulnerability.id}{aliases} affects this version: {vulnerability.summary} "
              f"Fixed versions: {fixed}. Severity {vulnerability.severity.label} ({vulnerability.severity_basis}).")
    if vulnerability.fix is not None:
        remediation = f"upgrade to {vulnerability.fix}"
        if clears is not None and clears != vulnerability.fix:
            remediation += f" ({clears} is the smallest fixed version no known advisory for {dependency.name} affects)"
    else:
        remediation = (f"no fixed version is known: remove or replace {dependency.name}, or mitigate as "
                       f"{vulnerability.id} describes")
    return Finding(rule.rule_id, vulnerability.severity,
                   f"{dependency.name} {dependency.version}: {vulnerability.id}" + (f" ({cve})" if cve else ""),
                   detail, _location(dependency), dependency.requirement(), remediation, rule.refs)


def unaudited(dependency: Dependency, reason: str, note: str = "") -> Finding:
    """BST-DEP-002: the dependency could not be audited, and why."""
    rule = _RULES["BST-DEP-002"]
    detail = (f"{_where(dependency)} declares {dependency.requirement()}{_context(dependency)}: {reason}. "
              f"No advisory was matched against it.{note}")
    return Finding(rule.rule_id, rule.severity, f"{dependency.name}: not audited ({reason.split(';')[0]})", detail,
                   _location(dependency), dependency.requirement(), rule.remediation, rule.refs)


def database_missing(manifest_path: str, reason: str) -> Finding:
    """BST-DEP-003: no usable advisory database, so nothing was checked."""
    rule = _RULES["BST-DEP-003"]
    return Finding(rule.rule_id, rule.severity, "Advisory database missing: dependencies not checked",
                   f"The dependencies of {manifest_path} were not checked for known vulnerabilities: {reason}.",
                   Location(manifest_path), "", rule.remediation, rule.refs)


def database_stale(manifest_path: str, age_days: float, max_age_days: float, newest: str | None,
                   source: str | None) -> Finding:
    """BST-DEP-004: the newest advisory is older than ``max_age_days``."""
    rule = _RULES["BST-DEP-004"]
    detail = (f"The newest advisory in the database was modified {newest or 'at an unknown time'} "
              f"({age_days:.0f} days ago, more than [deps] max_age_days = {max_age_days:g}); it was imported "
              f"from {source}. Vulnerabilities published since are not known to this audit of {manifest_path}.")
    return Finding(rule.rule_id, rule.severity, f"Advisory database is {age_days:.0f} days old", detail,
                   Location(manifest_path), f"newest advisory {newest}", rule.remediation, rule.refs)


def framework(dependency: Dependency, kind: str) -> Finding:
    """BST-DEP-005 for one ML framework dependency."""
    rule = _RULES["BST-DEP-005"]
    version = dependency.version or dependency.specifier or "any version"
    detail = (f"{_where(dependency)} declares {dependency.requirement()}{_context(dependency)}; its advisories "
              "are matched like any dependency's (BST-DEP-001).")
    return Finding(rule.rule_id, rule.severity, f"{kind} {dependency.name} {version}", detail,
                   _location(dependency), dependency.requirement(), rule.remediation, rule.refs)


def cuda_libraries(where: str, libraries: dict[str, str]) -> Finding:
    """BST-DEP-005 for the NVIDIA CUDA wheels of one manifest or environment, in one finding."""
    rule = _RULES["BST-DEP-005"]
    listing = ", ".join(f"{name} {version}" for name, version in sorted(libraries.items()))
    return Finding(rule.rule_id, rule.severity, f"CUDA libraries: {len(libraries)} NVIDIA wheel(s)",
                   f"{where} includes {listing}; their advisories are matched like any dependency's (BST-DEP-001).",
                   Location(where), listing[:200], rule.remediation, rule.refs)


def driver(where: str, version: str | None, error: str | None, cuda: str | None) -> Finding:
    """BST-DEP-005 for the NVIDIA driver: recorded, not audited (no OSV ecosystem covers it)."""
    rule = _RULES["BST-DEP-005"]
    said = f"driver {version}" if version else f"driver version unknown ({error})"
    torch = f"; torch is built for CUDA {cuda}" if cuda else ""
    detail = (f"nvidia-smi reports NVIDIA {said}{torch}. The driver is not audited: it is not a PyPI package and no "
              "OSV ecosystem covers GPU drivers; compare it with NVIDIA's security bulletins.")
    return Finding(rule.rule_id, rule.severity, f"NVIDIA driver {version or 'version unknown'} (not audited)",
                   detail, Location(where), f"nvidia-smi driver_version={version}", rule.remediation, rule.refs)
