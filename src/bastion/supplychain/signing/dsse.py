"""DSSE v1 (Dead Simple Signing Envelope): the pre-authentication encoding and the JSON envelope.

Spec: https://github.com/secure-systems-lab/dsse (protocol.md, envelope.md). The signature covers
``PAE(payloadType, payload)``, so neither the type nor the body can be swapped; the key id is an unauthenticated hint.
"""

from __future__ import annotations

import binascii
from dataclasses import dataclass
from typing import Any

from bastion.supplychain.signing.base import InvalidSignature

PAYLOAD_TYPE = "application/vnd.in-toto+json"
"""The payload type of an in-toto statement."""

MAX_SIGNATURES = 16
"""Most signatures read from one envelope."""


@dataclass(frozen=True)
class Envelope:
    """A decoded envelope; nothing in it is trusted until a signature over ``pae()`` verifies."""

    payload_type: str
    """The claimed payload type (authenticated by the signature)."""
    payload: bytes
    """The serialized body (authenticated by the signature)."""
    signatures: tuple[tuple[str, bytes], ...]
    """``(keyid, signature)`` pairs; the key id may be empty."""

    def pae(self) -> bytes:
        """The bytes each signature signs."""
        return pae(self.payload_type, self.payload)


def pae(payload_type: str, body: bytes) -> bytes:
    """``"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body``, lengths in bytes, ASCII decimal."""
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(body), body)


def b64encode(data: bytes) -> str:
    """Standard base64 with padding."""
    import base64

    return base64.b64encode(data).decode("ascii")


def b64decode(text: Any, what: str) -> bytes:
    """Decode standard or URL-safe base64 (DSSE verifiers must accept both); raises InvalidSignature naming ``what``."""
    import base64

    if not isinstance(text, str):
        raise InvalidSignature(f"{what} is not a base64 string")
    normalized = text.replace("-", "+").replace("_", "/")
    normalized += "=" * (-len(normalized) % 4)
    try:
        return base64.b64decode(normalized.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise InvalidSignature(f"{what} is not valid base64") from None


def envelope_json(payload: bytes, signatures: list[tuple[str, bytes]]) -> dict[str, Any]:
    """The JSON envelope of an in-toto payload."""
    return {
        "payload": b64encode(payload),
        "payloadType": PAYLOAD_TYPE,
        "signatures": [{"sig": b64encode(sig), "keyid": keyid} for keyid, sig in signatures],
    }


def parse_envelope(data: Any) -> Envelope:
    """Read a JSON envelope (already parsed); raises InvalidSignature saying which field is wrong."""
    if not isinstance(data, dict):
        raise InvalidSignature("dsseEnvelope is not a JSON object")
    payload_type = data.get("payloadType")
    if not isinstance(payload_type, str):
        raise InvalidSignature("dsseEnvelope.payloadType is missing or not a string")
    payload = b64decode(data.get("payload"), "dsseEnvelope.payload")
    entries = data.get("signatures")
    if not isinstance(entries, list) or not entries:
        raise InvalidSignature("dsseEnvelope.signatures is missing or empty")
    if len(entries) > MAX_SIGNATURES:
        raise InvalidSignature(f"dsseEnvelope has {len(entries)} signatures; at most {MAX_SIGNATURES} are read")
    signatures = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise InvalidSignature(f"dsseEnvelope.signatures[{index}] is not a JSON object")
        keyid = entry.get("keyid") or ""  # absent, empty and null all mean "no hint"
        if not isinstance(keyid, str):
            raise InvalidSignature(f"dsseEnvelope.signatures[{index}].keyid is not a string")
        signatures.append((keyid, b64decode(entry.get("sig"), f"dsseEnvelope.signatures[{index}].sig")))
    return Envelope(payload_type, payload, tuple(signatures))
