"""Anonymisation operators: each contract, keyed determinism, reversibility, and refusals that are never garbage."""

from __future__ import annotations

import base64

import pytest

from bastion.data.anonymize.keys import KeyRing
from bastion.data.anonymize.operators import TOKEN, Anonymizer, Document, Operator, OperatorError
from bastion.data.pii.validators import iban_ok, luhn_ok

KEY = KeyRing(bytes(range(32)), "test key")
OTHER_KEY = KeyRing(bytes(range(1, 33)), "other key")
CARD = "4111 1111 1111 1111"
IBAN = "GB29NWBK60161331926819"


def apply(name: str, text: str, kind: str = "PERSON", keys: KeyRing | None = KEY, **options: object) -> str:
    return Anonymizer(keys).apply(Operator(name, options), text, kind, Document())


def test_redact_removes_and_keep_leaves() -> None:
    assert apply("redact", "ann@example.com", "EMAIL_ADDRESS") == ""
    assert apply("keep", "ann@example.com", "EMAIL_ADDRESS") == "ann@example.com"


def test_mask_keeps_separators_and_the_last_n() -> None:
    assert apply("mask", "4111-1111-1111-1234", "CREDIT_CARD") == "****-****-****-1234"
    assert apply("mask", "+44 20 7946 0958", "PHONE_NUMBER", keep=2) == "+** ** **** **58"
    assert apply("mask", "ann@example.com", keep=2, from_end=False, char="#") == "an#@#######.###"
    assert apply("mask", "ab-cd", keep=0) == "**-**"
    assert apply("mask", "abc", keep=10) == "abc"


def test_replace_numbers_placeholders_per_document() -> None:
    anonymizer, document = Anonymizer(), Document()
    replace = Operator("replace")
    names = [anonymizer.apply(replace, name, "PERSON", document) for name in ("Ann", "Bob", "Ann")]
    assert names == ["<PERSON_1>", "<PERSON_2>", "<PERSON_1>"]
    assert anonymizer.apply(replace, "x@y.org", "EMAIL_ADDRESS", document) == "<EMAIL_ADDRESS_1>"  # per type
    assert anonymizer.apply(replace, "Bob", "PERSON", Document()) == "<PERSON_1>"  # a new document restarts
    assert apply("replace", "Ann", value="[name]") == "[name]"


def test_pseudonymize_is_keyed_and_deterministic() -> None:
    token = apply("pseudonymize", "Ann Smith")
    assert token == apply("pseudonymize", "Ann Smith")  # same input and key: same token, across documents
    assert token.startswith("<PERSON_") and len(token) == len("<PERSON_>") + 16
    assert "Ann" not in token
    assert token != apply("pseudonymize", "Ann Smith", keys=OTHER_KEY)
    assert token != apply("pseudonymize", "Bob Smith")
    assert apply("pseudonymize", "Ann Smith", "LOCATION") != token.replace("PERSON", "LOCATION")  # type-separated
    assert len(apply("pseudonymize", "Ann", length=40)) == len("<PERSON_>") + 40
    assert len(apply("pseudonymize", "Ann", length=2)) == len("<PERSON_>") + 8  # never shorter than 8 hex digits


def test_pseudonymize_canonicalises_cards_and_emails() -> None:
    assert apply("pseudonymize", CARD, "CREDIT_CARD") == apply("pseudonymize", "4111-1111-1111-1111", "CREDIT_CARD")
    assert apply("pseudonymize", CARD, "CREDIT_CARD") == apply("pseudonymize", "4111111111111111", "CREDIT_CARD")
    assert apply("pseudonymize", "Ann@Example.COM", "EMAIL_ADDRESS") == apply("pseudonymize", "ann@example.com",
                                                                            "EMAIL_ADDRESS")
    assert apply("pseudonymize", "Ann", "PERSON") != apply("pseudonymize", "ann", "PERSON")  # names keep their case


def test_fpe_keeps_the_format_and_reverses() -> None:
    anonymizer, fpe = Anonymizer(KEY), Operator("fpe")
    for value, kind in [("123-45-6789", "US_SSN"), ("+44 20 7946 0958", "PHONE_NUMBER"), ("0012345", "ID")]:
        out = anonymizer.apply(fpe, value, kind, Document())
        assert out != value and len(out) == len(value)
        assert [ch.isdigit() for ch in out] == [ch.isdigit() for ch in value]
        assert [ch for ch in out if not ch.isdigit()] == [ch for ch in value if not ch.isdigit()]
        assert anonymizer.unfpe(fpe, out, kind) == value
    assert anonymizer.apply(fpe, "123-45-6789", "US_SSN", Document()) == apply("fpe", "123-45-6789", "US_SSN")
    assert apply("fpe", "123-45-6789", "US_SSN", keys=OTHER_KEY) != apply("fpe", "123-45-6789", "US_SSN")


