"""Model signing and verification in the OpenSSF model-signing format (in-toto statement, DSSE, Sigstore bundle).

``generate_keys`` writes a key pair, ``sign`` writes ``PATH.sig`` with a signed manifest of every file's SHA-256,
``verify`` re-hashes the model and names every modified, missing or added file, and ``signature_findings`` turns
the verdict into scan findings. Importing this package does not import ``cryptography``: keys load on first use.
"""

from bastion.supplychain.signing.api import default_signature_path, sign, verify, verify_trusted
from bastion.supplychain.signing.base import (
    InvalidSignature,
    KeyPairPaths,
    SigningError,
    SigningKey,
    SignResult,
    Verification,
    VerifyingKey,
)
from bastion.supplychain.signing.check import signature_findings
from bastion.supplychain.signing.keys import (
    ALGORITHMS,
    default_key_path,
    generate_keys,
    load_private_key,
    load_public_key,
    public_key_path,
)
from bastion.supplychain.signing.manifest import DEFAULT_IGNORE

__all__ = [
    "ALGORITHMS",
    "DEFAULT_IGNORE",
    "InvalidSignature",
    "KeyPairPaths",
    "SignResult",
    "SigningError",
    "SigningKey",
    "Verification",
    "VerifyingKey",
    "default_key_path",
    "default_signature_path",
    "generate_keys",
    "load_private_key",
    "load_public_key",
    "public_key_path",
    "sign",
    "signature_findings",
    "verify",
    "verify_trusted",
]
