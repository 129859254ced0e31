#!/usr/bin/env python3
"""PII detection benchmark: Bastion's pattern engine beside Microsoft Presidio in pattern mode, from one run.

Texts come from ``pii_corpus.py`` (seeded templates filled with fake, valid-by-construction entities in seven
locales; the ``eval`` half of the templates by default) plus PII-free distractor sentences full of numbers, and from
the presidio-research sets in ``../shared/data/pii`` when that folder exists. Both tools see the same texts:

- Presidio runs in its own venv (``benchmarks/.peers/pii-venv``, installed on first use) through
  ``pii_presidio_worker.py``: ``AnalyzerEngine`` with the default English recognizers over a ``SpacyNlpEngine``
  whose pipeline is ``spacy.blank("en")`` (no model download, no NER; works offline);
- Bastion runs in this process: ``PiiDetector().detect_many(texts)`` (``--detector`` picks another class).

Scoring, per entity type: precision, recall, F1 and F2 with overlap matching (a truth is found when a finding of
the same type intersects it; a finding is right when it intersects a truth of its type) and F1 with exact matching
(same type, same span). Before scoring, each tool's entities go through the conflict
rule of Presidio's anonymizer (an entity inside another is dropped; of two on the same span the higher score stays;
``--raw`` turns this off). Micro averages are over the structured types; a type a tool has no recognizer for counts
as misses. Every entity reported on a distractor sentence is a false positive. Throughput is timed on the same texts
(corpus + distractors) in one process each: texts/s on wall time and MB/s per core on CPU time.

Usage: ``.venv/bin/python benchmarks/pii_bench.py [--n 2000] [--seed 7] [--json FILE] [--skip-peer]``
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))

import pii_corpus  # noqa: E402
from pii_corpus import STRUCTURED_TYPES, Sample  # noqa: E402

PEER_VENV = BENCH_DIR / ".peers" / "pii-venv"
PEER_PYTHON = PEER_VENV / "bin" / "python"
WORKER = BENCH_DIR / "pii_presidio_worker.py"
RESEARCH_DIR = ROOT.parent / "shared" / "data" / "pii"
RESEARCH_FILES = ("generated_small.json", "generated_large.json")
PEER_PINS = ("presidio-analyzer==2.2.366", "presidio-anonymizer==2.2.366", "spacy==3.8.18")
"""The newest versions pip found when this benchmark was written; installed into the peer venv."""
DEFAULT_DETECTOR = "bastion.data.pii:PiiDetector"
KEY_TYPES = ("CREDIT_CARD", "IBAN_CODE", "US_SSN", "IP_ADDRESS", "EMAIL_ADDRESS")
RESEARCH_TYPES = ("CREDIT_CARD", "PHONE_NUMBER", "DATE_TIME", "EMAIL_ADDRESS", "US_SSN", "IBAN_CODE", "IP_ADDRESS",
                  "US_DRIVER_LICENSE", "URL")
TRUTH_NAMES = {"DOMAIN_NAME": "URL"}
"""presidio-research labels -> the detectors' names."""
REPORTED_NAMES = {"EMAIL": "EMAIL_ADDRESS", "DOMAIN_NAME": "URL", "NHS": "UK_NHS", "IBAN": "IBAN_CODE"}
"""Reported names -> scored names. Presidio 2.2 already uses the scored names for every structured type (URL,
IP_ADDRESS, CRYPTO, US_ITIN, UK_NHS, MAC_ADDRESS...); its other pattern types (US_DRIVER_LICENSE, US_BANK_NUMBER,
US_PASSPORT, MEDICAL_LICENSE, UUID) are kept as they are: not scored on the corpus, counted on distractors."""
ISSUE_PRESIDIO = {"micro_f1": 0.89, "texts_per_s": 136.0}
"""Presidio's figures quoted in the issue, printed for reference."""
JSON_EXAMPLES = 50
"""Missed and spurious examples kept per tool and type in the ``--json`` file."""
TARGETS = {"micro_f1": 0.97, "key_recall": 0.98, "distractor_entities": 0, "research_f1": 0.85, "speedup": 20.0,
           "mb_per_core_s": 1.0}