def test_fpe_card_stays_luhn_valid_and_decrypts_back() -> None:
    anonymizer, fpe = Anonymizer(KEY), Operator("fpe")
    for card in (CARD, "5500-0000-0000-0004", "378282246310005", "6011111111111117"):
        out = anonymizer.apply(fpe, card, "CREDIT_CARD", Document())
        assert out != card and len(out) == len(card) and luhn_ok(out)
        assert [i for i, ch in enumerate(out) if not ch.isdigit()] == [i for i, ch in enumerate(card)
                                                                       if not ch.isdigit()]
        assert anonymizer.unfpe(fpe, out, "CREDIT_CARD") == card


def test_fpe_refuses_a_card_with_a_wrong_check_digit() -> None:
    # the check digit is recomputed, so 4111...1112 would come back as 4111...1111: refused, never silently changed
    with pytest.raises(OperatorError, match="Luhn check digit is wrong"):
        apply("fpe", "4111111111111112", "CREDIT_CARD")


def test_fpe_iban_stays_mod97_valid_and_decrypts_back() -> None:
    anonymizer, fpe = Anonymizer(KEY), Operator("fpe")
    for iban in (IBAN, "GB29 NWBK 6016 1331 9268 19", "DE89370400440532013000", "FR1420041010050500013M02606"):
        out = anonymizer.apply(fpe, iban, "IBAN_CODE", Document())
        assert out != iban and len(out) == len(iban) and out[:2] == iban[:2]
        assert iban_ok(out), out
        assert (" " in out) == (" " in iban)
        assert anonymizer.unfpe(fpe, out, "IBAN_CODE") == iban
    with pytest.raises(OperatorError, match="not a valid IBAN"):
        apply("fpe", "GB00NWBK60161331926819", "IBAN_CODE")


def test_fpe_too_short_raises() -> None:
    with pytest.raises(OperatorError, match="fpe on a US_SSN value: .*minimum length"):
        apply("fpe", "12", "US_SSN")
    with pytest.raises(OperatorError, match="fpe on a CREDIT_CARD value"):
        apply("fpe", "", "CREDIT_CARD")


def test_fpe_custom_alphabet() -> None:
    anonymizer, fpe = Anonymizer(KEY), Operator("fpe", {"alphabet": "abcdefghijklmnopqrstuvwxyz"})
    out = anonymizer.apply(fpe, "jean-luc", "PERSON", Document())
    assert len(out) == 8 and out[4] == "-" and out.replace("-", "").isalpha() and out != "jean-luc"
    assert anonymizer.unfpe(fpe, out, "PERSON") == "jean-luc"


def test_encrypt_tokens_are_random_and_open_with_the_key() -> None:
    anonymizer = Anonymizer(KEY)
    first = anonymizer.apply(Operator("encrypt"), "ann@example.com", "EMAIL_ADDRESS", Document())
    second = anonymizer.apply(Operator("encrypt"), "ann@example.com", "EMAIL_ADDRESS", Document())
    match = TOKEN.fullmatch(first)
    assert match is not None and match["type"] == "EMAIL_ADDRESS"
    assert first != second  # a fresh nonce each time
    assert "ann" not in first
    assert anonymizer.decrypt_token("EMAIL_ADDRESS", match["body"]) == "ann@example.com"
    other = TOKEN.fullmatch(second)
    assert other is not None and Anonymizer(KEY).decrypt_token("EMAIL_ADDRESS", other["body"]) == "ann@example.com"
    unicode = anonymizer.apply(Operator("encrypt"), "José Müller", "PERSON", Document())
    assert anonymizer.decrypt_token("PERSON", unicode[len("[[PERSON:"):-2]) == "José Müller"


def _flip(body: str, index: int) -> str:
    return body[:index] + ("A" if body[index] != "A" else "B") + body[index + 1:]


