"""Ed25519 keys (Bastion's default): small, fast, deterministic signatures; OpenSSL verifies in constant time."""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature as _CryptoInvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from bastion.supplychain.signing.keys import key_ids

ALGORITHM = "ed25519"


class Ed25519VerifyingKey:
    """An Ed25519 public key."""

    def __init__(self, key: ed25519.Ed25519PublicKey) -> None:
        self._key = key
        self.algorithm = ALGORITHM
        raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        pem = key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        self.key_id, self.hint = key_ids(raw, pem)

    def verify(self, signature: bytes, message: bytes) -> bool:
        """Whether ``signature`` is this key's signature over ``message``."""
        try:
            self._key.verify(signature, message)
        except _CryptoInvalidSignature:
            return False
        return True


class Ed25519SigningKey:
    """An Ed25519 private key."""

    def __init__(self, key: ed25519.Ed25519PrivateKey) -> None:
        self._key = key
        self.algorithm = ALGORITHM

    def sign(self, message: bytes) -> bytes:
        """The 64-byte signature over ``message``."""
        return self._key.sign(message)

    def public_key(self) -> Ed25519VerifyingKey:
        """The matching public key."""
        return Ed25519VerifyingKey(self._key.public_key())


def generate() -> ed25519.Ed25519PrivateKey:
    """A new random key."""
    return ed25519.Ed25519PrivateKey.generate()
