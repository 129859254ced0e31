"""OSV records: reading them from a directory, a ``.zip`` or a tarball (bounded, never extracted to disk), and
keeping what matching needs from their PyPI entries.

Scalars in YAML records are read as strings (a version ``1.10`` must not become the float ``1.1``), and only
known fields of known shapes are kept, so anchors, aliases and tags cannot make a record expand or build objects.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from bastion.findings import Severity
from bastion.supplychain.deps.interface import PYPI, canonical_name

RECORD_SUFFIXES = (".json", ".yaml", ".yml")
MATCHED_RANGE_TYPES = ("ECOSYSTEM", "SEMVER")
"""Range types evaluated with PEP 440 ordering; ``GIT`` ranges need the repository and are not evaluated (PyPI
records carry ``versions`` or an ``ECOSYSTEM`` range beside them)."""
EVENT_KINDS = ("introduced", "fixed", "last_affected", "limit")


class SourceError(ValueError):
    """The advisory source cannot be read (missing, not an archive, over a bound); the message names it."""


class RecordError(ValueError):
    """An OSV record is malformed; the message names the field."""


@dataclass(frozen=True)
class ImportLimits:
    """Bounds on reading an advisory source."""

    max_members: int = 2_000_000
    """Files or archive members looked at."""
    max_record_bytes: int = 16 * 1024 * 1024
    """Largest single record."""
    max_total_bytes: int = 8 * 1024**3
    """Bytes of all members looked at (decompressed), records or not."""
    max_versions: int = 200_000
    """Entries of one ``versions`` list."""
    max_events: int = 10_000
    """Events of one range, and ranges of one affected entry."""


@dataclass(frozen=True)
class Range:
    """One ``affected[].ranges[]`` entry that can be evaluated."""

    type: str
    """``ECOSYSTEM`` or ``SEMVER``."""
    events: tuple[tuple[str, str], ...]
    """(kind, version) pairs in record order; kind is one of ``EVENT_KINDS``."""


@dataclass(frozen=True)
class Affected:
    """One PyPI package an advisory affects."""

    name: str
    """PEP 503 normalised name."""
    ranges: tuple[Range, ...]
    """Evaluable ranges."""
    versions: tuple[str, ...]
    """Explicitly listed affected versions."""
    severity: tuple[tuple[str, str], ...] = ()
    """Package-level ``severity`` entries (type, score), which replace the record's when present."""
    labels: tuple[str, ...] = ()
    """``ecosystem_specific``/``database_specific`` severity labels of this entry."""


@dataclass(frozen=True)
class Advisory:
    """What the database keeps of one OSV record."""

    id: str
    """The record id (``PYSEC-2021-9``, ``GHSA-...``)."""
    aliases: tuple[str, ...]
    """Other ids of the same vulnerability (CVE, GHSA...)."""
    summary: str
    """``summary``, else the first sentence of ``details``, at most 300 characters."""
    modified: str
    """When the record last changed, ISO 8601 UTC (``2023-05-04T03:49:48Z``)."""
    published: str | None
    """When it was published, if stated."""
    withdrawn: str | None
    """When it was withdrawn, if it was (withdrawn records are not imported)."""
    severity: tuple[tuple[str, str], ...]
    """Record-level ``severity`` entries (type, score)."""
    labels: tuple[str, ...]
    """Record-level ``database_specific.severity`` labels (``HIGH``, ``MODERATE``...)."""
    affected: tuple[Affected, ...]
    """Its PyPI entries (other ecosystems are dropped)."""


@dataclass
class SourceStats:
    """What reading a source met besides records."""

    members: int = 0
    """Files or members looked at."""
    skipped: int = 0
    """Members that are not ``.json``/``.yaml`` files, or are links or special files."""
    refused: int = 0
    """Members with absolute or ``..`` names, or over the record size bound (never read)."""
    bytes_read: int = 0
    """Bytes of the members looked at."""


def read_source(source: Path, limits: ImportLimits, stats: SourceStats) -> Iterator[tuple[str, bytes]]:
    """(member name, bytes) of every ``.json``/``.yaml``/``.yml`` record in a directory, zip or tarball."""
    if source.is_dir():
        yield from _read_directory(source, limits, stats)
        return
    if not source.is_file():
        raise SourceError(f"{source}: no such file or directory")
    import tarfile
    import zipfile

    if zipfile.is_zipfile(source):
        yield from _read_zip(source, limits, stats)
    elif tarfile.is_tarfile(source):
        yield from _read_tar(source, limits, stats)
    elif source.name.endswith(RECORD_SUFFIXES):
        yield from _read_file(source, source.name, limits, stats)
    else:
        raise SourceError(f"{source}: not a directory, .zip, tarball or OSV record file")


