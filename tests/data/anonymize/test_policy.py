"""Anonymisation policies: a full policy parses into the right rules; every error names the file and the place."""

from __future__ import annotations

from pathlib import Path

import pytest

from bastion.data.anonymize.policy import PolicyError, load_policy, parse_policy

FULL = """\
version: 1
key: {file: keys/pii.key}
threshold: 0.6
default: redact
entities:
  EMAIL_ADDRESS: pseudonymize
  PHONE_NUMBER: {operator: mask, keep: 4}
  CREDIT_CARD: fpe
  US_SSN: encrypt
  DATE_TIME: {operator: generalize, to: year}
columns:
  email: {operator: pseudonymize, entity: EMAIL_ADDRESS}
  zip: {operator: generalize, zip_prefix: 3}
  notes: detect
  summary: {operator: detect}
  diagnosis: keep
text_fields: [text, title]
k_anonymity: {quasi_identifiers: [zip, age, sex], k: 5, l: 2, sensitive: diagnosis, max_suppression: 0.1,
              suppress: mask}
"""


def _write(tmp_path: Path, text: str, name: str = "policy.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_full_policy_parses(tmp_path: Path) -> None:
    policy = load_policy(_write(tmp_path, FULL))
    assert policy.source == str(tmp_path / "policy.yaml")
    assert policy.key_file == "keys/pii.key" and policy.key_env is None
    assert policy.threshold == 0.6 and policy.text_fields == ("text", "title")
    assert policy.default.name == "redact"
    assert {kind: op.name for kind, op in policy.entities.items()} == {
        "EMAIL_ADDRESS": "pseudonymize", "PHONE_NUMBER": "mask", "CREDIT_CARD": "fpe", "US_SSN": "encrypt",
        "DATE_TIME": "generalize"}
    assert dict(policy.entities["PHONE_NUMBER"].options) == {"keep": 4}
    assert dict(policy.entities["DATE_TIME"].options) == {"to": "year"}
    assert policy.operator_for("IBAN_CODE").name == "redact"  # unlisted: the default
    email = policy.columns["email"]
    assert email.operator is not None and email.operator.name == "pseudonymize" and email.entity == "EMAIL_ADDRESS"
    assert dict(email.operator.options) == {}  # "entity" is the rule's, not an operator option
    zip_rule = policy.columns["zip"]
    assert zip_rule.entity == "ZIP" and zip_rule.operator is not None
    assert dict(zip_rule.operator.options) == {"zip_prefix": 3}
    assert policy.columns["notes"].operator is None and policy.columns["summary"].operator is None
    assert policy.columns["diagnosis"].operator is not None and policy.columns["diagnosis"].operator.name == "keep"
    goal = policy.k_anonymity
    assert goal is not None
    assert (goal.quasi_identifiers, goal.k, goal.l, goal.sensitive, goal.max_suppression, goal.suppress) == (
        ("zip", "age", "sex"), 5, 2, "diagnosis", 0.1, "mask")


def test_defaults_of_an_empty_policy(tmp_path: Path) -> None:
    policy = load_policy(_write(tmp_path, "# nothing but a comment\n"))
    assert policy.default.name == "replace" and policy.entities == {} and policy.columns == {}
    assert policy.text_fields == ("text",) and policy.threshold == 0.5 and policy.k_anonymity is None
    assert policy.key_file is None and policy.key_env is None and not policy.needs_key()
    assert parse_policy({"key": {"env": "MY_KEY"}}).key_env == "MY_KEY"
    assert parse_policy({"text_fields": "body"}).text_fields == ("body",)


@pytest.mark.parametrize(("document", "place"), [
    ({"entities": {"FOO": "redact"}}, r"entities\.FOO: unknown entity type"),
    ({"entities": {"EMAIL_ADDRESS": "shred"}}, r"entities\.EMAIL_ADDRESS: unknown operator 'shred'"),
    ({"entities": {"EMAIL_ADDRESS": {"operator": "mask", "kep": 4}}},
     r"entities\.EMAIL_ADDRESS: operator mask has no option kep"),
    ({"entities": {"DATE_TIME": {"operator": "generalize", "to": "decade"}}},
     r"entities\.DATE_TIME: operator generalize: level must be one of year, month, day"),
    ({"entities": {"EMAIL_ADDRESS": {"keep": 4}}}, r"entities\.EMAIL_ADDRESS: expected an operator name"),
    ({"entities": ["EMAIL_ADDRESS"]}, r"entities: expected a mapping, found list"),
    ({"columns": {"x": {"operator": "bogus"}}}, r"columns\.x\.operator: unknown operator 'bogus'"),
    ({"columns": {"x": "bogus"}}, r"columns\.x: unknown operator 'bogus'"),
    ({"columns": {"x": {"operator": "keep", "entity": "SHOE_SIZE"}}}, r"columns\.x\.entity: unknown entity type"),
    ({"columns": {"age": {"operator": "generalize", "age_band": 0}}},
     r"columns\.age: operator generalize: width must be a positive integer"),
    ({"default": "shred"}, r"default: unknown operator"),
    ({"threshold": 2}, r"threshold: expected a number from 0.0 to 1.0, found 2"),
    ({"threshold": True}, r"threshold: expected a number"),
    ({"text_fields": []}, r"text_fields: expected a non-empty list of names"),
    ({"ner": 3}, r"ner: expected a string"),
    ({"k_anonymity": {"quasi_identifiers": ["zip"], "k": 1}}, r"k_anonymity\.k: expected a whole number of at "
                                                              r"least 2, found 1"),
    ({"k_anonymity": {"quasi_identifiers": ["zip"], "k": "5"}}, r"k_anonymity\.k: expected a whole number"),
    ({"k_anonymity": {"quasi_identifiers": ["zip"], "k": 5, "l": 1, "sensitive": "d"}}, r"k_anonymity\.l: "),
    ({"k_anonymity": {"quasi_identifiers": ["zip"], "k": 5, "l": 2}}, r"k_anonymity: l needs a sensitive column"),
    ({"k_anonymity": {"k": 5}}, r"k_anonymity\.quasi_identifiers: expected a non-empty list"),
    ({"k_anonymity": {"quasi_identifiers": ["zip"], "k": 5, "suppress": "hide"}}, r"k_anonymity\.suppress: "),
    ({"k_anonymity": {"quasi_identifiers": ["zip"], "k": 5, "max_suppression": 2}},
     r"k_anonymity\.max_suppression: expected a number"),
    ({"k_anonymity": {"quasi_identifiers": ["zip"], "k": 5, "kk": 1}}, r"k_anonymity: unknown key\(s\) kk"),
    ({"k_anonymity": 5}, r"k_anonymity: expected a mapping"),
    ({"entitys": {}, "colums": {}}, r"unknown key\(s\) colums, entitys \(known: columns, default, entities"),
])
def test_each_error_names_the_file_and_the_place(document: dict[str, object], place: str) -> None:
    with pytest.raises(PolicyError, match=rf"^policy\.yaml: {place}"):
        parse_policy(document, "policy.yaml")


@pytest.mark.parametrize("key", [
    "0f" * 32,
    {"value": "0f" * 32},
    {"file": "a.key", "env": "B"},
    {},
])
def test_a_key_must_be_named_by_file_or_env_never_given(key: object) -> None:
    with pytest.raises(PolicyError, match=r"^p: key: expected \{file: PATH\} or \{env: VARIABLE\}") as caught:
        parse_policy({"key": key}, "p")
    assert "0f0f" not in str(caught.value)  # the key material is never echoed


def test_key_source_must_be_a_string() -> None:
    with pytest.raises(PolicyError, match=r"^p: key\.file: expected a string"):
        parse_policy({"key": {"file": 7}}, "p")


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "default: redact\nentities:\n  EMAIL_ADDRESS: [mask\n  PHONE_NUMBER: keep\n")
    with pytest.raises(PolicyError, match=rf"^{path}: not valid YAML \(line 4, column \d+\)"):
        load_policy(path)


