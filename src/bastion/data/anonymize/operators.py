"""Anonymisation operators: what replaces one piece of personal data.

``redact`` removes it, ``mask`` hides all but a few characters, ``replace`` puts a typed placeholder
(``<PERSON_1>``, the same number for the same value within one document), ``pseudonymize`` a keyed HMAC-SHA256
token (the same value under the same key always gives the same token, across files and runs, and without the key
the token reveals nothing), ``fpe`` FF1 format-preserving encryption (a card number stays a Luhn-valid card number,
an IBAN a valid IBAN), ``encrypt`` a reversible AES-256-GCM token that ``bastion pii deanonymize`` opens, and
``generalize`` coarsens dates, ZIP codes and ages. ``keep`` leaves the value alone.
"""

from __future__ import annotations

import base64
import hmac
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from bastion.data.anonymize.keys import KeyRing

OPERATORS = ("redact", "mask", "replace", "pseudonymize", "fpe", "encrypt", "generalize", "keep")
"""Every operator name a policy may use."""
KEYED = frozenset({"pseudonymize", "fpe", "encrypt"})
"""Operators that need key material."""
TOKEN = re.compile(r"\[\[(?P<type>[A-Z][A-Z0-9_]*):(?P<body>[A-Za-z0-9_\-]{40,})\]\]")
"""A reversible ``encrypt`` token in text: ``[[EMAIL_ADDRESS:<base64url nonce|ciphertext|tag>]]``."""
_DIGIT_TYPES = frozenset({"CREDIT_CARD", "US_SSN", "US_ITIN", "PHONE_NUMBER", "UK_NHS", "DE_TAX_ID", "FR_NIR",
                          "US_PASSPORT", "US_DRIVER_LICENSE", "ES_NIF", "IP_ADDRESS"})
"""Types whose pseudonym is computed over the value without separators, so 4111 1111... and 4111-1111... agree."""
_OPTIONS: Mapping[str, frozenset[str]] = {
    "redact": frozenset(), "keep": frozenset(), "encrypt": frozenset(),
    "mask": frozenset({"keep", "from_end", "char"}),
    "replace": frozenset({"value"}),
    "pseudonymize": frozenset({"length"}),
    "fpe": frozenset({"alphabet"}),
    "generalize": frozenset({"to", "zip_prefix", "age_band", "band", "top"}),
}
"""The options each operator accepts."""


class OperatorError(ValueError):
    """An operator that cannot be applied (bad options, a value too short for FF1...); the caller adds the place."""


@dataclass
class Document:
    """Per-document state: the numbering of ``replace`` placeholders (``<PERSON_1>``, ``<PERSON_2>``...)."""

    numbers: dict[tuple[str, str], int] = field(default_factory=dict)
    """(type, value) -> its placeholder number."""
    counts: dict[str, int] = field(default_factory=dict)
    """type -> how many distinct values it has so far."""

    def number(self, kind: str, value: str) -> int:
        """The stable number of ``value`` among the values of ``kind`` in this document."""
        key = (kind, value)
        if key not in self.numbers:
            self.counts[kind] = self.counts.get(kind, 0) + 1
            self.numbers[key] = self.counts[kind]
        return self.numbers[key]


@dataclass(frozen=True)
class Operator:
    """One configured operator."""

    name: str
    """One of ``OPERATORS``."""
    options: Mapping[str, Any] = field(default_factory=dict)
    """Its options (``keep: 4`` for mask, ``to: year`` for generalize...)."""

    def __post_init__(self) -> None:
        if self.name not in OPERATORS:
            raise OperatorError(f"unknown operator {self.name!r} (known: {', '.join(OPERATORS)})")
        unknown = sorted(set(self.options) - _OPTIONS[self.name])
        if unknown:
            allowed = ", ".join(sorted(_OPTIONS[self.name])) or "none"
            raise OperatorError(f"operator {self.name} has no option {', '.join(unknown)} (options: {allowed})")
        if self.name == "generalize" and len(set(self.options) & {"to", "zip_prefix", "age_band", "band"}) != 1:
            raise OperatorError("generalize needs exactly one of: to (year|month|day), zip_prefix, age_band, band")
        try:  # bad option values fail here, where the policy can name their place, not halfway through a file
            _check_values(self.name, self.options)
        except (TypeError, ValueError) as exc:
            raise OperatorError(f"operator {self.name}: {exc}") from None


