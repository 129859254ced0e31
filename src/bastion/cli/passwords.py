"""The private key's password, read from the environment; shared by ``bastion keys generate`` and ``bastion sign``.

Kept free of Typer so ``bastion sign`` can read it without importing the CLI framework.
"""

from __future__ import annotations

import os

PASSWORD_VARIABLE = "BASTION_KEY_PASSWORD"
"""The environment variable holding a private key's password (never a command-line argument: it would show in ps)."""


def key_password() -> bytes | None:
    """The password from ``$BASTION_KEY_PASSWORD`` as UTF-8 bytes, or None when it is unset or empty."""
    value = os.environ.get(PASSWORD_VARIABLE)
    return value.encode("utf-8") if value else None