Span = tuple[str, int, int]
Found = tuple[str, int, int, float]


def _card(prefix: str) -> str:
    body = prefix + "0" * (15 - len(prefix))
    return body + pii_corpus.luhn_digit(body)


def _iban(country: str, bban: str) -> str:
    return country + pii_corpus.iban_check(country, bban) + bban


MC2_A, MC2_B = _card("2221000012"), _card("27209912345")
IBAN_BE, IBAN_AT = _iban("BE", "096123456769"), _iban("AT", "1904300234573201")
IBAN_ES = _iban("ES", "21000418450200051332")
IBAN_ES_GROUPED = " ".join(IBAN_ES[i:i + 4] for i in range(0, len(IBAN_ES), 4))
MC2_A_GROUPED = " ".join(MC2_A[i:i + 4] for i in range(0, 16, 4))
MISS_CASES: tuple[tuple[str, str, str, str], ...] = (
    ("Mastercard 2-series", "CREDIT_CARD", f"Please charge my Mastercard {MC2_A_GROUPED} for the renewal.",
     MC2_A_GROUPED),
    ("Mastercard 2-series", "CREDIT_CARD", f"card={MC2_B} declined (insufficient funds)", MC2_B),
    ("IBAN + word", "IBAN_CODE", f"IBAN {IBAN_BE} please, the invoice is attached.", IBAN_BE),
    ("IBAN + word", "IBAN_CODE", f"Pay to {IBAN_AT} today and send me the receipt.", IBAN_AT),
    ("IBAN + word", "IBAN_CODE", f"My account {IBAN_ES_GROUPED} thanks", IBAN_ES_GROUPED),
)
"""The two Presidio misses of the issue, each on a few sentences: (case, type, text, value as written)."""


@dataclass
class Counts:
    """Truths found (tp) and missed (fn), findings right (ok) and wrong (fp), of one type."""

    tp: int = 0
    fn: int = 0
    ok: int = 0
    fp: int = 0

    def add(self, other: Counts) -> None:
        """Accumulate another type's counts (micro averaging)."""
        self.tp, self.fn, self.ok, self.fp = self.tp + other.tp, self.fn + other.fn, self.ok + other.ok, \
            self.fp + other.fp

    def metrics(self) -> dict[str, float]:
        """Precision (right findings), recall (found truths), F1 and F2; 0 where undefined."""
        p = self.ok / (self.ok + self.fp) if self.ok + self.fp else 0.0
        r = self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        f2 = 5 * p * r / (4 * p + r) if p + r else 0.0
        return {"precision": p, "recall": r, "f1": f1, "f2": f2, "tp": self.tp, "fn": self.fn, "fp": self.fp}


# --------------------------------------------------------------------------- tools


def ensure_presidio() -> Path | None:
    """The peer venv's python, installing Presidio and spaCy on first use; ``None`` when the install fails."""
    if PEER_PYTHON.exists():
        return PEER_PYTHON
    print(f"installing {', '.join(PEER_PINS)} into {PEER_VENV.relative_to(ROOT)} ...", flush=True)
    steps = ([sys.executable, "-m", "venv", str(PEER_VENV)], [str(PEER_VENV / "bin" / "pip"), "install", "--quiet",
                                                            *PEER_PINS])
    for argv in steps:
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            print(f"Presidio unavailable: {(done.stderr or done.stdout).strip().splitlines()[-1:]}")
            return None
    return PEER_PYTHON


