"""The local advisory database: OSV records imported into SQLite under ``BASTION_HOME``.

``import_advisories`` parses the whole source first, then replaces the database's content in one transaction,
so readers see either the old advisories or the new ones, never a mix, and a failed import leaves the old ones.
The file is in WAL mode; readers open it read-only.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bastion.config import bastion_home
from bastion.findings import Severity
from bastion.supplychain.deps.cvss import severity_of
from bastion.supplychain.deps.osv import (
    Advisory,
    ImportLimits,
    Range,
    RecordError,
    SourceError,
    SourceStats,
    decode,
    normalise,
    read_source,
)

DATABASE_NAME = "advisories.sqlite"
SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS imports (
    id INTEGER PRIMARY KEY AUTOINCREMENT, source TEXT NOT NULL, records INTEGER NOT NULL,
    packages INTEGER NOT NULL, withdrawn INTEGER NOT NULL, invalid INTEGER NOT NULL,
    newest_modified TEXT, imported_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS advisories (
    id TEXT PRIMARY KEY, aliases TEXT NOT NULL, summary TEXT NOT NULL, severity_vectors TEXT NOT NULL,
    modified TEXT NOT NULL, published TEXT);
CREATE TABLE IF NOT EXISTS affected (
    advisory_id TEXT NOT NULL REFERENCES advisories(id), ecosystem TEXT NOT NULL, name TEXT NOT NULL,
    ranges TEXT NOT NULL, versions TEXT NOT NULL, severity TEXT NOT NULL, severity_basis TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS affected_by_package ON affected (ecosystem, name);
"""


class DatabaseError(Exception):
    """The advisory database cannot be used or written; the message names the file and what to do."""


def database_path() -> Path:
    """Where the advisory database lives: ``$BASTION_HOME/advisories.sqlite``."""
    return bastion_home() / DATABASE_NAME


@dataclass(frozen=True)
class DatabaseStatus:
    """What ``bastion db status`` reports."""

    path: str
    """The database file."""
    source: str | None
    """What the last import read (a directory, zip or tarball path), ``None`` when never imported."""
    records: int
    """Advisories held (withdrawn ones are not imported)."""
    packages: int
    """Distinct PyPI packages they affect."""
    newest_modified: str | None
    """The newest ``modified`` time among them (UTC, RFC 3339): how fresh the data is."""
    imported_at: str | None
    """When the last import finished (UTC, RFC 3339)."""
    invalid: int = 0
    """Malformed records the last import skipped (only with ``--allow-invalid``)."""

    def age_days(self, now: datetime | None = None) -> float | None:
        """Days since the newest advisory was modified (else since the import); ``None`` when unknown."""
        stamp = self.newest_modified or self.imported_at
        if stamp is None:
            return None
        moment = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        return ((now or datetime.now(UTC)) - moment).total_seconds() / 86400

    def to_dict(self, now: datetime | None = None) -> dict[str, Any]:
        """The JSON form of ``db status``."""
        age = self.age_days(now)
        return {"path": self.path, "source": self.source, "records": self.records, "packages": self.packages,
                "newest_modified": self.newest_modified, "age_days": None if age is None else round(age, 1),
                "imported_at": self.imported_at, "invalid": self.invalid}


@dataclass(frozen=True)
class ImportSummary:
    """What one import did."""

    status: DatabaseStatus
    """The database after the import."""
    withdrawn: int
    """Withdrawn records skipped."""
    other_ecosystems: int
    """Records skipped because they affect no PyPI package."""
    not_osv: int
    """YAML/JSON files that are not OSV records (no ``id`` and ``modified``), skipped."""
    duplicates: int
    """Records whose id appeared more than once (the newest ``modified`` was kept)."""
    members: SourceStats
    """What reading the source met."""
    invalid: tuple[str, ...] = field(default=())
    """``member: reason`` of each malformed record skipped (``--allow-invalid``); otherwise the import fails."""
    seconds: float = 0.0
    """Wall time of the import."""


def import_advisories(source: Path, path: Path | None = None, allow_invalid: bool = False,
                      limits: ImportLimits | None = None) -> ImportSummary:
    """Replace the database's advisories with the OSV records in ``source`` (directory, .zip or tarball).

    Raises SourceError when the source cannot be read, holds no PyPI advisory, or (without ``allow_invalid``)
    holds a malformed record; DatabaseError when the database cannot be written. Either way nothing changes.
    """
    started = time.monotonic()
    limits = limits or ImportLimits()
    path = path or database_path()
    parsed = _parse_source(source, limits, allow_invalid)
    if not parsed.advisories:
        raise SourceError(f"{source}: no OSV record affecting a PyPI package was found "
                          f"({parsed.stats.members} members looked at); the database was not changed")
    newest = max(a.modified for a in parsed.advisories.values())
    rows = _rows(parsed.advisories.values())
    imported_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    packages = len({row[2] for row in rows[1]})
    _write(path, rows, (str(source), len(parsed.advisories), packages, parsed.withdrawn, len(parsed.invalid),
                        newest, imported_at))
    status = DatabaseStatus(str(path), str(source), len(parsed.advisories), packages, newest, imported_at,
                            len(parsed.invalid))
    return ImportSummary(status, parsed.withdrawn, parsed.other, parsed.not_osv, parsed.duplicates, parsed.stats,
                         tuple(parsed.invalid), time.monotonic() - started)


