"""The provider table: one positive and near misses per format, the table's own invariants, overlap resolution."""

from __future__ import annotations

import re
import warnings

import pytest
from secret_samples import NEGATIVES, POSITIVES, body, uuid

from bastion.findings import Severity
from bastion.supplychain.secrets import DETECTORS, GENERIC_DETECTORS, find_secrets
from bastion.supplychain.secrets.detectors import NAMED_SHAPES, detector

ALL_IDS = [d.detector_id for d in (*DETECTORS, *GENERIC_DETECTORS)]


def test_every_detector_has_a_positive_sample() -> None:
    assert sorted(POSITIVES) == sorted(ALL_IDS)


@pytest.mark.parametrize("detector_id", sorted(POSITIVES))
def test_positive_is_found_with_its_exact_span(detector_id: str) -> None:
    key, line = POSITIVES[detector_id]
    text = ("# config\n" + line + "\n").encode()
    matches = find_secrets(text)
    assert [m.detector_id for m in matches] == [detector_id], matches
    match = matches[0]
    found = text[match.start:match.end].decode()
    if detector_id == "private-key":
        assert found.replace("\n", "") in key.replace("\n", "")  # the base64 body between the markers
    else:
        assert found == key
    assert match.line == 2 and match.length == len(found)


@pytest.mark.parametrize("name", sorted(NEGATIVES))
def test_near_miss_is_not_reported(name: str) -> None:
    assert find_secrets(NEGATIVES[name]) == []


def test_severities_follow_the_rules_and_the_exceptions() -> None:
    def severity(detector_id: str) -> Severity:
        return find_secrets(POSITIVES[detector_id][1])[0].severity

    assert severity("openai-project-key") is Severity.CRITICAL
    assert severity("private-key") is Severity.CRITICAL
    assert severity("generic-secret") is Severity.HIGH
    assert severity("aws-access-key-id") is Severity.HIGH  # an identifier; its secret key is the critical part
    assert severity("langfuse-public-key") is Severity.LOW
    assert severity("sk-api-key") is Severity.HIGH  # issuer unknown


def test_rules_of_detectors() -> None:
    assert {d.rule_id for d in DETECTORS} == {"BST-SEC-001", "BST-SEC-002"}
    assert detector("private-key").rule_id == "BST-SEC-002"
    assert {d.rule_id for d in GENERIC_DETECTORS} == {"BST-SEC-003"}


def test_deepseek_needs_its_context_and_falls_back_to_the_generic_sk_format() -> None:
    key = "sk-" + body(200, 32, "0123456789abcdef")
    assert [m.detector_id for m in find_secrets(f'DEEPSEEK_API_KEY="{key}"')] == ["deepseek-api-key"]
    other = find_secrets(f'client = Client(api_key="{key}")')
    assert [(m.detector_id, m.provider) for m in other] == [("sk-api-key", "OpenAI-compatible service")]


def test_gemini_context_refines_the_google_provider() -> None:
    key, _ = POSITIVES["google-api-key"]
    assert find_secrets(f"url = '?key={key}'")[0].provider == "Google"
    assert find_secrets(f'import google.generativeai as genai\ngenai.configure(api_key="{key}")')[0].provider == \
        "Google Gemini"


def test_gcp_service_account_json_is_a_service_account_key() -> None:
    from secret_samples import pem

    text = ('{"type": "service_account", "project_id": "demo", "private_key_id": "' + body(201, 40, "0123456789abcdef")
            + '", "private_key": "' + pem(202, "PRIVATE KEY", escaped=True) + '", "client_email": "x@demo.iam"}')
    (match,) = find_secrets(text)
    assert (match.detector_id, match.provider, match.rule_id) == \
        ("private-key", "Google Cloud service account", "BST-SEC-002")


def test_pem_fingerprint_is_the_same_raw_escaped_and_double_escaped() -> None:
    from secret_samples import pem

    raw = find_secrets(pem(203))[0].fingerprint
    escaped = find_secrets('"' + pem(203, escaped=True) + '"')[0].fingerprint
    double = find_secrets("x = '" + pem(203, escaped=True).replace("\\n", "\\\\n") + "'")[0].fingerprint
    assert raw == escaped == double


def test_encrypted_and_openssh_private_keys_are_found() -> None:
    from secret_samples import pem

    for label in ("ENCRYPTED PRIVATE KEY", "OPENSSH PRIVATE KEY", "EC PRIVATE KEY", "PGP PRIVATE KEY BLOCK"):
        assert [m.detector_id for m in find_secrets(pem(204, label))] == ["private-key"], label


def test_nearest_context_wins_between_shape_detectors() -> None:
    cohere_key, _ = POSITIVES["cohere-api-key"]
    aws_secret = body(205, 40, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
    text = f'co = cohere.ClientV2("{cohere_key}")\n' + "x = 1\n" * 5 + f"aws_secret_access_key = {aws_secret}\n"
    assert [m.detector_id for m in find_secrets(text)] == ["cohere-api-key", "aws-secret-access-key"]


def test_named_shapes_promote_generic_assignments() -> None:
    for words, detector_id in NAMED_SHAPES:
        assert detector_id in {d.detector_id for d in DETECTORS}
        assert all(w == w.lower() for w in words)
    key = "SK" + body(206, 32, "0123456789abcdef")
    assert [m.detector_id for m in find_secrets(f"TWILIO_API_KEY={key}")] == ["twilio-api-key"]
    assert "twilio-api-key" not in [m.detector_id for m in find_secrets(f"OTHER_API_KEY={key}")]


def test_keys_after_json_newline_escapes_are_found() -> None:
    key, _ = POSITIVES["groq-api-key"]
    assert [m.detector_id for m in find_secrets('{"log": "line one\\n' + key + '"}')] == ["groq-api-key"]


def test_keys_are_found_in_invalid_utf8_and_binary_neighbourhoods() -> None:
    key, _ = POSITIVES["huggingface-token"]
    text = b"\xff\xfe\xc3(" + b" token=" + key.encode() + b" \x80\x81"
    (match,) = find_secrets(text)
    assert text[match.start:match.end] == key.encode()


def test_str_input_reports_utf8_byte_offsets() -> None:
    key, _ = POSITIVES["groq-api-key"]
    text = "clé é = '" + key + "'"
    (match,) = find_secrets(text)
    assert text.encode()[match.start:match.end].decode() == key


def test_table_invariants() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import sre_parse

    ids = [d.detector_id for d in DETECTORS]
    assert len(ids) == len(set(ids))
    for entry in DETECTORS:
        compiled = re.compile(entry.pattern)
        assert "secret" in compiled.groupindex, entry.detector_id
        assert all(n == n.lower() and n for n in entry.needles), entry.detector_id
        widest = sre_parse.parse(entry.pattern.decode("latin-1")).getwidth()[1]
        assert entry.max_length >= widest - entry.reach, entry.detector_id  # the search window holds any match
        assert len(entry.prefix) <= 12


def test_prefix_needles_occur_in_their_keys() -> None:
    for entry in DETECTORS:
        if entry.window or not entry.needles:
            continue
        key, line = POSITIVES[entry.detector_id]
        assert any(n in line.lower().encode() for n in entry.needles), entry.detector_id


def test_uuid_helper_is_a_uuid() -> None:
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-a[0-9a-f]{3}-[0-9a-f]{12}", uuid(1))