def run_presidio(python: Path, sets: dict[str, list[str]], timed: str, repeat: int) -> dict[str, Any] | None:
    """Presidio's entities for every set and the timing of ``timed``, from the worker; ``None`` on failure."""
    with tempfile.TemporaryDirectory(prefix="pii-bench-") as work:
        request, answer = Path(work) / "in.json", Path(work) / "out.json"
        request.write_text(json.dumps({"sets": sets, "timed": timed, "repeat": repeat, "warmup": 50}))
        env = {**os.environ, "TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS": ""}
        done = subprocess.run([str(python), str(WORKER), str(request), str(answer)], capture_output=True, text=True,
                              env=env, cwd=work, timeout=1800, check=False)
        if done.returncode != 0 or not answer.exists():
            print(f"Presidio worker failed ({done.returncode}): {done.stderr.strip()[-800:]}")
            return None
        return json.loads(answer.read_text())


def load_detector(spec: str) -> tuple[Any, str]:
    """An instance of ``module:Class``, or ``None`` and the reason it could not be made."""
    module_name, _, attr = spec.partition(":")
    try:
        return getattr(importlib.import_module(module_name), attr)(), ""
    except Exception as error:  # noqa: BLE001 - any failure means "not available yet"
        return None, f"{type(error).__name__}: {error}"


def supported_by_bastion(detector: Any) -> set[str]:
    """Entity types the detector can report (``ENTITY_TYPES`` of its package, else every structured type)."""
    for source in (detector, sys.modules.get(type(detector).__module__.rsplit(".", 1)[0])):
        types = getattr(source, "ENTITY_TYPES", None) or getattr(source, "supported_entities", None)
        if types:
            return set(types() if callable(types) else types)
    return set(STRUCTURED_TYPES)


def _cpu() -> float:
    return time.process_time()


def _entities(found: list[Any]) -> list[list[Any]]:
    return [[e.type, e.start, e.end, float(e.score)] for e in found]


def run_bastion(detector: Any, sets: dict[str, list[str]], timed: str, repeat: int) -> dict[str, Any]:
    """Bastion's entities for every set; ``detect_many`` and a ``detect`` loop timed on ``timed`` (best of N)."""
    texts = sets[timed]
    detector.detect_many(texts[:50])
    timings: dict[str, dict[str, float]] = {}
    kept: list[list[Any]] = []
    for name, call in (("detect_many", detector.detect_many),
                       ("detect", lambda batch: [detector.detect(text) for text in batch])):
        wall_best, cpu_best = float("inf"), float("inf")
        for _ in range(max(1, repeat)):
            wall, cpu = time.perf_counter(), _cpu()
            found = call(texts)
            wall_best, cpu_best = min(wall_best, time.perf_counter() - wall), min(cpu_best, _cpu() - cpu)
            kept = kept or found
        timings[name] = {"wall_s": wall_best, "cpu_s": cpu_best, "texts": len(texts),
                         "bytes": sum(len(t.encode("utf-8")) for t in texts)}
    results = {name: [_entities(f) for f in (kept if name == timed else detector.detect_many(batch))]
               for name, batch in sets.items()}
    return {"timing": timings["detect_many"], "timing_detect": timings["detect"], "results": results}


# --------------------------------------------------------------------------- scoring


def _named(found: list[list[Any]]) -> list[Found]:
    return [(REPORTED_NAMES.get(str(t), str(t)), int(s), int(e), float(c)) for t, s, e, c in found]


def resolve(found: list[list[Any]]) -> list[Found]:
    """Presidio's anonymizer conflict rule: drop an entity contained in another; same span, higher score wins."""
    ordered = sorted(_named(found), key=lambda x: (x[1], -x[2], -x[3]))
    kept: list[Found] = []
    for entity in ordered:
        if not any(k[1] <= entity[1] and entity[2] <= k[2] for k in kept):
            kept.append(entity)
    return kept


def prepare(results: list[list[list[Any]]], raw: bool) -> list[list[Found]]:
    """The tool's entities per text, conflict-resolved unless ``raw``."""
    if raw:
        return [_named(found) for found in results]
    return [resolve(found) for found in results]


