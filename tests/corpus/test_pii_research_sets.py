"""The presidio-research sets in ../shared/data/pii: F1 on the structured types pattern mode covers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bastion.data.pii import PiiDetector

SHARED_PII = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "pii"
STRUCTURED = {"CREDIT_CARD", "PHONE_NUMBER", "DATE_TIME", "EMAIL_ADDRESS", "US_SSN", "IBAN_CODE", "IP_ADDRESS",
              "US_DRIVER_LICENSE", "DOMAIN_NAME"}


@pytest.mark.parametrize("name", ["generated_small.json", "generated_large.json"])
def test_f1_on_structured_types_is_at_least_0_85(name: str) -> None:
    if not (SHARED_PII / name).is_file():
        pytest.skip("../shared/data/pii is absent: the presidio-research sets are shared test material")
    records = json.loads((SHARED_PII / name).read_text(encoding="utf-8"))
    detector = PiiDetector()
    hits = misses = spurious = 0
    for record, found in zip(records, detector.detect_many([r["full_text"] for r in records]), strict=True):
        truth = [({"DOMAIN_NAME": "URL"}.get(s["entity_type"], s["entity_type"]), s["start_position"],
                  s["end_position"]) for s in record["spans"] if s["entity_type"] in STRUCTURED]
        used: set[int] = set()
        for entity in found:
            match = next((i for i, (kind, start, end) in enumerate(truth)
                          if i not in used and kind == entity.type and entity.start < end and start < entity.end), None)
            if match is None:
                spurious += 1
            else:
                used.add(match)
                hits += 1
        misses += len(truth) - len(used)
    f1 = 2 * hits / (2 * hits + misses + spurious)
    assert f1 >= 0.85, (hits, misses, spurious)
