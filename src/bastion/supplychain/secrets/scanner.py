"""Finding credentials in one text, in one read and without a regular-expression scan of the whole text.

1. The text is lower-cased once (bytes, so offsets stay byte offsets).
2. Each distinct needle of the table (``sk-``, ``aiza``, ``hf_``, ``-----begin``, ``cohere``...) is searched with
   ``bytes.find``, which runs at memory speed; a detector's pattern is tried only at the needles it owns (or,
   for shape-only formats, in a small window around them), so a text without candidates costs one substring
   search per needle and nothing else.
3. Candidates are validated (entropy, placeholders, context words, checksums), overlaps go to the most specific
   detector (table order), and each survivor is masked and fingerprinted. The secret leaves this module only as
   a span of the caller's text.
"""

from __future__ import annotations

import bisect
import functools
import re
import time
from dataclasses import dataclass

from bastion.findings import Severity
from bastion.supplychain.secrets.detectors import DETECTORS, GENERIC_RULE, NAMED_SHAPES
from bastion.supplychain.secrets.generic import (
    KEYWORDS,
    Assignment,
    entropy,
    find_assignments,
    is_placeholder,
    name_words,
)
from bastion.supplychain.secrets.interface import Detector, SecretMatch
from bastion.supplychain.secrets.masking import fingerprint, installation_key, mask

__all__ = ["CONTEXT_BYTES", "GENERIC_DETECTORS", "MAX_MATCHES", "find_secrets", "scan_secrets"]

CONTEXT_BYTES = 1024
"""How near (either side) a context word must be to a match."""
MAX_MATCHES = 1000
"""Secrets reported per text; a text with more is reported as not examined completely."""
_KEYED_WORDS = (b"key", b"token", b"secret", b"passw", b"pwd", b"login", b"auth", b"credential")
_KEYED_LOOKBACK = 200

GENERIC_DETECTORS = (
    Detector("generic-secret", "unknown issuer", "high-entropy secret", KEYWORDS, b"", rule_id=GENERIC_RULE),
    Detector("generic-password", "unknown issuer", "password", KEYWORDS, b"", rule_id=GENERIC_RULE),
    Detector("bearer-token", "unknown issuer", "bearer token", (b"bearer",), b"", rule_id=GENERIC_RULE),
)
"""The name-based detectors of ``generic.py``, as records for reports and ``[secrets] disable``."""

_Candidate = tuple[tuple[int, int, int], int, int, Detector, str, str]
"""(priority, start, end, detector, provider, assigned name); the lowest priority wins an overlap. Priority is
(tier, distance, table index): formats with a prefix first, then shapes found near a context word (the nearest word
wins, so an AWS secret next to ``aws_secret_access_key`` is not taken for a Cohere key because ``cohere`` occurs
further up), then generic assignments."""


@dataclass
class _Compiled:
    """A detector ready to run; its pattern is compiled the first time one of its needles occurs."""

    detector: Detector
    """The table row."""
    priority: int
    """Its index in the table (lower wins an overlap among formats of the same tier)."""
    lead: bytes = b""
    """The literal start of every match (the format prefix when the pattern spells it out), checked before the
    pattern runs: most needle hits (``task-``, ``work_``) fail there for the price of a comparison."""

    @functools.cached_property
    def regex(self) -> re.Pattern[bytes]:
        """The compiled pattern."""
        return re.compile(self.detector.pattern)


def _lead(entry: Detector) -> bytes:
    prefix = entry.prefix.encode()
    return prefix if prefix and not entry.window and b"(?P<secret>" + prefix in entry.pattern else b""


_Plan = tuple[tuple[bytes, tuple[_Compiled, ...]], ...]
_PLANS: dict[int, tuple[tuple[Detector, ...], _Plan, dict[str, _Compiled]]] = {}
"""id(table) -> (table, plan, compiled by id); looked up by identity because hashing 60 records per file costs more
than the search itself."""


def _plan(detectors: tuple[Detector, ...]) -> _Plan:
    return _compiled(detectors)[1]


def _by_id(detectors: tuple[Detector, ...]) -> dict[str, _Compiled]:
    return _compiled(detectors)[2]