@dataclass
class _Parsed:
    stats: SourceStats = field(default_factory=SourceStats)
    advisories: dict[str, Advisory] = field(default_factory=dict)
    withdrawn: int = 0
    other: int = 0
    not_osv: int = 0
    duplicates: int = 0
    invalid: list[str] = field(default_factory=list)


def _parse_source(source: Path, limits: ImportLimits, allow_invalid: bool) -> _Parsed:
    parsed = _Parsed()
    for name, data in read_source(source, limits, parsed.stats):
        try:
            advisory = normalise(decode(name, data), limits)
        except RecordError as exc:
            if not allow_invalid:
                raise SourceError(f"{source}: {name}: {exc}; nothing imported (--allow-invalid skips such "
                                  "records)") from None
            parsed.invalid.append(f"{name}: {exc}")
            continue
        if advisory is None:
            parsed.not_osv += 1
        elif advisory.withdrawn is not None:
            parsed.withdrawn += 1
        elif not advisory.affected:
            parsed.other += 1
        elif advisory.id in parsed.advisories:
            parsed.duplicates += 1
            if advisory.modified > parsed.advisories[advisory.id].modified:
                parsed.advisories[advisory.id] = advisory
        else:
            parsed.advisories[advisory.id] = advisory
    return parsed


_Rows = tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]


def _rows(advisories: Iterable[Advisory]) -> _Rows:
    """The ``advisories`` and ``affected`` rows; severities are computed here, once."""
    advisory_rows: list[tuple[Any, ...]] = []
    affected_rows: list[tuple[Any, ...]] = []
    for advisory in advisories:
        advisory_rows.append((advisory.id, json.dumps(advisory.aliases), advisory.summary,
                              json.dumps(advisory.severity), advisory.modified, advisory.published))
        for entry in advisory.affected:
            severity, basis = severity_of(entry.severity or advisory.severity, entry.labels + advisory.labels)
            ranges = [[r.type, [list(event) for event in r.events]] for r in entry.ranges]
            affected_rows.append((advisory.id, "PyPI", entry.name, json.dumps(ranges), json.dumps(entry.versions),
                                  severity.label, basis))
    return advisory_rows, affected_rows


def _write(path: Path, rows: _Rows, record: tuple[Any, ...]) -> None:
    """One transaction: old advisories out, new ones in, the import recorded."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        connection = sqlite3.connect(path, isolation_level=None)
    except (OSError, sqlite3.Error) as exc:
        raise DatabaseError(f"{path}: cannot be created: {exc}") from None
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=FULL")  # the import is acknowledged only once it is on disk
        connection.execute("BEGIN IMMEDIATE")
        _prepare_schema(connection)
        connection.execute("DELETE FROM affected")
        connection.execute("DELETE FROM advisories")
        connection.executemany("INSERT INTO advisories VALUES (?, ?, ?, ?, ?, ?)", rows[0])
        connection.executemany("INSERT INTO affected VALUES (?, ?, ?, ?, ?, ?, ?)", rows[1])
        connection.execute("INSERT INTO imports (source, records, packages, withdrawn, invalid, newest_modified, "
                           "imported_at) VALUES (?, ?, ?, ?, ?, ?, ?)", record)
        connection.execute("COMMIT")
    except sqlite3.Error as exc:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise DatabaseError(f"{path}: import failed, nothing changed: {exc} (if the file is not a Bastion "
                            "advisory database, move it away and import again)") from None
    finally:
        connection.close()


def _prepare_schema(connection: sqlite3.Connection) -> None:
    """Create the tables, or recreate them when the file holds another schema version (inside the transaction)."""
    tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "schema_version" in tables:
        found = connection.execute("SELECT version FROM schema_version").fetchone()
        if found is None or found[0] != SCHEMA_VERSION:
            for table in ("affected", "advisories", "imports", "schema_version"):
                connection.execute(f"DROP TABLE IF EXISTS {table}")
            tables = set()
    elif tables - {"sqlite_sequence"}:
        raise sqlite3.DatabaseError("the file holds tables that are not Bastion's")
    for statement in filter(str.strip, _SCHEMA.split(";")):
        connection.execute(statement)
    if "schema_version" not in tables:  # executescript() would commit, so the statements run one by one above
        connection.execute("INSERT INTO schema_version VALUES (?)", (SCHEMA_VERSION,))


@dataclass(frozen=True)
class AffectedEntry:
    """One advisory's entry for one package, as matching uses it."""

    advisory_id: str
    """The advisory id."""
    aliases: tuple[str, ...]
    """Its aliases."""
    summary: str
    """Its one-line summary."""
    severity: Severity
    """The severity findings get."""
    severity_basis: str
    """What the severity rests on."""
    ranges: tuple[Range, ...]
    """Evaluable ranges."""
    versions: tuple[str, ...]
    """Explicitly listed versions."""