def _count(name: str, size: int, limits: ImportLimits, stats: SourceStats) -> bool:
    """Whether to read a member of ``size`` bytes; enforces the member and byte bounds."""
    stats.members += 1
    if stats.members > limits.max_members:
        raise SourceError(f"more than {limits.max_members:,} members; import stopped")
    stats.bytes_read += size  # skipped tar members are decompressed too, so every member counts
    if stats.bytes_read > limits.max_total_bytes:
        raise SourceError(f"more than {limits.max_total_bytes:,} bytes in members; import stopped")
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if not name.lower().endswith(RECORD_SUFFIXES):
        stats.skipped += 1
        return False
    if name.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]) or size > limits.max_record_bytes:
        stats.refused += 1
        return False
    return True


def _read_file(path: Path, name: str, limits: ImportLimits, stats: SourceStats) -> Iterator[tuple[str, bytes]]:
    size = path.stat().st_size
    if _count(name, size, limits, stats):
        with open(path, "rb") as handle:
            yield name, handle.read(limits.max_record_bytes + 1)


def _read_directory(root: Path, limits: ImportLimits, stats: SourceStats) -> Iterator[tuple[str, bytes]]:
    for folder, dirs, files in os.walk(root, followlinks=False):
        dirs.sort()
        for name in sorted(files):
            full = Path(folder) / name
            relative = full.relative_to(root).as_posix()
            info = full.lstat()
            if not stat.S_ISREG(info.st_mode):  # links and special files are not followed
                stats.members += 1
                stats.skipped += 1
                continue
            yield from _read_file(full, relative, limits, stats)


def _read_zip(source: Path, limits: ImportLimits, stats: SourceStats) -> Iterator[tuple[str, bytes]]:
    import zipfile

    try:
        with zipfile.ZipFile(source) as archive:
            for info in archive.infolist():
                if info.is_dir():
                    continue
                if info.flag_bits & 0x1:
                    raise SourceError(f"{source}: member {info.filename} is encrypted")
                if _count(info.filename, info.file_size, limits, stats):
                    with archive.open(info) as member:
                        data = member.read(limits.max_record_bytes + 1)
                    if len(data) > limits.max_record_bytes:  # the header understated the size
                        raise SourceError(f"{source}: member {info.filename} is larger than its header says")
                    yield info.filename, data
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        raise SourceError(f"{source}: unreadable zip: {exc}") from None


def _read_tar(source: Path, limits: ImportLimits, stats: SourceStats) -> Iterator[tuple[str, bytes]]:
    import tarfile

    try:
        with tarfile.open(source, "r|*") as archive:
            for member in archive:
                if member.isdir():
                    continue
                if not member.isreg():  # links, devices, fifos: never followed or read
                    stats.members += 1
                    stats.skipped += 1
                    continue
                if _count(member.name, member.size, limits, stats):
                    handle = archive.extractfile(member)
                    if handle is not None:
                        yield member.name, handle.read(limits.max_record_bytes + 1)
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise SourceError(f"{source}: unreadable tarball: {exc}") from None


