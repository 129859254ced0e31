"""The ``secrets`` check (``bastion.checks`` plug-in): credentials in clear and unapproved generative-AI services.

Text is recognised by content: a file whose first 8 KiB hold no NUL byte (or that starts with a UTF-16 byte-order
mark) is text, whatever its name; up to ``[secrets] max_file_bytes`` (64 MiB) of it is searched as bytes, so
invalid UTF-8 costs nothing and offsets are byte offsets. Notebooks (``.ipynb``, or JSON announcing cells and an
nbformat) are parsed and every cell source and output is searched as a decoded string, located as
``cell N (code|output M), line L``; other JSON documents that use ``\\u`` escapes are searched decoded too. One
read of the file feeds both concerns, secrets and AI use. The work lives in ``_check_impl``, imported on the
first file, so loading the plug-in does not slow ``bastion`` down.
"""

from __future__ import annotations

from bastion.config import Settings
from bastion.scan.check import CheckOutcome, Target

__all__ = ["SecretsCheck"]


class SecretsCheck:
    """Credentials written in clear (BST-SEC-*) and generative-AI services used without approval (BST-AI-*)."""

    name = "secrets"

    def __init__(self, shadow_ai: bool = True) -> None:
        """``shadow_ai``: also report generative-AI service use (on by default)."""
        self.shadow_ai = shadow_ai

    def examine(self, target: Target, settings: Settings) -> CheckOutcome:
        """Search one file; never executes or imports any of it."""
        from bastion.supplychain.secrets._check_impl import examine

        return examine(target, settings, self.shadow_ai)