def test_non_mapping_documents_are_refused(tmp_path: Path) -> None:
    for text in ("- redact\n- mask\n", "just words\n", "42\n"):
        with pytest.raises(PolicyError, match="expected a mapping at the top level"):
            load_policy(_write(tmp_path, text))


def test_unreadable_missing_or_oversized_policies(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match=r"missing\.yaml: cannot be read"):
        load_policy(tmp_path / "missing.yaml")
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("default: redact # café\n".encode("latin-1"))
    with pytest.raises(PolicyError, match=r"latin\.yaml: not UTF-8 text"):
        load_policy(latin)
    huge = _write(tmp_path, "# " + "x" * (1 << 20) + "\n", "huge.yaml")
    with pytest.raises(PolicyError, match=r"huge\.yaml: larger than"):
        load_policy(huge)


def test_needs_key() -> None:
    assert not parse_policy({"entities": {"EMAIL_ADDRESS": "mask"}, "columns": {"notes": "detect"}}).needs_key()
    assert parse_policy({"entities": {"EMAIL_ADDRESS": "pseudonymize"}}).needs_key()
    assert parse_policy({"default": "encrypt"}).needs_key()
    assert parse_policy({"columns": {"card": {"operator": "fpe", "entity": "CREDIT_CARD"}}}).needs_key()
    assert not parse_policy({"columns": {"zip": {"operator": "generalize", "zip_prefix": 3}}}).needs_key()


def test_detected_types() -> None:
    assert parse_policy({}).detected_types() is None  # the default replaces everything: detect every type
    assert parse_policy({"default": "redact", "entities": {"US_SSN": "keep"}}).detected_types() is None
    keep_rest = parse_policy({"default": "keep", "entities": {"EMAIL_ADDRESS": "redact", "US_SSN": "keep",
                                                              "CREDIT_CARD": "fpe"}})
    assert keep_rest.detected_types() == ("EMAIL_ADDRESS", "CREDIT_CARD")
    assert parse_policy({"default": "keep"}).detected_types() == ()