def decode(name: str, data: bytes) -> Any:
    """The JSON or YAML document in ``data``; RecordError when it does not parse."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise RecordError("not UTF-8") from None
    if name.lower().endswith(".json"):
        try:
            return json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise RecordError(f"not valid JSON: {str(exc)[:120]}") from None
    import yaml

    try:
        return yaml.load(text, Loader=_string_loader())  # noqa: S506 - a SafeLoader subclass; see _string_loader
    except (yaml.YAMLError, RecursionError) as exc:
        raise RecordError(f"not valid YAML: {str(exc).splitlines()[0][:120]}") from None


_LOADER: Any = None


def _string_loader() -> Any:
    """A safe YAML loader (C-accelerated when available) that resolves no implicit types except null."""
    global _LOADER
    if _LOADER is None:
        import re

        import yaml

        base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        _LOADER = type("_OsvLoader", (base,), {"yaml_implicit_resolvers": {}})
        _LOADER.add_implicit_resolver("tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"),
                                      ["~", "n", "N", ""])
    return _LOADER


def normalise(record: Any, limits: ImportLimits) -> Advisory | None:
    """The Advisory in an OSV document; ``None`` when it is not an OSV record (no ``id`` and ``modified``)."""
    if not isinstance(record, dict) or "id" not in record or "modified" not in record:
        return None
    advisory_id = _string(record, "id")
    affected = tuple(entry for index, raw in enumerate(_list(record, "affected"))
                     if (entry := _affected(raw, f"affected[{index}]", limits)) is not None)
    return Advisory(
        id=advisory_id,
        aliases=tuple(dict.fromkeys(_strings(record, "aliases"))),
        summary=_summary(record),
        modified=timestamp(_string(record, "modified"), "modified"),
        published=timestamp(record["published"], "published") if record.get("published") else None,
        withdrawn=timestamp(record["withdrawn"], "withdrawn") if record.get("withdrawn") else None,
        severity=_severity(record.get("severity"), "severity"),
        labels=_labels(record.get("database_specific")),
        affected=affected,
    )


def _affected(raw: Any, where: str, limits: ImportLimits) -> Affected | None:
    if not isinstance(raw, dict):
        raise RecordError(f"{where} is not an object")
    package = raw.get("package")
    if not isinstance(package, dict):
        return None  # an entry without a package (allowed for some ecosystems) cannot match a PyPI dependency
    if package.get("ecosystem") != PYPI:
        return None
    name = package.get("name")
    if not isinstance(name, str) or not name.strip():
        raise RecordError(f"{where}.package.name is missing")
    versions = _strings(raw, "versions", where)
    if len(versions) > limits.max_versions:
        raise RecordError(f"{where}.versions has more than {limits.max_versions:,} entries")
    ranges = _list(raw, "ranges", where)
    if len(ranges) > limits.max_events:
        raise RecordError(f"{where}.ranges has more than {limits.max_events:,} entries")
    kept = tuple(r for i, item in enumerate(ranges) if (r := _range(item, f"{where}.ranges[{i}]", limits)) is not None)
    return Affected(canonical_name(name), kept, tuple(versions), _severity(raw.get("severity"), f"{where}.severity"),
                    _labels(raw.get("ecosystem_specific")) + _labels(raw.get("database_specific")))


def _range(raw: Any, where: str, limits: ImportLimits) -> Range | None:
    if not isinstance(raw, dict) or not isinstance(raw.get("type"), str):
        raise RecordError(f"{where} has no type")
    if raw["type"] not in MATCHED_RANGE_TYPES:
        return None
    events = _list(raw, "events", where)
    if len(events) > limits.max_events:
        raise RecordError(f"{where}.events has more than {limits.max_events:,} entries")
    parsed: list[tuple[str, str]] = []
    for index, event in enumerate(events):
        if not isinstance(event, dict) or len(event) != 1:
            raise RecordError(f"{where}.events[{index}] must hold exactly one of {', '.join(EVENT_KINDS)}")
        ((kind, value),) = event.items()
        if kind not in EVENT_KINDS or not isinstance(value, str) or not value:
            raise RecordError(f"{where}.events[{index}] is not an introduced/fixed/last_affected/limit version")
        parsed.append((kind, value))
    if not any(kind == "introduced" for kind, _ in parsed):
        raise RecordError(f"{where}.events has no introduced event")
    return Range(raw["type"], tuple(parsed))


def timestamp(value: Any, field: str) -> str:
    """An RFC 3339 time as ``YYYY-MM-DDTHH:MM:SSZ`` (UTC); RecordError naming ``field`` when it is not one."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip().replace("z", "Z"))
        except ValueError:
            raise RecordError(f"{field} {value!r} is not an RFC 3339 time") from None
    else:
        raise RecordError(f"{field} is not a time")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _summary(record: dict[str, Any]) -> str:
    summary = record.get("summary")
    text = summary if isinstance(summary, str) else ""
    if not text.strip() and isinstance(record.get("details"), str):
        details = " ".join(record["details"].split())
        cut = details.find(". ")
        text = details[: cut + 1] if 0 < cut < 300 else details
    text = " ".join(text.split())
    return text if len(text) <= 300 else text[:299] + "…"


def _severity(raw: Any, where: str) -> tuple[tuple[str, str], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise RecordError(f"{where} is not a list")
    return tuple((str(item["type"]), str(item["score"])) for item in raw
                 if isinstance(item, dict) and isinstance(item.get("type"), str) and isinstance(item.get("score"), str))


def _labels(raw: Any) -> tuple[str, ...]:
    if isinstance(raw, dict) and isinstance(raw.get("severity"), str):
        return (raw["severity"],)
    return ()


def _string(record: dict[str, Any], key: str) -> str:
    value = record.get(key)
    if not isinstance(value, str) or not value.strip():
        raise RecordError(f"{key} is missing or not a string")
    return value.strip()


def _list(record: dict[str, Any], key: str, where: str = "") -> list[Any]:
    value = record.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise RecordError(f"{where + '.' if where else ''}{key} is not a list")
    return value


def _strings(record: dict[str, Any], key: str, where: str = "") -> list[str]:
    values = _list(record, key, where)
    if not all(isinstance(v, str) for v in values):
        raise RecordError(f"{where + '.' if where else ''}{key} holds a non-string entry")
    return values


def severity_label(label: str) -> Severity | None:
    """A database's own severity word (GHSA: LOW, MODERATE, HIGH, CRITICAL) as a Severity, if it is one."""
    word = label.strip().upper()
    return {"CRITICAL": Severity.CRITICAL, "HIGH": Severity.HIGH, "MODERATE": Severity.MEDIUM,
            "MEDIUM": Severity.MEDIUM, "LOW": Severity.LOW}.get(word)