def _hits(span: tuple[int, int], other: tuple[int, int], exact: bool) -> bool:
    return span == other if exact else max(span[0], other[0]) < min(span[1], other[1])


def _match(truth: list[Span], found: list[Found], kind: str, exact: bool) -> tuple[list[Span], list[Found], int]:
    """Missed truths, wrong findings and the number of right findings of one type in one text.

    Exact: a truth is found, and a finding right, when a finding of the type has the same span. Overlap: when the
    spans intersect; a value reported in two pieces is found once and neither piece is counted wrong.
    """
    truths = [(s, e) for k, s, e in truth if k == kind]
    findings = [f for f in found if f[0] == kind]
    missed = [(kind, s, e) for s, e in truths if not any(_hits((s, e), (f[1], f[2]), exact) for f in findings)]
    wrong = [f for f in findings if not any(_hits((f[1], f[2]), span, exact) for span in truths)]
    return missed, wrong, len(findings) - len(wrong)


def score(truths: list[list[Span]], found: list[list[Found]], types: tuple[str, ...],
          exact: bool) -> dict[str, Counts]:
    """Counts per type over all texts."""
    counts = {kind: Counts() for kind in types}
    for truth, entities in zip(truths, found, strict=True):
        for kind in types:
            missed, wrong, right = _match(truth, entities, kind, exact)
            total = sum(1 for t in truth if t[0] == kind)
            counts[kind].add(Counts(total - len(missed), len(missed), right, len(wrong)))
    return counts


def micro(counts: dict[str, Counts]) -> Counts:
    """Sum of the per-type counts."""
    total = Counts()
    for value in counts.values():
        total.add(value)
    return total


def errors(texts: list[str], truths: list[list[Span]], found: list[list[Found]], types: tuple[str, ...],
           limit: int) -> dict[str, list[dict[str, str]]]:
    """Up to ``limit`` missed and spurious entities per type (overlap matching), with their text."""
    out: dict[str, list[dict[str, str]]] = {}
    for text, truth, entities in zip(texts, truths, found, strict=True):
        for kind in types:
            missed, extra, _ = _match(truth, entities, kind, exact=False)
            for label, items in (("missed", missed), ("spurious", extra)):
                for item in items:
                    bucket = out.setdefault(f"{label} {kind}", [])
                    if len(bucket) < limit:
                        bucket.append({"value": text[item[1]:item[2]], "text": text})
    return out


def evaluate(texts: list[str], truths: list[list[Span]], found: list[list[Found]], types: tuple[str, ...],
             limit: int) -> dict[str, Any]:
    """Per-type and micro metrics with overlap and exact matching, plus error examples."""
    overlap, exact = score(truths, found, types, exact=False), score(truths, found, types, exact=True)
    return {"types": {k: {**overlap[k].metrics(), "exact_f1": exact[k].metrics()["f1"]} for k in types},
            "micro": {**micro(overlap).metrics(), "exact_f1": micro(exact).metrics()["f1"]},
            "errors": errors(texts, truths, found, types, limit)}


# --------------------------------------------------------------------------- data


def research_sets() -> dict[str, tuple[list[str], list[list[Span]], Counter[str]]]:
    """presidio-research sets: texts, spans of the pattern-mode types, and counts of the NER-only labels."""
    sets = {}
    for name in RESEARCH_FILES:
        path = RESEARCH_DIR / name
        if not path.is_file():
            continue
        texts, truths, ner = [], [], Counter()
        for record in json.loads(path.read_text(encoding="utf-8")):
            texts.append(record["full_text"])
            spans = []
            for span in record["spans"]:
                kind = TRUTH_NAMES.get(span["entity_type"], span["entity_type"])
                if kind in RESEARCH_TYPES:
                    spans.append((kind, span["start_position"], span["end_position"]))
                else:
                    ner[kind] += 1
            truths.append(spans)
        sets[Path(name).stem] = (texts, truths, ner)
    return sets


