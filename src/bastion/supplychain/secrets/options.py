"""The ``[secrets]`` and ``[ai]`` tables of ``bastion.toml``, validated into one options record.

```toml
[secrets]
allow = ["3f9c0a7d5e1b2c4a"]      # fingerprints of reviewed, harmless secrets (test fixtures)
exclude = ["tests/fixtures/*"]    # paths (globs, as reported) not searched for secrets
disable = ["jwt"]                 # detector ids switched off
generic = true                    # the name-based high-entropy detectors
max_file_bytes = 67108864         # larger text files: the first bytes are scanned, the file is incomplete

[ai]
approved = ["openai", "azure-openai"]   # services the project may use; any other use is BST-AI-001
```
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bastion.config import ConfigError, Settings
from bastion.supplychain.secrets.detectors import DETECTORS
from bastion.supplychain.secrets.interface import Detector
from bastion.supplychain.secrets.scanner import GENERIC_DETECTORS
from bastion.supplychain.secrets.shadow_ai import service_ids

__all__ = ["DEFAULT_MAX_FILE_BYTES", "SecretsOptions", "options_for"]

DEFAULT_MAX_FILE_BYTES = 64 * 1024 * 1024
_SECRETS_KEYS = ("allow", "disable", "exclude", "generic", "max_file_bytes")
_AI_KEYS = ("approved",)
_FINGERPRINT = re.compile(r"[0-9a-f]{16}")


@dataclass(frozen=True)
class SecretsOptions:
    """What the project file says about secrets and AI services."""

    detectors: tuple[Detector, ...] = DETECTORS
    """The provider detectors in use (the table minus ``disable``)."""
    generic: frozenset[str] = frozenset(d.detector_id for d in GENERIC_DETECTORS)
    """Ids of the name-based detectors in use."""
    allow: frozenset[str] = frozenset()
    """Fingerprints of secrets not to report."""
    exclude: tuple[str, ...] = ()
    """Glob patterns of reported paths not searched for secrets (AI use is still reported)."""
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    """Largest text examined whole."""
    approved: frozenset[str] | None = None
    """Approved AI services; None when the project file has no ``[ai]`` table (uses are then an inventory)."""


_LAST: list[tuple[Mapping[str, Any], str | None, SecretsOptions]] = []


def options_for(settings: Settings) -> SecretsOptions:
    """The options of ``settings`` (validated once per settings object); raises ConfigError naming the file and key."""
    if _LAST and _LAST[0][0] is settings.sections and _LAST[0][1] == settings.source:
        return _LAST[0][2]
    origin = settings.source or "bastion.toml"
    secrets = settings.section("secrets")
    ai = settings.section("ai")
    _known(secrets, _SECRETS_KEYS, origin, "secrets")
    _known(ai, _AI_KEYS, origin, "ai")
    disabled = set(_strings(secrets, "disable", origin, "secrets"))
    known_ids = {d.detector_id for d in (*DETECTORS, *GENERIC_DETECTORS)}
    for name in sorted(disabled - known_ids):
        raise ConfigError(f"{origin}: [secrets] disable: unknown detector {name!r} (known: "
                          f"{', '.join(sorted(known_ids))})")
    generic = secrets.get("generic", True)
    if not isinstance(generic, bool):
        raise ConfigError(f"{origin}: [secrets] generic must be true or false, got {generic!r}")
    options = SecretsOptions(
        detectors=tuple(d for d in DETECTORS if d.detector_id not in disabled),
        generic=frozenset(d.detector_id for d in GENERIC_DETECTORS if generic and d.detector_id not in disabled),
        allow=frozenset(_fingerprints(secrets, origin)),
        exclude=tuple(_strings(secrets, "exclude", origin, "secrets")),
        max_file_bytes=_size(secrets, origin),
        approved=None if "ai" not in settings.sections else frozenset(_approved(ai, origin)),
    )
    _LAST[:] = [(settings.sections, settings.source, options)]
    return options


def _known(table: Mapping[str, Any], keys: tuple[str, ...], origin: str, section: str) -> None:
    for key in table:
        if key not in keys:
            raise ConfigError(f"{origin}: [{section}] {key} is not a known key (known: {', '.join(keys)})")


def _strings(table: Mapping[str, Any], key: str, origin: str, section: str) -> list[str]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{origin}: [{section}] {key} must be a list of non-empty strings")
    return value


def _fingerprints(table: Mapping[str, Any], origin: str) -> list[str]:
    values = _strings(table, "allow", origin, "secrets")
    for index, value in enumerate(values):
        if not _FINGERPRINT.fullmatch(value):
            # The message never repeats the value: a user may paste a secret here by mistake.
            raise ConfigError(f"{origin}: [secrets] allow[{index}] must be a 16-hex-digit fingerprint from a report "
                              "(never the secret itself)")
    return values


def _size(table: Mapping[str, Any], origin: str) -> int:
    value = table.get("max_file_bytes", DEFAULT_MAX_FILE_BYTES)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"{origin}: [secrets] max_file_bytes must be a positive integer, got {value!r}")
    return value


def _approved(table: Mapping[str, Any], origin: str) -> list[str]:
    values = _strings(table, "approved", origin, "ai")
    known = service_ids()
    for value in values:
        if value not in known:
            raise ConfigError(f"{origin}: [ai] approved: unknown service {value!r} (known: {', '.join(known)})")
    return values