class Anonymizer:
    """Applies operators to values; holds the derived keys so each is computed once."""

    def __init__(self, keys: KeyRing | None = None) -> None:
        self.keys = keys

    def apply(self, operator: Operator, value: str, kind: str, document: Document) -> str:
        """The replacement for ``value`` (an entity of type ``kind``) under ``operator``."""
        handler: Callable[[Operator, str, str, Document], str] = getattr(self, f"_{operator.name}")
        return handler(operator, value, kind, document)

    def _need_keys(self, operator: Operator) -> KeyRing:
        if self.keys is None:
            raise OperatorError(f"operator {operator.name} needs a key (policy key: {{file: PATH}} or "
                                "$BASTION_PII_KEY)")
        return self.keys

    @staticmethod
    def _redact(operator: Operator, value: str, kind: str, document: Document) -> str:
        return ""

    @staticmethod
    def _keep(operator: Operator, value: str, kind: str, document: Document) -> str:
        return value

    @staticmethod
    def _mask(operator: Operator, value: str, kind: str, document: Document) -> str:
        from bastion.data.pii.entities import mask_characters

        options = operator.options
        return mask_characters(value, int(options.get("keep", 4)), bool(options.get("from_end", True)),
                               str(options.get("char", "*")))

    @staticmethod
    def _replace(operator: Operator, value: str, kind: str, document: Document) -> str:
        if "value" in operator.options:
            return str(operator.options["value"])
        return f"<{kind}_{document.number(kind, value)}>"

    def _pseudonymize(self, operator: Operator, value: str, kind: str, document: Document) -> str:
        length = int(operator.options.get("length", 16))
        digest = hmac.new(self._hmac_key, f"{kind}\x00{_canonical(value, kind)}".encode(), "sha256").hexdigest()
        return f"<{kind}_{digest[:max(8, min(64, length))]}>"

    def _fpe(self, operator: Operator, value: str, kind: str, document: Document) -> str:
        return self._format_preserving(operator, value, kind, decrypt=False)

    def _encrypt(self, operator: Operator, value: str, kind: str, document: Document) -> str:
        import os

        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        nonce = os.urandom(12)
        sealed = AESGCM(self._gcm_key).encrypt(nonce, value.encode("utf-8"), kind.encode())
        return f"[[{kind}:{base64.urlsafe_b64encode(nonce + sealed).decode().rstrip('=')}]]"

    @staticmethod
    def _generalize(operator: Operator, value: str, kind: str, document: Document) -> str:
        from bastion.data.anonymize import generalize as g

        options = operator.options
        result: str | None
        if "to" in options:
            result = g.date_to(value, str(options["to"])) or g.date_to(_written_date(value), str(options["to"]))
        elif "zip_prefix" in options:
            result = g.zip_prefix(value, int(options["zip_prefix"]))
        elif "age_band" in options:
            result = g.age_band(value, int(options["age_band"]), options.get("top", 90))
        else:
            result = g.numeric_band(value, float(options["band"]))
        if result is None:
            raise OperatorError(f"cannot generalise {kind} value of {len(value)} characters with {dict(options)}")
        return result

    def decrypt_token(self, kind: str, body: str) -> str:
        """The value inside an ``encrypt`` token; a wrong key or a changed token is an error, never garbage."""
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self._need_keys(Operator("encrypt"))
        try:  # a token cut short may not even be base64 (binascii.Error is a ValueError)
            data = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            return AESGCM(self._gcm_key).decrypt(data[:12], data[12:], kind.encode()).decode("utf-8")
        except (InvalidTag, ValueError):
            raise OperatorError(f"a {kind} token does not open with this key (wrong key, or the token was "
                                "altered)") from None

    def unfpe(self, operator: Operator, value: str, kind: str) -> str:
        """Undo ``fpe`` on ``value``."""
        return self._format_preserving(operator, value, kind, decrypt=True)

    def _format_preserving(self, operator: Operator, value: str, kind: str, decrypt: bool) -> str:
        if kind == "IBAN_CODE":
            return self._fpe_iban(value, decrypt)
        alphabet = str(operator.options.get("alphabet", "0123456789"))
        cipher = self._ff1(alphabet)
        positions = [i for i, ch in enumerate(value) if ch in alphabet]
        luhn = kind == "CREDIT_CARD" and alphabet == "0123456789"
        body = positions[:-1] if luhn else positions  # a card keeps a valid check digit: it is recomputed
        text = "".join(value[i] for i in body)
        try:
            changed = cipher.decrypt(text, kind.encode()) if decrypt else cipher.encrypt(text, kind.encode())
        except ValueError as exc:
            raise OperatorError(f"fpe on a {kind} value: {exc}") from None
        if luhn and not decrypt and _luhn_digit(text) != value[positions[-1]]:
            # the check digit is recomputed, so two cards differing only there would encrypt alike: not reversible
            raise OperatorError(f"fpe on a {kind} value: its Luhn check digit is wrong, so fpe could not be undone "
                                "exactly (correct the value, or use encrypt)")
        out = list(value)
        for i, ch in zip(body, changed, strict=True):
            out[i] = ch
        if luhn:
            out[positions[-1]] = _luhn_digit("".join(out[i] for i in body))
        return "".join(out)

    def _fpe_iban(self, value: str, decrypt: bool) -> str:
        alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
        compact = value.replace(" ", "").upper()
        country, bban = compact[:2], compact[4:]
        valid = compact.isascii() and compact.isalnum() and int(_iban_digits(bban + compact[:4])) % 97 == 1
        if not decrypt and not valid:
            # the check digits are recomputed, so a wrong pair would not come back: not reversible
            raise OperatorError("fpe on an IBAN_CODE value: not a valid IBAN (its check digits do not verify), so fpe "
                                "could not be undone exactly (correct the value, or use encrypt)")
        try:
            cipher = self._ff1(alphabet)
            changed = cipher.decrypt(bban, b"IBAN_CODE") if decrypt else cipher.encrypt(bban, b"IBAN_CODE")
        except ValueError as exc:
            raise OperatorError(f"fpe on an IBAN_CODE value: {exc}") from None
        check = 98 - int(_iban_digits(changed + country + "00")) % 97
        result = f"{country}{check:02d}{changed}"
        if " " in value:  # keep the printed grouping of four
            result = " ".join(result[i:i + 4] for i in range(0, len(result), 4))
        return result

    def _ff1(self, alphabet: str) -> Any:
        from bastion.data.anonymize.ff1 import FF1

        cache: dict[str, Any] = self.__dict__.setdefault("_ff1_cache", {})
        if alphabet not in cache:
            cache[alphabet] = FF1(self._need_keys(Operator("fpe")).subkey("ff1"), alphabet)
        return cache[alphabet]

    @cached_property
    def _hmac_key(self) -> bytes:
        return self._need_keys(Operator("pseudonymize")).subkey("hmac")

    @cached_property
    def _gcm_key(self) -> bytes:
        return self._need_keys(Operator("encrypt")).subkey("aes-gcm")


