"""Presidio side of ``pii_bench.py``: runs inside ``benchmarks/.peers/pii-venv``, never in the project venv.

``python pii_presidio_worker.py IN.json OUT.json``. The input holds ``sets`` (name -> list of texts), ``timed``
(the set whose analysis is timed), ``repeat`` and ``warmup``. The analyzer runs in pattern mode: its NLP engine is
Presidio's ``SpacyNlpEngine`` over ``spacy.blank("en")`` (a tokenizer, no model to download, no NER), with every
recognizer of Presidio's default registry for English. tldextract (used by the e-mail recognizer) is pointed at its
bundled public-suffix snapshot so that nothing is fetched from the network.

The output holds, per set, the entities of every text as ``[type, start, end, score]``, the timing of the timed
set (wall and CPU seconds of the analysis loop only, best of ``repeat``), the supported entity types, the package
versions, and what the anonymizer's ``hash`` operator does with the same value twice.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from importlib.metadata import version
from typing import Any

os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")  # empty: use tldextract's bundled snapshot

import spacy  # noqa: E402
from presidio_analyzer import AnalyzerEngine, RecognizerRegistry  # noqa: E402
from presidio_analyzer.nlp_engine import SpacyNlpEngine  # noqa: E402


class BlankSpacyNlpEngine(SpacyNlpEngine):
    """Presidio's spaCy engine over ``spacy.blank("en")``: tokens and lemmas for context words, no entities."""

    def load(self) -> None:
        """Use a blank English pipeline instead of downloading and loading a trained model."""
        self.nlp = {"en": spacy.blank("en")}


def build_analyzer() -> AnalyzerEngine:
    """An analyzer with Presidio's default English recognizers on the blank NLP engine."""
    engine = BlankSpacyNlpEngine(models=[{"lang_code": "en", "model_name": "blank:en"}])
    engine.load()
    registry = RecognizerRegistry(supported_languages=["en"])
    registry.load_predefined_recognizers(languages=["en"], nlp_engine=engine)
    return AnalyzerEngine(registry=registry, nlp_engine=engine, supported_languages=["en"])


def analyze_all(analyzer: AnalyzerEngine, texts: list[str]) -> list[list[list[Any]]]:
    """Entities of every text, as ``[type, start, end, score]``."""
    return [[[r.entity_type, r.start, r.end, round(r.score, 4)] for r in analyzer.analyze(text=text, language="en")]
            for text in texts]


def cpu_seconds() -> float:
    """CPU time of this process (every thread), as the benchmark measures Bastion's."""
    return time.process_time()


def timed(analyzer: AnalyzerEngine, texts: list[str], repeat: int) -> tuple[dict[str, float], list[list[Any]]]:
    """Wall and CPU seconds of analysing every text once (best of ``repeat``), and the entities of the first run."""
    best_wall, best_cpu = float("inf"), float("inf")
    kept: list[Any] = []
    for _ in range(max(1, repeat)):
        found = []
        wall, cpu = time.perf_counter(), cpu_seconds()
        for text in texts:
            found.append(analyzer.analyze(text=text, language="en"))
        best_wall = min(best_wall, time.perf_counter() - wall)
        best_cpu = min(best_cpu, cpu_seconds() - cpu)
        kept = kept or found
    results = [[[r.entity_type, r.start, r.end, round(r.score, 4)] for r in text_results] for text_results in kept]
    return {"wall_s": best_wall, "cpu_s": best_cpu, "texts": len(texts),
            "bytes": sum(len(t.encode("utf-8")) for t in texts)}, results


def hash_operator(analyzer: AnalyzerEngine) -> dict[str, Any]:
    """What the anonymizer's ``hash`` operator gives for one SSN hashed twice, with and without a salt."""
    from presidio_anonymizer import AnonymizerEngine
    from presidio_anonymizer.entities import OperatorConfig

    text, value, salt = "SSN 536-22-8726 on file", "536-22-8726", "a-sixteen-byte-salt!"
    results = analyzer.analyze(text=text, language="en", entities=["US_SSN"])
    anonymizer = AnonymizerEngine()

    def digest(params: dict[str, Any]) -> str:
        out = anonymizer.anonymize(text, results, operators={"DEFAULT": OperatorConfig("hash", params)}).text
        return out.removeprefix("SSN ").removesuffix(" on file")

    first, second = digest({}), digest({})
    salted = digest({"salt": salt})
    return {"default_same_twice": first == second,
            "salted_equals_sha256_value_salt": salted == hashlib.sha256((value + salt).encode()).hexdigest(),
            "salted_equals_plain_sha256": salted == hashlib.sha256(value.encode()).hexdigest(),
            "found_ssn": bool(results)}


def main(argv: list[str]) -> int:
    """Read the request, analyse every set, time the timed one, write the answer."""
    with open(argv[0], encoding="utf-8") as handle:
        request = json.load(handle)
    started = time.perf_counter()
    analyzer = build_analyzer()
    load_s = time.perf_counter() - started
    sets: dict[str, list[str]] = request["sets"]
    timed_texts = sets[request["timed"]]
    analyze_all(analyzer, timed_texts[: request.get("warmup", 50)])
    timing, timed_results = timed(analyzer, timed_texts, request.get("repeat", 1))
    answer = {
        "versions": {name: version(name) for name in ("presidio-analyzer", "presidio-anonymizer", "spacy")},
        "supported": sorted(analyzer.get_supported_entities("en")),
        "recognizers": sorted({r.name for r in analyzer.registry.recognizers}),
        "load_s": load_s,
        "timing": timing,
        "results": {name: timed_results if name == request["timed"] else analyze_all(analyzer, texts)
                    for name, texts in sets.items()},
        "hash": hash_operator(analyzer),
    }
    with open(argv[1], "w", encoding="utf-8") as handle:
        json.dump(answer, handle)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