def miss_demo(found: list[list[Found]]) -> list[bool]:
    """Whether each ``MISS_CASES`` value was reported with its type and its exact span."""
    out = []
    for (_, kind, text, value), entities in zip(MISS_CASES, found, strict=True):
        start = text.index(value)
        out.append((kind, start, start + len(value)) in {e[:3] for e in entities})
    return out


# --------------------------------------------------------------------------- report


def _fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _cells(metrics: dict[str, Any] | None, supported: bool) -> str:
    if metrics is None:
        return f"{'n/a':>32}"
    mark = "*" if not supported else " "
    return (f"{_fmt(metrics['precision'])} {_fmt(metrics['recall'])} {_fmt(metrics['f1'])} {_fmt(metrics['f2'])}"
            f"{mark}{_fmt(metrics['exact_f1'])}").rjust(32)


def print_types(title: str, types: tuple[str, ...], truth_counts: Counter[str], tools: dict[str, dict[str, Any]],
                supported: dict[str, set[str]]) -> None:
    """One table: per-type metrics of every tool, then the micro average."""
    print(f"\n{title}")
    labels = "   " + " ".join(f"{label:>5}" for label in ("P", "R", "F1", "F2", "exF1"))
    print(f"{'':<24}" + "".join(f"  {name:^32}" for name in tools))
    print(f"{'type':<18}{'truth':>6}" + "".join(f"  {labels}" for _ in tools))
    for kind in types:
        row = "".join(f"  {_cells(r['types'][kind] if r else None, kind in supported[n])}" for n, r in tools.items())
        print(f"{kind:<18}{truth_counts[kind]:>6}{row}")
    row = "".join(f"  {_cells(r['micro'] if r else None, True)}" for r in tools.values())
    print(f"{'micro':<18}{sum(truth_counts[k] for k in types):>6}{row}")


def throughput(timing: dict[str, float] | None) -> dict[str, float] | None:
    """texts/s (wall) and MB/s per core (CPU) of a timing record."""
    if not timing:
        return None
    return {"texts_per_s": timing["texts"] / timing["wall_s"], "mb_per_s": timing["bytes"] / 1e6 / timing["wall_s"],
            "mb_per_core_s": timing["bytes"] / 1e6 / max(timing["cpu_s"], 1e-9), **timing}


def _status(ok: bool | None) -> str:
    return "N/A" if ok is None else ("PASS" if ok else "FAIL")


