"""How a secret is shown and recognised without being revealed: a masked form and a keyed fingerprint.

The masked form shows at most 6 characters of the format's public prefix (``sk-pro``, ``AKIA``) and the last 2
characters, never more than 8 characters in all, and nothing but the prefix for secrets shorter than 16 bytes.

The fingerprint is HMAC-SHA256 of the secret under a 32-byte key kept in ``$BASTION_HOME/secrets/fingerprint.key``
(created on first use, mode 0600), truncated to 16 hex digits. A plain SHA-256 would let anyone holding a report
confirm guesses of short or low-entropy secrets (passwords, 32-hex keys) offline; the keyed form only lets this
installation recognise the same secret again: in two files, in two scans, or in ``[secrets] allow``. Teams that
share an allow-list between machines (a laptop and CI) share the key file. When BASTION_HOME cannot be written,
a key for the running process is used, so fingerprints still match within one scan.
"""

from __future__ import annotations

import os
from pathlib import Path

from bastion.config import bastion_home

KEY_BYTES = 32
FINGERPRINT_HEX = 16
MAX_VISIBLE = 8
_KEYS: dict[str, bytes] = {}


def key_path(home: Path | None = None) -> Path:
    """Where this installation's fingerprint key lives."""
    return (home or bastion_home()) / "secrets" / "fingerprint.key"


def installation_key() -> bytes:
    """The fingerprint key of the current ``BASTION_HOME``: read, or created on first use."""
    path = key_path()
    cached = _KEYS.get(str(path))
    if cached is None:
        cached = _load_or_create(path)
        _KEYS[str(path)] = cached
    return cached


def _load_or_create(path: Path) -> bytes:
    import secrets

    try:
        data = path.read_bytes()
        if len(data) == KEY_BYTES:
            return data
        return secrets.token_bytes(KEY_BYTES)  # a damaged key file is left alone for its owner to inspect
    except FileNotFoundError:
        pass
    except OSError:
        return secrets.token_bytes(KEY_BYTES)
    key = secrets.token_bytes(KEY_BYTES)
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first: use theirs
        return _load_or_create(path)
    except OSError:
        return key
    with os.fdopen(fd, "wb") as handle:
        handle.write(key)
    return key


def fingerprint(secret: bytes, key: bytes | None = None) -> str:
    """16 hex digits of HMAC-SHA256(key, secret); ``key`` defaults to the installation key."""
    import hashlib
    import hmac

    digest = hmac.new(key if key is not None else installation_key(), secret, hashlib.sha256).hexdigest()
    return digest[:FINGERPRINT_HEX]


def mask(secret: bytes, prefix_length: int = 0) -> str:
    """``sk-pro...Q2``: up to 6 leading characters of the public prefix, ``...``, and the last 2 characters (only
    when the secret has 16 bytes or more); never more than 8 characters of the secret."""
    head = secret[:min(prefix_length, 6)]
    tail = secret[-2:] if len(secret) >= 16 else b""
    return _printable(head) + "..." + _printable(tail)


def _printable(part: bytes) -> str:
    """ASCII graphic characters as they are; anything else as ``?`` so a report stays one clean line."""
    return "".join(chr(c) if 33 <= c < 127 else "?" for c in part)
