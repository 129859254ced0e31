"""CVSS base scores from vector strings (v3.0/v3.1 and v2), and the severity an advisory gets.

The severity of a finding is, in order: the CVSS v3 base score, else the CVSS v2 base score, mapped to bands
(v3: 9.0+ critical, 7.0+ high, 4.0+ medium, 0.1+ low, 0 info; v2: 7.0+ high, 4.0+ medium, else low); else the
database's own label (GHSA's ``database_specific.severity``: CRITICAL, HIGH, MODERATE, LOW); else high, because
an advisory that states no severity is still a known vulnerability. CVSS v4 vectors are not scored (the v4
score needs the specification's lookup tables); a record with only a v4 vector falls through to its label.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from bastion.findings import Severity

_V3 = {
    "AV": {"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2},
    "AC": {"L": 0.77, "H": 0.44},
    "UI": {"N": 0.85, "R": 0.62},
    "C": {"H": 0.56, "L": 0.22, "N": 0.0},
    "I": {"H": 0.56, "L": 0.22, "N": 0.0},
    "A": {"H": 0.56, "L": 0.22, "N": 0.0},
}
_V3_PR = {"U": {"N": 0.85, "L": 0.62, "H": 0.27}, "C": {"N": 0.85, "L": 0.68, "H": 0.5}}
_V2 = {
    "AV": {"L": 0.395, "A": 0.646, "N": 1.0},
    "AC": {"H": 0.35, "M": 0.61, "L": 0.71},
    "Au": {"M": 0.45, "S": 0.56, "N": 0.704},
    "C": {"N": 0.0, "P": 0.275, "C": 0.660},
    "I": {"N": 0.0, "P": 0.275, "C": 0.660},
    "A": {"N": 0.0, "P": 0.275, "C": 0.660},
}


def _metrics(vector: str, prefix: str | None) -> dict[str, str]:
    parts = vector.strip().split("/")
    if prefix is not None:
        if not parts or not parts[0].startswith(prefix):
            raise ValueError(f"{vector!r} does not start with {prefix}")
        parts = parts[1:]
    metrics: dict[str, str] = {}
    for part in parts:
        key, sep, value = part.partition(":")
        if not sep or key in metrics:
            raise ValueError(f"{vector!r}: malformed metric {part!r}")
        metrics[key] = value
    return metrics


def _roundup(value: float) -> float:
    """CVSS v3.1 Roundup: the smallest one-decimal number at or above ``value``, free of float error."""
    scaled = round(value * 100_000)
    return scaled / 100_000 if scaled % 10_000 == 0 else (math.floor(scaled / 10_000) + 1) / 10.0


def cvss3_base(vector: str) -> float:
    """The CVSS v3.x base score of ``vector`` (``CVSS:3.1/AV:N/...``); ValueError when it is malformed."""
    m = _metrics(vector, "CVSS:3")
    try:
        scope = m["S"]
        impact_subscore = 1 - (1 - _V3["C"][m["C"]]) * (1 - _V3["I"][m["I"]]) * (1 - _V3["A"][m["A"]])
        exploitability = 8.22 * _V3["AV"][m["AV"]] * _V3["AC"][m["AC"]] * _V3_PR[scope][m["PR"]] * _V3["UI"][m["UI"]]
    except KeyError as exc:
        raise ValueError(f"{vector!r}: missing or unknown base metric {exc}") from None
    if scope == "U":
        impact = 6.42 * impact_subscore
    else:
        impact = 7.52 * (impact_subscore - 0.029) - 3.25 * (impact_subscore - 0.02) ** 15
    if impact <= 0:
        return 0.0
    total = impact + exploitability if scope == "U" else 1.08 * (impact + exploitability)
    return _roundup(min(total, 10.0))


def cvss2_base(vector: str) -> float:
    """The CVSS v2 base score of ``vector`` (``AV:N/AC:L/Au:N/C:P/I:P/A:P``); ValueError when it is malformed."""
    text = vector.strip()
    if text.startswith("("):
        text = text.strip("()")
    m = _metrics(text, None)
    try:
        impact = 10.41 * (1 - (1 - _V2["C"][m["C"]]) * (1 - _V2["I"][m["I"]]) * (1 - _V2["A"][m["A"]]))
        exploitability = 20 * _V2["AV"][m["AV"]] * _V2["AC"][m["AC"]] * _V2["Au"][m["Au"]]
    except KeyError as exc:
        raise ValueError(f"{vector!r}: missing or unknown base metric {exc}") from None
    factor = 0.0 if impact == 0 else 1.176
    return round(((0.6 * impact) + (0.4 * exploitability) - 1.5) * factor + 1e-9, 1)


def band_v3(score: float) -> Severity:
    """CVSS v3 qualitative rating (None is reported as info)."""
    if score >= 9.0:
        return Severity.CRITICAL
    if score >= 7.0:
        return Severity.HIGH
    if score >= 4.0:
        return Severity.MEDIUM
    return Severity.LOW if score > 0 else Severity.INFO


def band_v2(score: float) -> Severity:
    """NVD's CVSS v2 rating (v2 has no critical band)."""
    if score >= 7.0:
        return Severity.HIGH
    return Severity.MEDIUM if score >= 4.0 else Severity.LOW


def severity_of(vectors: Iterable[tuple[str, str]], labels: Iterable[str]) -> tuple[Severity, str]:
    """The severity an advisory gets, and what it rests on (``CVSS 3.1 base 9.8``, ``database label MODERATE``)."""
    from bastion.supplychain.deps.osv import severity_label

    scored: list[tuple[int, Severity, str]] = []
    for kind, vector in vectors:
        try:
            if kind == "CVSS_V3":
                score = cvss3_base(vector)
                scored.append((3, band_v3(score), f"CVSS {vector.split('/')[0].removeprefix('CVSS:')} base {score}"))
            elif kind == "CVSS_V2":
                score = cvss2_base(vector)
                scored.append((2, band_v2(score), f"CVSS 2.0 base {score}"))
        except ValueError:
            continue  # a malformed vector says nothing; fall through to the next source
    if scored:
        best = max(scored, key=lambda item: (item[0], item[1]))
        return best[1], best[2]
    for label in labels:
        severity = severity_label(label)
        if severity is not None:
            return severity, f"database label {label.strip().upper()}"
    return Severity.HIGH, "the advisory states no severity; high by default"