def targets(report: dict[str, Any]) -> list[tuple[str, str, str, bool | None]]:
    """(target, Bastion value, Presidio value, pass) rows."""
    b, p = report["tools"].get("bastion"), report["tools"].get("presidio")

    def get(tool: dict[str, Any] | None, *path: str) -> Any:
        for key in path:
            if tool is None:
                return None
            tool = tool.get(key)
        return tool

    rows: list[tuple[str, str, str, bool | None]] = []
    bf, pf = get(b, "corpus", "micro", "f1"), get(p, "corpus", "micro", "f1")
    rows.append((f"micro-F1 structured >= {TARGETS['micro_f1']}", _fmt(bf), _fmt(pf),
                 None if bf is None else bf >= TARGETS["micro_f1"]))
    for kind in KEY_TYPES:
        br, pr = get(b, "corpus", "types", kind, "recall"), get(p, "corpus", "types", kind, "recall")
        rows.append((f"recall {kind} >= {TARGETS['key_recall']}", _fmt(br), _fmt(pr),
                     None if br is None else br >= TARGETS["key_recall"]))
    bd, pd = get(b, "distractors", "entities"), get(p, "distractors", "entities")
    rows.append((f"entities on PII-free sentences = {TARGETS['distractor_entities']}", str(bd), str(pd),
                 None if bd is None else bd <= TARGETS["distractor_entities"]))
    for name in report.get("research", {}):
        bf, pf = get(b, "research", name, "micro", "f1"), get(p, "research", name, "micro", "f1")
        rows.append((f"F1 {name} >= {TARGETS['research_f1']}", _fmt(bf), _fmt(pf),
                     None if bf is None else bf >= TARGETS["research_f1"]))
    bt, pt = get(b, "throughput", "texts_per_s"), get(p, "throughput", "texts_per_s")
    ratio = bt / pt if bt and pt else None
    rows.append((f"texts/s >= {TARGETS['speedup']:.0f}x Presidio", f"{_fmt(ratio, 1)}x" if ratio else "-",
                 _fmt(pt, 1), None if ratio is None else ratio >= TARGETS["speedup"]))
    bm, pm = get(b, "throughput", "mb_per_core_s"), get(p, "throughput", "mb_per_core_s")
    rows.append((f"MB/s per core >= {TARGETS['mb_per_core_s']}", _fmt(bm, 2), _fmt(pm, 3),
                 None if bm is None else bm >= TARGETS["mb_per_core_s"]))
    bm, pm = get(b, "misses"), get(p, "misses")
    rows.append(("finds Mastercard 2-series and IBAN + word", f"{sum(bm)}/{len(bm)}" if bm else "-",
                 f"{sum(pm)}/{len(pm)}" if pm else "-", None if bm is None else all(bm)))
    bf, pf = get(b, "corpus", "micro", "f1"), get(p, "corpus", "micro", "f1")
    if pf is not None:
        rows.append(("micro-F1 above Presidio's", _fmt(bf), _fmt(pf), None if bf is None else bf > pf))
    return rows


def print_report(report: dict[str, Any], truth_counts: Counter[str], errors_limit: int) -> None:
    """Every table of the run."""
    tools = report["tools"]
    supported = {name: set(tool["supported"]) for name, tool in tools.items()}
    corpus = {name: tool["corpus"] for name, tool in tools.items()}
    cfg = report["config"]
    print_types(f"Generated corpus ({cfg['split']} split, {cfg['n']} texts, seed {cfg['seed']}). P/R/F1/F2: overlap "
                "matching; exF1: exact spans;\n* = the tool has no recognizer for the type (counted as misses)",
                STRUCTURED_TYPES,
                truth_counts, corpus, supported)
    for name, tool in tools.items():
        unsupported = [k for k in STRUCTURED_TYPES if k not in supported[name]]
        if unsupported:
            print(f"  {name} has no recognizer for: {', '.join(unsupported)}")
        other = tool["corpus"]["other_types"]
        if other:
            print(f"  {name} also reported other types (not scored): {dict(other)}")
    print(f"\nPII-free distractor sentences ({cfg['distractors']}): entities reported")
    for name, tool in tools.items():
        print(f"  {name:<10} {tool['distractors']['entities']:>5}  {dict(tool['distractors']['by_type'])}")
        for example in tool["distractors"]["examples"][:errors_limit]:
            print(f"             {example['type']}: {example['value']!r} in {example['text']!r}")
    print_research(report, supported)
    print_speed(report)
    print_misses(report)


def print_research(report: dict[str, Any], supported: dict[str, set[str]]) -> None:
    """The presidio-research tables, or why they are absent."""
    if not report.get("research"):
        print(f"\npresidio-research sets: {RESEARCH_DIR} is absent, skipped")
        return
    for name, info in report["research"].items():
        tools = {tool: data["research"][name] for tool, data in report["tools"].items()}
        print_types(f"presidio-research {name} ({info['texts']} texts; DOMAIN_NAME scored as URL)", RESEARCH_TYPES,
                    Counter(info["truth"]), tools, supported)
        print(f"  not in scope of pattern mode (need NER), not scored: {info['ner']}")