def _check_values(name: str, options: Mapping[str, Any]) -> None:
    """Raise ValueError for an option value the operator could not use."""
    if name == "mask":
        if int(options.get("keep", 4)) < 0:
            raise ValueError("keep must not be negative")
        if len(str(options.get("char", "*"))) != 1:
            raise ValueError("char must be a single character")
    elif name == "pseudonymize":
        int(options.get("length", 16))
    elif name == "fpe":
        alphabet = str(options.get("alphabet", "0123456789"))
        if len(alphabet) < 2 or len(set(alphabet)) != len(alphabet):
            raise ValueError("alphabet must hold at least two distinct characters")
    elif name == "generalize":  # each call validates its parameters on a harmless value
        from bastion.data.anonymize import generalize as g

        if "to" in options:
            g.date_to("2000-01-01", str(options["to"]))
        elif "zip_prefix" in options:
            g.zip_prefix("0", int(options["zip_prefix"]))
        elif "age_band" in options:
            g.age_band(0, int(options["age_band"]), options.get("top", 90))
        else:
            g.numeric_band(0, float(options["band"]))


def _written_date(value: str) -> object:
    """A date written in words ("April 12, 1987", "12 Apr 1987 14:30") as a ``datetime``, or None."""
    from dateutil import parser

    try:
        return parser.parse(value, fuzzy=False)
    except (ValueError, OverflowError):
        return None


def _canonical(value: str, kind: str) -> str:
    """The form a pseudonym is computed over: separators dropped for numbers, case folded for addresses."""
    if kind in _DIGIT_TYPES or kind == "IBAN_CODE":
        return "".join(ch for ch in value if ch.isalnum()).upper()
    if kind in ("EMAIL_ADDRESS", "URL", "MAC_ADDRESS", "CRYPTO") and not value.startswith("0x"):
        return value.strip().casefold()
    return value.strip()


def _luhn_digit(body: str) -> str:
    total = 0
    for index, ch in enumerate(reversed(body)):
        digit = int(ch) * (2 if index % 2 == 0 else 1)
        total += digit - 9 if digit > 9 else digit
    return str((10 - total % 10) % 10)


def _iban_digits(text: str) -> str:
    return "".join(str(int(ch, 36)) for ch in text)