def test_encrypt_refuses_a_wrong_key_or_an_altered_token() -> None:
    token = apply("encrypt", "123-45-6789", "US_SSN")
    match = TOKEN.fullmatch(token)
    assert match is not None
    body = match["body"]
    raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    assert len(raw) == 12 + len("123-45-6789") + 16  # nonce | ciphertext | tag
    with pytest.raises(OperatorError, match="does not open with this key"):
        Anonymizer(OTHER_KEY).decrypt_token("US_SSN", body)
    for index in (0, 10, len(body) // 2, len(body) - 2):
        with pytest.raises(OperatorError, match="does not open"):
            Anonymizer(KEY).decrypt_token("US_SSN", _flip(body, index))
    with pytest.raises(OperatorError, match="does not open"):  # the type is authenticated too
        Anonymizer(KEY).decrypt_token("PHONE_NUMBER", body)
    for cut in (1, 2, 3):  # a token cut short: an OperatorError, not a base64 traceback
        with pytest.raises(OperatorError, match="does not open"):
            Anonymizer(KEY).decrypt_token("US_SSN", body[:-cut])


def test_generalize_dates_zips_ages_and_bands() -> None:
    assert apply("generalize", "1987-04-12", "DATE_TIME", to="year") == "1987"
    assert apply("generalize", "4/12/1987", "DATE_TIME", to="month") == "1987-04"
    assert apply("generalize", "02139", "ZIP", zip_prefix=3) == "021**"
    assert apply("generalize", "SW1A 1AA", "ZIP", zip_prefix=2) == "SW** ***"
    assert apply("generalize", "34", "AGE", age_band=10) == "30-39"
    assert apply("generalize", "34", "AGE", age_band=5) == "30-34"
    assert apply("generalize", "95", "AGE", age_band=10) == "90+"
    assert apply("generalize", "95", "AGE", age_band=10, top=100) == "90-99"
    assert apply("generalize", "1500", "SALARY", band=1000) == "[1000, 2000)"
    with pytest.raises(OperatorError, match="cannot generalise DATE_TIME value of 5 characters"):
        apply("generalize", "later", "DATE_TIME", to="year")  # the message gives the length, never the value


@pytest.mark.parametrize("name", ["pseudonymize", "fpe", "encrypt"])
def test_keyed_operators_without_keys_raise_a_clear_error(name: str) -> None:
    with pytest.raises(OperatorError, match=rf"operator {name} needs a key .*BASTION_PII_KEY"):
        apply(name, "123-45-6789", "US_SSN", keys=None)


def test_unkeyed_operators_need_no_key() -> None:
    assert apply("mask", "123-45-6789", "US_SSN", keys=None) == "***-**-6789"
    with pytest.raises(OperatorError, match="needs a key"):
        Anonymizer().decrypt_token("US_SSN", "A" * 48)
    with pytest.raises(OperatorError, match="needs a key"):
        Anonymizer().unfpe(Operator("fpe"), "123-45-6789", "US_SSN")


@pytest.mark.parametrize(("name", "options", "message"), [
    ("shred", {}, r"unknown operator 'shred' \(known: redact, mask"),
    ("mask", {"kep": 4}, r"operator mask has no option kep \(options: char, from_end, keep\)"),
    ("redact", {"keep": 1}, r"operator redact has no option keep \(options: none\)"),
    ("generalize", {}, "generalize needs exactly one of"),
    ("generalize", {"to": "year", "zip_prefix": 3}, "generalize needs exactly one of"),
    ("generalize", {"to": "decade"}, "level must be one of year, month, day"),
    ("generalize", {"zip_prefix": -1}, "keep must be a non-negative integer"),
    ("generalize", {"age_band": 0}, "width must be a positive integer"),
    ("generalize", {"band": 0}, "width must be a positive finite number"),
    ("mask", {"keep": "all"}, "operator mask: invalid literal"),
    ("mask", {"keep": -1}, "keep must not be negative"),
    ("mask", {"char": "**"}, "char must be a single character"),
    ("pseudonymize", {"length": "long"}, "operator pseudonymize"),
    ("fpe", {"alphabet": "a"}, "alphabet must hold at least two distinct characters"),
    ("fpe", {"alphabet": "aab"}, "alphabet must hold at least two distinct characters"),
])
def test_bad_operator_names_and_options_raise(name: str, options: dict[str, object], message: str) -> None:
    with pytest.raises(OperatorError, match=message):
        Operator(name, options)