def print_speed(report: dict[str, Any]) -> None:
    """Throughput on the same texts."""
    first = next(iter(report["tools"].values()))["throughput"]
    print(f"\nThroughput ({first['texts']} texts, {first['bytes'] / 1e6:.2f} MB, one process each)")
    print(f"{'tool':<24}{'wall s':>9}{'CPU s':>9}{'texts/s':>11}{'MB/s':>8}{'MB/s/core':>11}")
    presidio = report["tools"].get("presidio", {}).get("throughput")
    for name, tool in report["tools"].items():
        rows = [(name, tool["throughput"])]
        if tool.get("throughput_detect"):
            rows = [(f"{name} detect_many", tool["throughput"]), (f"{name} detect() loop", tool["throughput_detect"])]
        for label, t in rows:
            ratio = f"  {t['texts_per_s'] / presidio['texts_per_s']:.1f}x Presidio" if presidio and name != "presidio" \
                else ""
            print(f"{label:<24}{t['wall_s']:>9.3f}{t['cpu_s']:>9.3f}{t['texts_per_s']:>11.0f}{t['mb_per_s']:>8.3f}"
                  f"{t['mb_per_core_s']:>11.3f}{ratio}")
    print(f"  (the issue quotes Presidio at about {ISSUE_PRESIDIO['texts_per_s']:.0f} short texts/s and micro-F1 "
          f"{ISSUE_PRESIDIO['micro_f1']})")


def print_misses(report: dict[str, Any]) -> None:
    """The two Presidio misses named in the issue, sentence by sentence."""
    print("\nKnown Presidio misses (found = right type, exact span)")
    names = list(report["tools"])
    print(f"{'case':<22}" + "".join(f"{n:>10}" for n in names) + "  sentence")
    for i, (case, _, text, _) in enumerate(MISS_CASES):
        cells = "".join(f"{('found' if report['tools'][n]['misses'][i] else 'MISSED'):>10}" for n in names)
        print(f"{case:<22}{cells}  {text}")
    hashing = report["tools"].get("presidio", {}).get("hash")
    if hashing:
        print(f"  Presidio's hash operator: same digest for the same value twice: {hashing['default_same_twice']} "
              "(a random salt per call by default);\n  with a user salt the digest is sha256(value + salt): "
              f"{hashing['salted_equals_sha256_value_salt']} (a salted hash, not a keyed HMAC pseudonym)")


def print_targets(report: dict[str, Any]) -> None:
    """The targets of the issue with PASS/FAIL for Bastion."""
    print(f"\n{'target':<46}{'bastion':>10}{'presidio':>10}  result")
    for name, bastion, presidio, ok in report["targets"]:
        print(f"{name:<46}{bastion:>10}{presidio:>10}  {_status(ok)}")


def print_errors(report: dict[str, Any], limit: int) -> None:
    """Bastion's missed and spurious entities on the corpus, a few per type."""
    tool = report["tools"].get("bastion")
    if not tool or not limit:
        return
    print("\nBastion errors on the generated corpus (overlap matching)")
    for key, examples in sorted(tool["corpus"]["errors"].items()):
        print(f"  {key}:")
        for example in examples[:limit]:
            print(f"    {example['value']!r} in {example['text']!r}")


# --------------------------------------------------------------------------- main


