"""The signature file: a Sigstore bundle (v0.3 JSON) holding the DSSE envelope and a public-key hint.

This is the shape model-signing writes for key-based signatures: ``mediaType``, ``verificationMaterial.publicKey.hint``
(SHA-256 of the PEM public key, hex), empty ``tlogEntries`` (no transparency log), and ``dsseEnvelope``.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bastion.supplychain.signing.base import InvalidSignature, SigningError
from bastion.supplychain.signing.dsse import Envelope, parse_envelope
from bastion.supplychain.signing.statement import strict_json

MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
"""The media type Bastion writes."""

ACCEPTED_MEDIA_TYPES = (MEDIA_TYPE, "application/vnd.dev.sigstore.bundle+json;version=0.3")
"""Both spellings of bundle v0.3."""

MAX_SIGNATURE_BYTES = 64 * 1024**2
"""Largest signature file read: room for about 350,000 files (each costs about 190 bytes once base64-encoded)."""


@dataclass(frozen=True)
class Bundle:
    """A parsed signature file; nothing in it is trusted until the envelope's signature verifies."""

    envelope: Envelope
    """The DSSE envelope."""
    hint: str | None
    """``verificationMaterial.publicKey.hint``, when present (unauthenticated)."""


def bundle_bytes(envelope: dict[str, Any], hint: str) -> bytes:
    """The signature file's content."""
    bundle = {
        "mediaType": MEDIA_TYPE,
        "verificationMaterial": {"publicKey": {"hint": hint}, "tlogEntries": []},
        "dsseEnvelope": envelope,
    }
    return (json.dumps(bundle, indent=2) + "\n").encode("utf-8")


def read_bundle(path: Path) -> Bundle:
    """Read and parse ``path``: SigningError when it cannot be read, InvalidSignature when its content is wrong."""
    data = _read(path)
    try:
        parsed = strict_json(data, "not a signature file")
    except InvalidSignature as exc:
        raise InvalidSignature(f"{path}: {exc}") from None
    if not isinstance(parsed, dict):
        raise InvalidSignature(f"{path}: not a signature file (not a JSON object)")
    media_type = parsed.get("mediaType")
    if media_type not in ACCEPTED_MEDIA_TYPES:
        raise InvalidSignature(f"{path}: mediaType {media_type!r} is not a Sigstore bundle v0.3")
    try:
        envelope = parse_envelope(parsed.get("dsseEnvelope"))
    except InvalidSignature as exc:
        raise InvalidSignature(f"{path}: {exc}") from None
    return Bundle(envelope, _hint(parsed.get("verificationMaterial")))


def _read(path: Path) -> bytes:
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise SigningError(f"{path}: the signature is not a regular file")
        if info.st_size > MAX_SIGNATURE_BYTES:
            raise InvalidSignature(f"{path}: {info.st_size} bytes is larger than the "
                                   f"{MAX_SIGNATURE_BYTES // 1024**2} MiB a signature file may have")
        with open(path, "rb") as handle:
            data = handle.read(MAX_SIGNATURE_BYTES + 1)
    except FileNotFoundError:
        raise SigningError(f"{path}: no such signature file") from None
    except OSError as exc:
        raise SigningError(f"{path}: cannot read the signature: {exc.strerror or exc}") from None
    if len(data) > MAX_SIGNATURE_BYTES:  # it grew after the stat
        raise InvalidSignature(f"{path}: larger than the {MAX_SIGNATURE_BYTES // 1024**2} MiB a signature may have")
    return data


def _hint(material: Any) -> str | None:
    if not isinstance(material, dict) or not isinstance(material.get("publicKey"), dict):
        return None
    hint = material["publicKey"].get("hint")
    return hint if isinstance(hint, str) and hint else None


def signature_exists(path: Path) -> bool:
    """Whether something is at ``path`` (a dangling link counts: it is a signature that cannot be read)."""
    return os.path.lexists(path)