class AdvisoryDatabase:
    """A read-only view of the database; ``entries(name)`` is cached per package."""

    def __init__(self, connection: sqlite3.Connection, status: DatabaseStatus) -> None:
        self._connection = connection
        self.status = status
        """What was imported and when."""
        self._cache: dict[str, tuple[AffectedEntry, ...]] = {}
        self._data_version: int | None = None
        self.changed()

    @classmethod
    def open(cls, path: Path | None = None) -> AdvisoryDatabase:
        """Open the database read-only; DatabaseError saying why when it is missing, empty or unusable."""
        path = path or database_path()
        if not path.is_file():
            raise DatabaseError(f"no advisory database at {path}: import one with bastion db import SOURCE")
        try:
            connection = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True, check_same_thread=False)
            status = _status(connection, path)
        except sqlite3.Error as exc:
            raise DatabaseError(f"{path}: not a usable advisory database ({exc}); import again with bastion db "
                                "import SOURCE") from None
        if status.records == 0:
            connection.close()
            raise DatabaseError(f"the advisory database {path} is empty: import one with bastion db import SOURCE")
        return cls(connection, status)

    def changed(self) -> bool:
        """Whether another connection has committed since this one last looked (an import replaced the data)."""
        version = self._connection.execute("PRAGMA data_version").fetchone()[0]
        seen, self._data_version = self._data_version, version
        return seen is not None and seen != version

    def entries(self, name: str) -> tuple[AffectedEntry, ...]:
        """Every advisory entry for the PyPI package ``name`` (PEP 503 normalised)."""
        cached = self._cache.get(name)
        if cached is None:
            rows = self._connection.execute(
                "SELECT a.id, a.aliases, a.summary, f.severity, f.severity_basis, f.ranges, f.versions "
                "FROM affected f JOIN advisories a ON a.id = f.advisory_id "
                "WHERE f.ecosystem = 'PyPI' AND f.name = ? ORDER BY a.id", (name,)).fetchall()
            cached = tuple(_entry(row) for row in rows)
            self._cache[name] = cached
        return cached

    def close(self) -> None:
        """Close the connection."""
        self._connection.close()


def _entry(row: tuple[Any, ...]) -> AffectedEntry:
    ranges = tuple(Range(kind, tuple((event[0], event[1]) for event in events)) for kind, events in json.loads(row[5]))
    return AffectedEntry(row[0], tuple(json.loads(row[1])), row[2], Severity.parse(row[3]), row[4], ranges,
                         tuple(json.loads(row[6])))


def _status(connection: sqlite3.Connection, path: Path) -> DatabaseStatus:
    version = connection.execute("SELECT version FROM schema_version").fetchone()
    if version is None or version[0] != SCHEMA_VERSION:
        raise sqlite3.DatabaseError(f"schema version {version[0] if version else 'none'}, this Bastion reads "
                                    f"{SCHEMA_VERSION}")
    last = connection.execute("SELECT source, newest_modified, imported_at, invalid FROM imports "
                              "ORDER BY id DESC LIMIT 1").fetchone()
    records = connection.execute("SELECT COUNT(*) FROM advisories").fetchone()[0]
    packages = connection.execute("SELECT COUNT(DISTINCT name) FROM affected").fetchone()[0]
    if last is None:
        return DatabaseStatus(str(path), None, records, packages, None, None)
    return DatabaseStatus(str(path), last[0], records, packages, last[1], last[2], last[3])


def database_status(path: Path | None = None) -> DatabaseStatus:
    """The status of the database at ``path`` (default ``database_path()``); DatabaseError when unusable."""
    path = path or database_path()
    if not path.is_file():
        raise DatabaseError(f"no advisory database at {path}: import one with bastion db import SOURCE")
    try:
        connection = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
        try:
            return _status(connection, path)
        finally:
            connection.close()
    except sqlite3.Error as exc:
        raise DatabaseError(f"{path}: not a usable advisory database ({exc}); import again with bastion db "
                            "import SOURCE") from None


_SHARED: dict[str, tuple[tuple[int, int, int] | None, AdvisoryDatabase | DatabaseError]] = {}
_SHARED_LOCK = threading.Lock()


def shared_database(path: Path | None = None) -> AdvisoryDatabase:
    """The database at ``path`` opened once per process and reused; reopened when the file is replaced or an
    import committed since. Raises the (cached) DatabaseError when it is unusable."""
    path = path or database_path()
    try:
        info = path.stat()
        stamp: tuple[int, int, int] | None = (info.st_ino, info.st_size, info.st_mtime_ns)
    except OSError:
        stamp = None
    with _SHARED_LOCK:
        cached = _SHARED.get(str(path))
        if cached is not None:
            seen, value = cached
            if isinstance(value, AdvisoryDatabase):
                if seen == stamp and not value.changed():
                    return value
                value.close()
            elif seen == stamp:
                raise DatabaseError(str(value))
        try:
            database = AdvisoryDatabase.open(path)
        except DatabaseError as exc:
            _SHARED[str(path)] = (stamp, exc)
            raise
        _SHARED[str(path)] = (stamp, database)
        return database