def tool_report(answer: dict[str, Any], corpus: list[Sample], extra: list[Sample], research: dict[str, Any],
                raw: bool, limit: int) -> dict[str, Any]:
    """Scores of one tool from its raw answer."""
    found = prepare(answer["results"]["corpus"], raw)
    texts = [s.text for s in corpus]
    truths = [s.spans for s in corpus]
    out: dict[str, Any] = {"corpus": evaluate(texts, truths, found[:len(corpus)], STRUCTURED_TYPES, limit)}
    out["corpus"]["other_types"] = Counter(e[0] for f in found[:len(corpus)] for e in f if e[0] not in STRUCTURED_TYPES)
    noise = found[len(corpus):]
    out["distractors"] = {"entities": sum(len(f) for f in noise), "by_type": Counter(e[0] for f in noise for e in f),
                          "examples": [{"type": e[0], "value": s.text[e[1]:e[2]], "text": s.text}
                                       for s, f in zip(extra, noise, strict=True) for e in f][:50]}
    out["research"] = {}
    for name, (rtexts, rtruths, _) in research.items():
        rfound = prepare(answer["results"][name], raw)
        out["research"][name] = evaluate(rtexts, rtruths, rfound, RESEARCH_TYPES, limit)
    out["misses"] = miss_demo(prepare(answer["results"]["misses"], raw))
    out["throughput"] = throughput(answer["timing"])
    if answer.get("timing_detect"):
        out["throughput_detect"] = throughput(answer["timing_detect"])
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="Generated texts with PII (default 2000).")
    parser.add_argument("--distractors", type=int, default=500, help="PII-free sentences (default 500).")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--split", choices=pii_corpus.SPLITS, default="eval", help="Template half to score.")
    parser.add_argument("--repeat", type=int, default=3, help="Bastion timing: best of N (default 3).")
    parser.add_argument("--peer-repeat", type=int, default=3, help="Presidio timing: best of N (default 3).")
    parser.add_argument("--raw", action="store_true", help="Score entities as reported, without conflict resolution.")
    parser.add_argument("--errors", type=int, default=3, help="Examples of errors printed per type (default 3).")
    parser.add_argument("--skip-peer", action="store_true", help="Bastion only.")
    parser.add_argument("--detector", default=DEFAULT_DETECTOR, help="module:Class of the Bastion detector.")
    parser.add_argument("--json", type=Path, help="Write every number of the run to this file.")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Generate, run both tools, score, print, and exit 1 when a Bastion target fails."""
    args = parse_args(argv)
    corpus = pii_corpus.generate(args.n, args.seed, args.split)
    extra = pii_corpus.distractors(args.distractors, args.seed)
    research = research_sets()
    sets = {"corpus": [s.text for s in corpus + extra], "misses": [case[2] for case in MISS_CASES],
            **{name: texts for name, (texts, _, _) in research.items()}}
    answers: dict[str, dict[str, Any]] = {}
    detector, why = load_detector(args.detector)
    if detector is None:
        print(f"Bastion detector {args.detector} unavailable ({why}); Presidio only")
    else:
        answers["bastion"] = {**run_bastion(detector, sets, "corpus", args.repeat),
                              "supported": sorted(supported_by_bastion(detector))}
    python = None if args.skip_peer else ensure_presidio()
    if python is not None:
        answer = run_presidio(python, sets, "corpus", args.peer_repeat)
        if answer is not None:
            answers["presidio"] = answer
    if not answers:
        print("no tool could run")
        return 2
    report: dict[str, Any] = {
        "config": {"n": args.n, "distractors": args.distractors, "seed": args.seed, "split": args.split,
                   "raw": args.raw, "detector": args.detector, "cpus": os.cpu_count()},
        "research": {name: {"texts": len(t), "truth": Counter(k for s in tr for k, _, _ in s), "ner": dict(ner)}
                     for name, (t, tr, ner) in research.items()},
        "tools": {},
    }
    for name, answer in answers.items():
        report["tools"][name] = {**tool_report(answer, corpus, extra, research, args.raw, JSON_EXAMPLES),
                                 "supported": answer["supported"], "versions": answer.get("versions", {}),
                                 "hash": answer.get("hash")}
    report["targets"] = targets(report)
    print_report(report, Counter(k for s in corpus for k, _, _ in s.spans), args.errors)
    print_targets(report)
    print_errors(report, args.errors)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, default=str))
    return 1 if any(ok is False for *_, ok in report["targets"]) else 0


if __name__ == "__main__":
    sys.exit(main())
