"""What model signing shares: its errors, its results and the key interface every algorithm implements.

Standard library only: ``bastion scan`` may import this package, and nothing here may pull in ``cryptography``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol


class SigningError(Exception):
    """A usage or I/O problem (missing key, unreadable file, symlink in the tree); the message names the file."""


class InvalidSignature(ValueError):
    """The signature file is malformed, or its signature or statement does not check out; says what and where."""

    def __init__(self, message: str, *, other_key: bool = False) -> None:
        super().__init__(message)
        self.other_key = other_key
        """The signature does not verify and names (by its unauthenticated hint) a key that is not trusted."""


class VerifyingKey(Protocol):
    """A public key that checks signatures."""

    algorithm: str
    """``ed25519``, ``ecdsa-p256``, ``ecdsa-p384`` or ``ecdsa-p521``."""
    key_id: str
    """SHA-256 of the raw public key (Ed25519: its 32 bytes; ECDSA: the uncompressed point), hex."""
    hint: str
    """SHA-256 of the PEM SubjectPublicKeyInfo, hex: the fingerprint model-signing writes into bundles."""

    def verify(self, signature: bytes, message: bytes) -> bool:
        """Whether ``signature`` is this key's signature over ``message``."""
        ...


class SigningKey(Protocol):
    """A private key that makes signatures."""

    algorithm: str
    """As for ``VerifyingKey``."""

    def sign(self, message: bytes) -> bytes:
        """The signature over ``message`` (Ed25519: 64 bytes; ECDSA: DER with the curve's SHA-2 hash)."""
        ...

    def public_key(self) -> VerifyingKey:
        """The matching public key."""
        ...


@dataclass(frozen=True)
class KeyPairPaths:
    """Where ``generate_keys`` wrote a key pair."""

    private_key: Path
    """The PEM private key (PKCS#8), created with mode 0600."""
    public_key: Path
    """The PEM public key (SubjectPublicKeyInfo), ``<private>.pub``."""
    key_id: str
    """The key id (see ``VerifyingKey.key_id``)."""
    algorithm: str
    """The key algorithm."""


@dataclass(frozen=True)
class SignResult:
    """What ``sign`` wrote."""

    signature_path: Path
    """The signature (bundle) file."""
    key_id: str
    """The id of the signing key."""
    root_digest: str
    """SHA-256 over the file digests in manifest order, hex: the model's identity in the statement's subject."""
    files: int
    """How many files the manifest lists."""
    total_bytes: int
    """How many bytes were hashed."""
    ignored: tuple[str, ...]
    """The ignore paths recorded in the signature (relative to the model root)."""


@dataclass(frozen=True)
class Verification:
    """The verdict of ``verify``: valid only when the signature checks out and every file matches."""

    ok: bool
    """True when the signature verifies with a trusted key and no file was modified, added or is missing."""
    key_id: str
    """The id of the key the signature verified with, or of the (first) key tried when it did not."""
    modified: tuple[str, ...] = ()
    """Signed files whose content changed (or that are no longer regular files), relative to the model root."""
    missing: tuple[str, ...] = ()
    """Signed files that are gone."""
    added: tuple[str, ...] = ()
    """Files present now that the signature does not list (and does not ignore)."""
    error: str | None = None
    """Why the signature file or its signature is bad; None when the signature itself verified."""
    other_key: bool = False
    """The signature does not verify and its (unauthenticated) key hint names a key other than the trusted ones."""
    files: int = 0
    """How many files the signature lists."""
    root_digest: str | None = None
    """The signed root digest, once the signature verified."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON form printed by ``bastion verify --format json``."""
        return {
            "ok": self.ok,
            "key_id": self.key_id,
            "modified": list(self.modified),
            "missing": list(self.missing),
            "added": list(self.added),
            "error": self.error,
            "other_key": self.other_key,
            "files": self.files,
            "root_digest": self.root_digest,
        }
