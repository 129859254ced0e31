"""The work of the ``secrets`` check, imported on its first file so that loading the plug-in costs nothing.

Text is recognised by content: a file whose first 8 KiB hold no NUL byte (or that starts with a UTF-16 byte-order
mark) is text, whatever its name; up to ``[secrets] max_file_bytes`` (64 MiB) of it is searched as bytes, so
invalid UTF-8 costs nothing and offsets are byte offsets. Notebooks (``.ipynb``, or JSON announcing cells and an
nbformat) are parsed and every cell source and output is searched as a decoded string, located as
``cell N (code|output M), line L``; other JSON documents that use ``\\u`` escapes are searched decoded too. One
read of the file feeds both concerns, secrets and AI use.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase

from bastion.config import Settings
from bastion.findings import Finding, Location, Severity
from bastion.scan.check import CheckOutcome, Target
from bastion.supplychain.secrets.interface import AIUse, SecretMatch
from bastion.supplychain.secrets.notebook import Segment, json_string_segments, looks_like_notebook, notebook_segments
from bastion.supplychain.secrets.options import SecretsOptions, options_for
from bastion.supplychain.secrets.scanner import scan_secrets
from bastion.supplychain.secrets.shadow_ai import find_ai_uses, service
from bastion.taxonomy.families.secrets import RULES as _RULE_LIST

__all__ = ["examine"]

HEAD_BYTES = 8192
_SEPARATOR = b"\n\x00\n"
"""Between the segments of a notebook: no pattern crosses a NUL, and the newlines end every line."""
_RULES = {r.rule_id: r for r in _RULE_LIST}
_PYTHON = (".py", ".pyw", ".pyi", ".ipynb")
_JAVASCRIPT = (".js", ".mjs", ".cjs", ".jsx", ".ts", ".mts", ".cts", ".tsx")
_PROSE = (".md", ".markdown", ".rst", ".txt", ".adoc", ".asciidoc", ".tex")
"""Documentation: host names there describe rather than use a service."""
_INDICATORS_SHOWN = 5


@dataclass
class _Found:
    """Secrets and AI uses of one target, each with its location."""

    secrets: list[tuple[SecretMatch, Location, str]]
    """Each secret, where it is, and that place in words (``at line 3``, ``in cell 2 (code), line 1``)."""
    uses: list[tuple[AIUse, Location]]
    """Each sign of AI use and where it is."""
    incomplete: list[str]
    """What could not be examined, and why."""


def examine(target: Target, settings: Settings, shadow_ai: bool) -> CheckOutcome:
    """Search one file for secrets (and AI use when ``shadow_ai``); never executes or imports any of it."""
    options = options_for(settings)
    limit = min(options.max_file_bytes, settings.limits.max_file_bytes)
    data, truncated, transcoded = _read_text(target, limit)
    if data is None:
        return CheckOutcome()
    deadline = time.monotonic() + settings.limits.timeout_seconds
    found = _Found([], [], [])
    if truncated:
        found.incomplete.append(f"{target.path}: larger than {limit} bytes; only the first {limit} were searched "
                                "for secrets (raise [secrets] max_file_bytes to search it whole)")
    notebook = _examine_notebook(target, data, options, deadline, found, shadow_ai)
    if not notebook:
        _examine_text(target, data, options, deadline, found, shadow_ai)
    if transcoded:  # offsets are into the UTF-8 re-encoding, not the file: keep the lines, drop the offsets
        found.secrets = [(m, Location(loc.path, loc.member), where) for m, loc, where in found.secrets]
        found.uses = [(use, Location(loc.path, loc.member)) for use, loc in found.uses]
    outcome = CheckOutcome(kind="notebook" if notebook else _kind(target.path), incomplete=found.incomplete)
    outcome.findings.extend(_secret_finding(target.path, *item) for item in found.secrets
                            if item[0].fingerprint not in options.allow)
    if found.uses:
        outcome.findings.extend(_ai_findings(found.uses, options.approved))
        outcome.facts["ai_services"] = sorted({use.service for use, _ in found.uses})
    if outcome.kind is None and outcome.findings:
        outcome.kind = "text"  # a file with findings was examined: it must not be reported as skipped
    return outcome


def _read_text(target: Target, limit: int) -> tuple[bytes | None, bool, bool]:
    """The file's bytes when it is text (None otherwise), whether it was cut at ``limit``, and whether it was
    transcoded (UTF-16 with a byte-order mark, searched as UTF-8)."""
    with open(target.fs_path, "rb") as handle:
        head = handle.read(HEAD_BYTES)
        if not head:
            return None, False, False
        if b"\x00" in head:
            if not head.startswith((b"\xff\xfe", b"\xfe\xff")):
                return None, False, False
            raw = head + handle.read(max(0, 2 * limit - len(head)) + 1)
            text = raw[:2 * limit].decode("utf-16", "replace").encode("utf-8", "surrogatepass")
            return text[:limit], len(raw) > 2 * limit or len(text) > limit, True
        rest = handle.read(max(0, limit - len(head)) + 1)
    data = head + rest
    return data[:limit], len(data) > limit, False


def _kind(path: str) -> str | None:
    base = path.rsplit("/", 1)[-1]
    if base == ".env" or base.startswith(".env.") or base.endswith(".env"):
        return "dotenv"
    return None


def _language(path: str) -> str | None:
    lowered = path.lower()
    if lowered.endswith(_PYTHON):
        return "python"
    if lowered.endswith(_JAVASCRIPT):
        return "javascript"
    return None


def _excluded(path: str, patterns: Sequence[str]) -> bool:
    """Whether a glob matches the path or any of its trailing parts (``tests/*`` matches ``repo/tests/a.py``)."""
    if not patterns:
        return False
    parts = path.replace("\\", "/").split("/")
    tails = ["/".join(parts[i:]) for i in range(len(parts))]
    return any(fnmatchcase(tail, pattern) for pattern in patterns for tail in tails)


def _examine_text(target: Target, data: bytes, options: SecretsOptions, deadline: float, found: _Found,
                  shadow_ai: bool) -> None:
    lower = data.lower()
    if not _excluded(target.path, options.exclude):
        matches, reason = scan_secrets(data, lower, detectors=options.detectors, generic=options.generic,
                                       deadline=deadline)
        if reason:
            found.incomplete.append(f"{target.path}: {reason}")
        found.secrets.extend((m, Location(target.path, None, m.start), f"at line {m.line}") for m in matches)
        if data[:64].removeprefix(b"\xef\xbb\xbf").lstrip()[:1] in (b"{", b"[") and b"\\u" in data:
            _examine_json_strings(target, data, options, deadline, found)
    if shadow_ai:
        language = _language(target.path)
        hosts = not target.path.lower().endswith(_PROSE)
        uses = find_ai_uses(data, lower, language=language, hosts=hosts) if hosts or language else []
        found.uses.extend((use, Location(target.path, None, use.start)) for use in uses)


def _examine_json_strings(target: Target, data: bytes, options: SecretsOptions, deadline: float,
                          found: _Found) -> None:
    """JSON with escapes: search its decoded strings too, reporting only what the raw bytes did not show."""
    try:
        segments, problems = json_string_segments(data)
    except ValueError:
        return  # not JSON after all: the raw search above stands
    found.incomplete.extend(f"{target.path}: {p}" for p in problems)
    seen = {(m.detector_id, m.fingerprint) for m, _, _ in found.secrets}
    for match, location, where in _search_segments(target, segments, options, deadline, found):
        if (match.detector_id, match.fingerprint) not in seen:
            found.secrets.append((match, location, where))


def _examine_notebook(target: Target, data: bytes, options: SecretsOptions, deadline: float, found: _Found,
                      shadow_ai: bool) -> bool:
    """Search a notebook cell by cell; False when ``data`` is not a notebook (it is then searched as text)."""
    if not looks_like_notebook(data[:HEAD_BYTES], target.path):
        return False
    try:
        segments, problems = notebook_segments(data)
    except ValueError as exc:
        if target.path.lower().endswith(".ipynb"):
            found.incomplete.append(f"{target.path}: notebook cannot be parsed ({exc}); searched as raw text, "
                                    "without decoding JSON escapes")
        return False
    found.incomplete.extend(f"{target.path}: {p}" for p in problems)
    if not _excluded(target.path, options.exclude):
        found.secrets.extend(_search_segments(target, segments, options, deadline, found))
    if shadow_ai:
        found.uses.extend(_notebook_uses(target, segments))
    return True


def _joined(segments: list[Segment]) -> tuple[bytes, list[int]]:
    parts = [s.text.encode("utf-8", "surrogatepass") for s in segments]
    starts, offset = [], 0
    for part in parts:
        starts.append(offset)
        offset += len(part) + len(_SEPARATOR)
    return _SEPARATOR.join(parts), starts


def _search_segments(target: Target, segments: list[Segment], options: SecretsOptions, deadline: float,
                     found: _Found) -> list[tuple[SecretMatch, Location, str]]:
    """Secrets of all segments in one search of their concatenation, each located in its segment."""
    joined, starts = _joined(segments)
    matches, reason = scan_secrets(joined, detectors=options.detectors, generic=options.generic, deadline=deadline)
    if reason:
        found.incomplete.append(f"{target.path}: {reason}")
    out = []
    for match in matches:
        index = bisect.bisect_right(starts, match.start) - 1
        line = joined.count(b"\n", starts[index], match.start) + 1
        where = f"{segments[index].where}, line {line}"
        out.append((match, Location(target.path, where, None), f"in {where}"))
    return out


def _notebook_uses(target: Target, segments: list[Segment]) -> list[tuple[AIUse, Location]]:
    """AI uses in code cells (imports, clients) and in code and outputs (hosts); Markdown is prose."""
    joined, starts = _joined(segments)
    out = []
    for use in find_ai_uses(joined, language="python"):
        index = bisect.bisect_right(starts, use.start) - 1
        kind = segments[index].kind
        if (use.kind == "host" and kind != "markdown") or kind == "code":
            line = joined.count(b"\n", starts[index], use.start) + 1
            out.append((use, Location(target.path, f"{segments[index].where}, line {line}", None)))
    return out


def _secret_finding(path: str, match: SecretMatch, location: Location, where: str) -> Finding:
    rule = _RULES[match.rule_id]
    if match.name:
        title = "Bearer token" if match.name == "Bearer" else f"{match.label.capitalize()} assigned to {match.name}"
    else:
        title = f"{match.provider} {match.label}"
    note = (" Notebook outputs are saved in the file: the value stays there until the outputs are cleared."
            if "(output" in where else "")
    detail = (f"{title} {match.masked} ({match.length} characters, fingerprint {match.fingerprint}) is written in "
              f"clear {where}.{note}")
    return Finding(match.rule_id, match.severity, title, detail, location,
                   f"{match.masked} fingerprint {match.fingerprint}", rule.remediation, rule.refs)


def _ai_findings(uses: list[tuple[AIUse, Location]], approved: frozenset[str] | None) -> list[Finding]:
    by_service: dict[str, list[tuple[AIUse, Location]]] = {}
    for use, location in uses:
        by_service.setdefault(use.service, []).append((use, location))
    findings = []
    for service_id, items in by_service.items():
        if approved is not None and service_id in approved:
            continue
        entry = service(service_id)
        rule = _RULES["BST-AI-002" if approved is None else "BST-AI-001"]
        shown = ", ".join(f"{use.indicator} ({location.member or f'line {use.line}'})"
                          for use, location in items[:_INDICATORS_SHOWN])
        more = f" and {len(items) - _INDICATORS_SHOWN} more" if len(items) > _INDICATORS_SHOWN else ""
        if approved is None:
            title = f"Generative-AI service in use: {entry.name}"
            policy = "No [ai] table in the project file, so this is inventory, not a violation."
        else:
            title = f"Unapproved generative-AI service: {entry.name}"
            allowed = ", ".join(sorted(approved)) or "none"
            policy = f"Approved services: {allowed}."
        detail = f"{entry.name} ({service_id}) is used: {shown}{more}. {policy}"
        severity = Severity.INFO if approved is None else rule.severity
        findings.append(Finding(rule.rule_id, severity, title, detail, items[0][1], items[0][0].indicator,
                                rule.remediation, rule.refs))
    return findings
