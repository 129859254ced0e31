"""Key material for the keyed operators: one 256-bit master key, from a key file or an environment variable.

Each operator gets its own subkey through HKDF-SHA256 with a distinct label, so a pseudonym never reveals anything
about the encryption keys and one master key serves all. The key itself is never logged or printed: errors name
the file or variable, never the value.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path

ENV_VARIABLE = "BASTION_PII_KEY"
"""The environment variable read when a policy names no key source."""
KEY_BYTES = 32


class KeyMaterialError(ValueError):
    """Key material that is missing or malformed; the message names where it was looked for."""


def parse_key(text: str | bytes, origin: str) -> bytes:
    """32 bytes from 64 hex digits or base64 (standard or URL-safe), surrounding whitespace ignored."""
    raw = text.decode("ascii", "replace") if isinstance(text, bytes) else text
    raw = raw.strip()
    candidates = []
    with contextlib.suppress(ValueError):
        candidates.append(bytes.fromhex(raw))
    for decode in (base64.b64decode, base64.urlsafe_b64decode):
        with contextlib.suppress(binascii.Error, ValueError):
            candidates.append(decode(raw + "=" * (-len(raw) % 4)))
    for candidate in candidates:
        if len(candidate) == KEY_BYTES:
            return candidate
    raise KeyMaterialError(f"{origin}: not a 256-bit key (expected 64 hex digits or 44 base64 characters; "
                    "make one with: bastion pii keygen FILE)")


@dataclass(frozen=True)
class KeyRing:
    """A master key and the subkeys derived from it."""

    master: bytes = field(repr=False)
    """The 32-byte master key (never shown in repr or errors)."""
    origin: str = ""
    """Where it came from (a file path or ``$VARIABLE``), for messages."""

    @classmethod
    def load(cls, file: str | Path | None = None, env: str | None = None) -> KeyRing:
        """From ``file`` if given, else from the environment variable ``env`` (default ``BASTION_PII_KEY``)."""
        if file is not None:
            path = Path(file)
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise KeyMaterialError(f"key file {path}: cannot be read: {exc.strerror or exc}") from None
            return cls(parse_key(data, f"key file {path}"), str(path))
        variable = env or ENV_VARIABLE
        value = os.environ.get(variable)
        if not value:
            raise KeyMaterialError(f"no key: ${variable} is not set and the policy names no key file "
                            "(set key: {file: PATH} in the policy, or export the variable)")
        return cls(parse_key(value, f"${variable}"), f"${variable}")

    def subkey(self, label: str) -> bytes:
        """The 32-byte subkey for ``label`` (HKDF-SHA256, no salt, info ``bastion/pii/<label>``)."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF

        return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None,
                    info=f"bastion/pii/{label}".encode()).derive(self.master)


def generate_key_file(path: Path, *, overwrite: bool = False) -> None:
    """Write a new random key as 64 hex digits to ``path`` with mode 0600, atomically."""
    import secrets

    from bastion.supplychain.signing.atomic import write_files

    write_files([(path, (secrets.token_bytes(KEY_BYTES).hex() + "\n").encode(), 0o600)], overwrite=overwrite)
