"""Secrets and shadow AI: credentials written in clear, and generative-AI services used without approval.

``SecretsCheck`` is the ``bastion.checks`` plug-in (name ``secrets``). The library underneath works on any bytes:
``find_secrets(text)`` returns ``SecretMatch`` records (masked, fingerprinted, never the secret itself) and
``find_ai_uses(text, language="python")`` returns ``AIUse`` records; ``DETECTORS`` and ``SERVICES`` are the
tables they use. Only the check is imported eagerly; the other names load on first access, so registering the
plug-in adds nothing to ``bastion``'s start-up time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bastion.supplychain.secrets.check import SecretsCheck

if TYPE_CHECKING:
    from bastion.supplychain.secrets.detectors import DETECTORS
    from bastion.supplychain.secrets.interface import AIUse, Detector, SecretMatch, Service
    from bastion.supplychain.secrets.masking import fingerprint, mask
    from bastion.supplychain.secrets.notebook import Segment, notebook_segments
    from bastion.supplychain.secrets.options import SecretsOptions, options_for
    from bastion.supplychain.secrets.scanner import GENERIC_DETECTORS, find_secrets, scan_secrets
    from bastion.supplychain.secrets.shadow_ai import SERVICES, find_ai_uses

__all__ = [
    "DETECTORS", "GENERIC_DETECTORS", "SERVICES", "AIUse", "Detector", "SecretMatch", "SecretsCheck", "SecretsOptions",
    "Segment", "Service", "find_ai_uses", "find_secrets", "fingerprint", "mask", "notebook_segments", "options_for",
    "scan_secrets",
]

_LAZY = {
    "DETECTORS": "detectors", "AIUse": "interface", "Detector": "interface", "SecretMatch": "interface",
    "Service": "interface", "fingerprint": "masking", "mask": "masking", "Segment": "notebook",
    "notebook_segments": "notebook", "SecretsOptions": "options", "options_for": "options",
    "GENERIC_DETECTORS": "scanner", "find_secrets": "scanner", "scan_secrets": "scanner", "SERVICES": "shadow_ai",
    "find_ai_uses": "shadow_ai",
}
"""Public name -> the module of this package that defines it, imported on first access."""


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
