"""The ``[deps]`` table of ``bastion.toml``, validated: unknown keys and bad values name the file and the key."""

from __future__ import annotations

from dataclasses import dataclass

from bastion.config import ConfigError, Settings

DEFAULT_MAX_AGE_DAYS = 7.0


@dataclass(frozen=True)
class DepsConfig:
    """Options of the dependency audit."""

    max_age_days: float = DEFAULT_MAX_AGE_DAYS
    """The advisory database is reported stale (BST-DEP-004) when its newest advisory is older than this."""
    ignore: frozenset[str] = frozenset()
    """Advisory ids or aliases (``PYSEC-...``, ``GHSA-...``, ``CVE-...``) not reported; each is counted in the
    target's facts so the suppression stays visible."""

    @classmethod
    def from_settings(cls, settings: Settings) -> DepsConfig:
        """Read ``[deps]``; ConfigError naming ``settings.source`` and the key when it is invalid."""
        table = settings.section("deps")
        origin = settings.source or "bastion.toml"
        for key in table:
            if key not in ("max_age_days", "ignore"):
                raise ConfigError(f"{origin}: [deps] {key} is not a known key (known: ignore, max_age_days)")
        age = table.get("max_age_days", DEFAULT_MAX_AGE_DAYS)
        if isinstance(age, bool) or not isinstance(age, (int, float)) or age <= 0:
            raise ConfigError(f"{origin}: [deps] max_age_days must be a positive number of days, got {age!r}")
        ignore = table.get("ignore", [])
        if not isinstance(ignore, list) or not all(isinstance(x, str) and x.strip() for x in ignore):
            raise ConfigError(f"{origin}: [deps] ignore must be a list of advisory ids (PYSEC-..., GHSA-..., CVE-...)")
        return cls(float(age), frozenset(x.strip().upper() for x in ignore))
