"""ECDSA keys on P-256, P-384 and P-521: the key types OpenSSF model signing requires, for interoperability."""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature as _CryptoInvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from bastion.supplychain.signing.keys import key_ids

CURVES: dict[str, type[ec.EllipticCurve]] = {
    "ecdsa-p256": ec.SECP256R1,
    "ecdsa-p384": ec.SECP384R1,
    "ecdsa-p521": ec.SECP521R1,
}
"""Bastion's algorithm names and their curves."""

_BY_CURVE: dict[str, str] = {curve().name: name for name, curve in CURVES.items()}
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "ecdsa-p256": hashes.SHA256, "ecdsa-p384": hashes.SHA384, "ecdsa-p521": hashes.SHA512,
}
"""The hash paired with each curve, as Sigstore's algorithm registry and model-signing pair them."""


def algorithm_of(curve: ec.EllipticCurve) -> str | None:
    """Bastion's name for ``curve``, or None when it is not one of the three supported curves."""
    return _BY_CURVE.get(curve.name)


class EcdsaVerifyingKey:
    """An ECDSA public key on a supported curve."""

    def __init__(self, key: ec.EllipticCurvePublicKey, algorithm: str) -> None:
        self._key = key
        self.algorithm = algorithm
        raw = key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        pem = key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        self.key_id, self.hint = key_ids(raw, pem)

    def verify(self, signature: bytes, message: bytes) -> bool:
        """Whether the DER ``signature`` is this key's signature over ``message``."""
        try:
            self._key.verify(signature, message, ec.ECDSA(_HASHES[self.algorithm]()))
        except _CryptoInvalidSignature:
            return False
        return True


class EcdsaSigningKey:
    """An ECDSA private key on a supported curve."""

    def __init__(self, key: ec.EllipticCurvePrivateKey, algorithm: str) -> None:
        self._key = key
        self.algorithm = algorithm

    def sign(self, message: bytes) -> bytes:
        """The DER signature over ``message``, hashed with the curve's SHA-2."""
        return self._key.sign(message, ec.ECDSA(_HASHES[self.algorithm]()))

    def public_key(self) -> EcdsaVerifyingKey:
        """The matching public key."""
        return EcdsaVerifyingKey(self._key.public_key(), self.algorithm)


def generate(algorithm: str) -> ec.EllipticCurvePrivateKey:
    """A new random key for ``algorithm`` (one of ``CURVES``)."""
    return ec.generate_private_key(CURVES[algorithm]())