def _compiled(detectors: tuple[Detector, ...]) -> tuple[tuple[Detector, ...], _Plan, dict[str, _Compiled]]:
    cached = _PLANS.get(id(detectors))
    if cached is None or cached[0] is not detectors:
        plan = _build_plan(detectors)
        by_id = {c.detector.detector_id: c for _, entries in plan for c in entries}
        by_id.update({d.detector_id: _Compiled(d, i) for i, d in enumerate(detectors) if not d.needles})
        if len(_PLANS) > 16:
            _PLANS.clear()
        cached = _PLANS[id(detectors)] = (detectors, plan, by_id)
    return cached


def _build_plan(detectors: tuple[Detector, ...]) -> _Plan:
    """Needle -> the detectors that own it, in table order."""
    by_needle: dict[bytes, list[_Compiled]] = {}
    for priority, entry in enumerate(detectors):
        compiled = _Compiled(entry, priority, _lead(entry))
        for needle in entry.needles:
            by_needle.setdefault(needle, []).append(compiled)
    return tuple((needle, tuple(entries)) for needle, entries in by_needle.items())


def _near(lower: bytes, start: int, end: int, words: tuple[bytes, ...]) -> bool:
    around = lower[max(0, start - CONTEXT_BYTES):end + CONTEXT_BYTES]
    return any(word in around for word in words)


def _keyed(lower: bytes, start: int) -> bool:
    """A word naming a secret precedes ``start`` on its line (``api_key=``, ``wandb login``, ``"key":``)."""
    floor = max(0, start - _KEYED_LOOKBACK)
    line_start = lower.rfind(b"\n", floor, start) + 1 or floor
    before = lower[line_start:start]
    return any(word in before for word in _KEYED_WORDS)


def _accept(compiled: _Compiled, match: re.Match[bytes], text: bytes, lower: bytes, out: list[_Candidate],
            distance: int = 0) -> None:
    entry = compiled.detector
    start, end = match.span("secret")
    secret = text[start:end]
    if entry.validator is not None and not entry.validator(secret):
        return
    if is_placeholder(secret, formatted=True) or (entry.min_entropy and entropy(secret) < entry.min_entropy):
        return
    if entry.context and not _near(lower, start, end, entry.context):
        return
    if entry.keyed and not _keyed(lower, start):
        return
    provider = next((name for word, name in entry.refine if _near(lower, start, end, (word,))), entry.provider)
    out.append(((1 if entry.window else 0, distance, compiled.priority), start, end, entry, provider, ""))


def _try(compiled: _Compiled, text: bytes, lower: bytes, position: int, width: int, out: list[_Candidate]) -> None:
    """Run one detector at one needle occurrence."""
    entry = compiled.detector
    size = len(text)
    if entry.window:
        limit = position + width + entry.window
        end = min(size, limit + entry.max_length + 1)
        for match in compiled.regex.finditer(text, max(0, position - entry.window), end):
            if match.start() > limit:
                break
            _accept(compiled, match, text, lower, out, abs(match.start() - position))
        return
    begin = max(0, position - entry.reach)
    if compiled.lead and not text.startswith(compiled.lead, begin):
        return
    end = min(size, position + entry.max_length + 1)
    found = compiled.regex.search(text, begin, end) if entry.reach else compiled.regex.match(text, position, end)
    if found is not None and found.start() <= position:
        _accept(compiled, found, text, lower, out)


def _provider_candidates(text: bytes, lower: bytes, detectors: tuple[Detector, ...], deadline: float | None
                         ) -> tuple[list[_Candidate], bool]:
    out: list[_Candidate] = []
    sites = 0
    for needle, compiled in _plan(detectors):
        position = lower.find(needle)
        while position >= 0:
            sites += 1
            if deadline is not None and not sites & 0x3FF and time.monotonic() > deadline:
                return out, False
            for entry in compiled:
                _try(entry, text, lower, position, len(needle), out)
            position = lower.find(needle, position + 1)
    return out, True


def _named_shape(found: Assignment, text: bytes, lower: bytes, compiled: dict[str, _Compiled]) -> _Candidate | None:
    """The provider candidate for an assignment whose name and value shape name a provider (see NAMED_SHAPES)."""
    words = set(name_words(found.name.encode("ascii", "replace")))
    for required, detector_id in NAMED_SHAPES:
        entry = compiled.get(detector_id)
        if entry is None or not required <= words:
            continue
        match = entry.regex.fullmatch(text, found.start, found.end)
        if match is not None:
            out: list[_Candidate] = []
            _accept(entry, match, text, lower, out)
            if out:
                return out[0]
    return None


