"""Settings: ``BASTION_HOME`` and the project file ``bastion.toml``.

The project file is read from the current directory or from ``--config``, never from the scanned tree: a
malicious repository must not be able to configure the scan that judges it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

CONFIG_NAME = "bastion.toml"
OWNED_SECTIONS = ("deps", "secrets", "ai", "pii")
"""Project-file tables that the dependency audit, the secrets check and the shadow-AI check read and validate."""


def bastion_home() -> Path:
    """Where persistent state lives: ``$BASTION_HOME``, default ``~/.bastion`` (created on demand by users)."""
    return Path(os.environ.get("BASTION_HOME") or Path.home() / ".bastion")


class ConfigError(ValueError):
    """The project file is invalid; the message names the file and the key."""


@dataclass(frozen=True)
class Limits:
    """Bounds applied to every target; exceeding one makes the target ``incomplete`` (exit 2)."""

    max_file_bytes: int = 64 * 1024**3
    """Largest file examined."""
    max_decompressed_bytes: int = 16 * 1024**3
    """Total bytes decompressed from archives and compressed wrappers, per target."""
    max_member_bytes: int = 8 * 1024**3
    """Largest single archive member examined."""
    max_members: int = 100_000
    """Members examined per archive."""
    max_depth: int = 8
    """Containers inside containers, and pickles inside pickles."""
    max_opcodes: int = 500_000_000
    """Pickle opcodes executed per stream."""
    timeout_seconds: float = 600.0
    """Wall time per target."""


@dataclass(frozen=True)
class Settings:
    """Everything the project file can set."""

    limits: Limits = field(default_factory=Limits)
    """Bounds per target."""
    pickle_allow: frozenset[tuple[str, str]] = frozenset()
    """Extra exact ``(module, qualname)`` globals the project allows in pickles."""
    hash_files: bool = True
    """Whether each target's SHA-256 goes into the report (costs one read of every file)."""
    exclude: tuple[str, ...] = (".git", ".hg", ".svn")
    """Directory names not walked."""
    trust_keys: tuple[str, ...] = ()
    """Public keys whose signatures are trusted; when given, every scanned path must carry a valid ``PATH.sig``."""
    source: str | None = None
    """The file these settings came from, if any."""
    sections: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Tables owned by other parts of Bastion (``[deps]``, ``[secrets]``, ``[ai]``), validated by their owners with
    ``ConfigError`` messages that name ``source`` and the key."""

    def section(self, name: str) -> Mapping[str, Any]:
        """The ``[name]`` table of the project file, empty when absent."""
        return self.sections.get(name, {})


def load_settings(path: Path | None = None) -> Settings:
    """Read ``path`` (or ``./bastion.toml`` when present); defaults when there is none."""
    if path is None:
        candidate = Path.cwd() / CONFIG_NAME
        if not candidate.is_file():
            return Settings()
        path = candidate
    import tomllib  # here, not at the top: most runs have no project file and tomllib costs 2.5 ms to import

    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return _settings_from(data, str(path))


def _settings_from(data: dict[str, Any], origin: str) -> Settings:
    known = {"limits", "pickle", "scan", *OWNED_SECTIONS}
    for key in data:
        if key not in known:
            raise ConfigError(f"{origin}: unknown section [{key}] (known: {', '.join(sorted(known))})")
    limits = _limits_from(data.get("limits", {}), origin)
    allow = _allow_from(data.get("pickle", {}), origin)
    scan = data.get("scan", {})
    for key in scan:
        if key not in ("exclude", "trust"):
            raise ConfigError(f"{origin}: [scan] {key} is not a known key (known: exclude, trust)")
    exclude = scan.get("exclude", list(Settings.exclude))
    if not isinstance(exclude, list) or not all(isinstance(x, str) for x in exclude):
        raise ConfigError(f"{origin}: [scan] exclude must be a list of directory names")
    trust = scan.get("trust", [])
    if not isinstance(trust, list) or not all(isinstance(x, str) and x for x in trust):
        raise ConfigError(f"{origin}: [scan] trust must be a list of public-key file paths")
    # Key paths are relative to the project file, so the same file works from any working directory.
    keys = tuple(str(Path(origin).parent / key) for key in trust)
    sections = {name: table for name, table in data.items() if name in OWNED_SECTIONS}
    for name, table in sections.items():
        if not isinstance(table, dict):
            raise ConfigError(f"{origin}: [{name}] must be a table")
    return Settings(limits=limits, pickle_allow=allow, exclude=tuple(exclude), trust_keys=keys, source=origin,
                    sections=sections)


def _limits_from(table: dict[str, Any], origin: str) -> Limits:
    names = {f.name: f for f in fields(Limits)}
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key not in names:
            raise ConfigError(f"{origin}: [limits] {key} is not a known limit ({', '.join(sorted(names))})")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise ConfigError(f"{origin}: [limits] {key} must be a positive number, got {value!r}")
        values[key] = float(value) if key == "timeout_seconds" else int(value)
    return Limits(**values)


def _allow_from(table: dict[str, Any], origin: str) -> frozenset[tuple[str, str]]:
    for key in table:
        if key != "allow":
            raise ConfigError(f"{origin}: [pickle] {key} is not a known key (known: allow)")
    entries = table.get("allow", [])
    if not isinstance(entries, list):
        raise ConfigError(f"{origin}: [pickle] allow must be a list of 'module qualname' strings")
    allow = set()
    for index, entry in enumerate(entries):
        parts = entry.split() if isinstance(entry, str) else []
        if len(parts) != 2 or not all(p.replace(".", "_").isidentifier() for p in parts):
            raise ConfigError(f"{origin}: [pickle] allow[{index}] must be 'module qualname', got {entry!r}")
        allow.add((parts[0], parts[1]))
    return frozenset(allow)
