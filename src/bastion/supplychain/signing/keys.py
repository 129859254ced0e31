"""Key files: generate a pair, load private and public PEM keys with clear errors, and name keys by their ids.

Private keys are PKCS#8 PEM (optionally encrypted), public keys SubjectPublicKeyInfo PEM, so OpenSSL, Go, Sigstore
and model-signing read them as they are. ``cryptography`` is imported only inside functions.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bastion.supplychain.signing.atomic import write_files
from bastion.supplychain.signing.base import KeyPairPaths, SigningError

if TYPE_CHECKING:
    from bastion.supplychain.signing.base import SigningKey, VerifyingKey

ALGORITHMS = ("ed25519", "ecdsa-p256", "ecdsa-p384", "ecdsa-p521")
"""Key algorithms ``generate_keys`` makes and ``sign``/``verify`` accept; Ed25519 is the default."""

MAX_KEY_FILE_BYTES = 64 * 1024
"""A PEM key is a few hundred bytes; anything much larger is not a key file."""


def key_ids(raw_public: bytes, spki_pem: bytes) -> tuple[str, str]:
    """``(key id, hint)``: SHA-256 of the raw public key, and of its PEM encoding (model-signing's hint), hex."""
    import hashlib

    return hashlib.sha256(raw_public).hexdigest(), hashlib.sha256(spki_pem).hexdigest()


def default_key_path() -> Path:
    """Where ``bastion keys generate`` writes, and ``bastion sign`` looks, when no key file is named."""
    from bastion.config import bastion_home

    return bastion_home() / "keys" / "signing.pem"


def public_key_path(private_key: str | os.PathLike[str]) -> Path:
    """Where the public half of ``private_key`` goes: ``<private>.pub``."""
    return Path(f"{os.fspath(private_key)}.pub")


def generate_keys(path: str | os.PathLike[str], algorithm: str = "ed25519", *, overwrite: bool = False,
                  password: bytes | None = None) -> KeyPairPaths:
    """Write a new private key to ``path`` (mode 0600) and its public key to ``path.pub``, both atomically."""
    from cryptography.hazmat.primitives import serialization

    if algorithm not in ALGORITHMS:
        raise SigningError(f"unknown key algorithm {algorithm!r}; choose one of: {', '.join(ALGORITHMS)}")
    private = Path(path)
    public = public_key_path(private)
    if private == default_key_path():
        _make_private_folder(private.parent)
    key = _new_key(algorithm)
    encryption = (serialization.BestAvailableEncryption(password) if password
                  else serialization.NoEncryption())
    private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    write_files([(private, private_pem, 0o600), (public, public_pem, 0o644)], overwrite=overwrite)
    return KeyPairPaths(private, public, _wrap_public(key.public_key(), public).key_id, algorithm)


def _make_private_folder(folder: Path) -> None:
    """Create ``$BASTION_HOME/keys`` readable by its owner only."""
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise SigningError(f"{folder}: cannot create the key folder: {exc.strerror or exc}") from None


def _new_key(algorithm: str) -> Any:
    if algorithm == "ed25519":
        from bastion.supplychain.signing import ed25519

        return ed25519.generate()
    from bastion.supplychain.signing import ecdsa

    return ecdsa.generate(algorithm)


def load_private_key(path: str | os.PathLike[str], password: bytes | None = None) -> SigningKey:
    """Read a PEM private key; raises SigningError naming the file (never quoting it) when it cannot be used."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    where = Path(path)
    data = _read_key_file(where, "private key")
    if b"-----BEGIN" not in data or b"PRIVATE KEY-----" not in data:
        hint = " (this is a public key; sign with the private key)" if b"PUBLIC KEY-----" in data else ""
        raise SigningError(f"{where}: not a PEM private key{hint}")
    try:
        key = load_pem_private_key(data, password)
    except TypeError:  # encrypted without a password, or a password for a key that is not encrypted
        state = "encrypted: set BASTION_KEY_PASSWORD" if password is None else "not encrypted: unset the password"
        raise SigningError(f"{where}: the private key is {state}") from None
    except (ValueError, UnsupportedAlgorithm):
        raise SigningError(f"{where}: cannot read the private key (damaged PEM, or wrong password)") from None
    return _wrap_private(key, where)


def load_public_key(path: str | os.PathLike[str]) -> VerifyingKey:
    """Read a PEM public key; raises SigningError naming the file when it cannot be used."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    where = Path(path)
    data = _read_key_file(where, "public key")
    if b"PRIVATE KEY-----" in data:
        raise SigningError(f"{where}: is a private key; verify with the public key (the .pub file beside it)")
    if b"-----BEGIN PUBLIC KEY-----" not in data:
        raise SigningError(f"{where}: not a PEM public key (expected '-----BEGIN PUBLIC KEY-----')")
    try:
        key = load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm):
        raise SigningError(f"{where}: cannot read the public key (damaged PEM)") from None
    return _wrap_public(key, where)


def _read_key_file(path: Path, what: str) -> bytes:
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise SigningError(f"{path}: the {what} is not a regular file")
        if info.st_size > MAX_KEY_FILE_BYTES:
            raise SigningError(f"{path}: {info.st_size} bytes is too large for a {what} file")
        with open(path, "rb") as handle:
            return handle.read(MAX_KEY_FILE_BYTES + 1)
    except FileNotFoundError:
        raise SigningError(f"{path}: no such {what} file") from None
    except OSError as exc:
        raise SigningError(f"{path}: cannot read the {what}: {exc.strerror or exc}") from None


def _algorithm_of(key: Any, where: Path) -> str:
    """Bastion's name for the type of a loaded key (private or public); SigningError for other types."""
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    if isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        return "ed25519"
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        from bastion.supplychain.signing.ecdsa import algorithm_of

        algorithm = algorithm_of(key.curve)
        if algorithm is not None:
            return algorithm
    raise SigningError(f"{where}: unsupported key type; use one of: {', '.join(ALGORITHMS)}")


def _wrap_private(key: Any, where: Path) -> SigningKey:
    algorithm = _algorithm_of(key, where)
    if algorithm == "ed25519":
        from bastion.supplychain.signing.ed25519 import Ed25519SigningKey

        return Ed25519SigningKey(key)
    from bastion.supplychain.signing.ecdsa import EcdsaSigningKey

    return EcdsaSigningKey(key, algorithm)


def _wrap_public(key: Any, where: Path) -> VerifyingKey:
    algorithm = _algorithm_of(key, where)
    if algorithm == "ed25519":
        from bastion.supplychain.signing.ed25519 import Ed25519VerifyingKey

        return Ed25519VerifyingKey(key)
    from bastion.supplychain.signing.ecdsa import EcdsaVerifyingKey

    return EcdsaVerifyingKey(key, algorithm)