def _generic_candidates(text: bytes, lower: bytes, detectors: tuple[Detector, ...], enabled: frozenset[str],
                        deadline: float | None) -> tuple[list[_Candidate], bool]:
    secret, password, bearer = GENERIC_DETECTORS
    assignments, complete = find_assignments(text, lower, deadline)
    compiled = _by_id(detectors)
    out: list[_Candidate] = []
    for found in assignments:
        named = None if found.password else _named_shape(found, text, lower, compiled)
        if named is not None:
            out.append(named)
            continue
        entry = bearer if found.name == "Bearer" else password if found.password else secret
        if found.random and entry.detector_id in enabled:
            out.append(((2, 0, 0), found.start, found.end, entry, entry.provider, found.name))
    return out, complete


def _resolve(candidates: list[_Candidate]) -> list[_Candidate]:
    """Keep the most specific candidate wherever candidates overlap (lower priority number wins)."""
    starts: list[int] = []
    ends: list[int] = []
    kept: list[_Candidate] = []
    seen: set[tuple[int, int]] = set()
    for candidate in sorted(candidates, key=lambda c: (c[0], c[1])):
        start, end = candidate[1], candidate[2]
        if (start, end) in seen:
            continue
        index = bisect.bisect_right(starts, start)
        if (index and ends[index - 1] > start) or (index < len(starts) and starts[index] < end):
            continue
        starts.insert(index, start)
        ends.insert(index, end)
        kept.append(candidate)
        seen.add((start, end))
    return sorted(kept, key=lambda c: c[1])


def _records(text: bytes, kept: list[_Candidate], key: bytes) -> list[SecretMatch]:
    matches: list[SecretMatch] = []
    line, counted = 1, 0
    for _, start, end, entry, provider, name in kept:
        line += text.count(b"\n", counted, start)
        counted = start
        secret = text[start:end]
        canonical = entry.canonical(secret) if entry.canonical is not None else secret
        severity = entry.severity if entry.severity is not None else _RULE_SEVERITY[entry.rule_id]
        matches.append(SecretMatch(entry.detector_id, provider, entry.label, entry.rule_id, severity, start, end,
                                   line, mask(secret, len(entry.prefix)), fingerprint(canonical, key), len(secret),
                                   name))
    return matches


_RULE_SEVERITY = {"BST-SEC-001": Severity.CRITICAL, "BST-SEC-002": Severity.CRITICAL, "BST-SEC-003": Severity.HIGH}
"""Default severities of the secrets rules (the catalogue's, kept here so the scanner needs no catalogue)."""


def scan_secrets(text: bytes, lower: bytes | None = None, *, detectors: tuple[Detector, ...] = DETECTORS,
                 generic: frozenset[str] | None = None, key: bytes | None = None,
                 deadline: float | None = None) -> tuple[list[SecretMatch], str | None]:
    """Every credential in ``text`` and, when the text was not examined completely, why.

    ``lower``: ``text.lower()`` when the caller has it. ``detectors``: the provider table to use. ``generic``: ids
    of the enabled name-based detectors (default all three). ``key``: the fingerprint key (default this
    installation's). ``deadline``: a ``time.monotonic()`` value after which the search stops."""
    lower = text.lower() if lower is None else lower
    enabled = frozenset(d.detector_id for d in GENERIC_DETECTORS) if generic is None else generic
    candidates, complete = _provider_candidates(text, lower, detectors, deadline)
    if complete:
        extra, complete = _generic_candidates(text, lower, detectors, enabled, deadline)
        candidates.extend(extra)
    kept = _resolve(candidates)
    reason = None if complete else "time limit reached while searching for secrets"
    if len(kept) > MAX_MATCHES:
        kept, reason = kept[:MAX_MATCHES], f"more than {MAX_MATCHES} secrets; only the first {MAX_MATCHES} reported"
    return _records(text, kept, installation_key() if key is None else key), reason


def find_secrets(text: bytes | str, *, detectors: tuple[Detector, ...] = DETECTORS, key: bytes | None = None
                 ) -> list[SecretMatch]:
    """Every credential in ``text`` (a ``str`` is scanned as UTF-8; spans are then UTF-8 byte offsets)."""
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    return scan_secrets(data, detectors=detectors, key=key)[0]
