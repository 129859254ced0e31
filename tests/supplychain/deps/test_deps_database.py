"""The advisory database: imports from folders, zips and tarballs, their bounds, atomic replacement, severities."""

from __future__ import annotations

import io
import json
import sqlite3
import tarfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from deps_records import MINI_RECORDS, record

from bastion.findings import Severity
from bastion.supplychain.deps.cvss import cvss2_base, cvss3_base, severity_of
from bastion.supplychain.deps.database import (
    AdvisoryDatabase,
    DatabaseError,
    database_path,
    database_status,
    import_advisories,
    shared_database,
)
from bastion.supplychain.deps.osv import ImportLimits, SourceError

RecordsDir = Callable[[list[dict[str, Any]]], Path]


def test_import_from_a_folder_skips_withdrawn_and_other_ecosystems(records_dir: RecordsDir) -> None:
    summary = import_advisories(records_dir(MINI_RECORDS))
    status = summary.status
    assert (status.records, status.packages, summary.withdrawn, summary.other_ecosystems) == (4, 2, 1, 1)
    assert status.newest_modified == "2099-01-01T00:00:00Z" and status.path == str(database_path())
    database = AdvisoryDatabase.open()
    entries = {e.advisory_id: e for e in database.entries("demo-pkg")}
    assert set(entries) == {"TEST-2020-1", "GHSA-aaaa-bbbb-cccc", "TEST-2021-2"}  # "Demo_Pkg" normalised
    assert entries["TEST-2020-1"].severity is Severity.CRITICAL
    assert entries["TEST-2020-1"].severity_basis == "CVSS 3.1 base 9.8"
    assert entries["TEST-2021-2"].severity is Severity.MEDIUM and entries["TEST-2021-2"].summary == "Denial of service."
    assert database.entries("other-pkg")[0].severity is Severity.HIGH  # no severity stated: high
    assert database.entries("absent") == ()
    database.close()


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def _tar(path: Path, members: dict[str, bytes], links: dict[str, str] | None = None) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            archive.addfile(info)
    return path


def test_import_from_zip_and_tarball_with_yaml_and_json(tmp_path: Path) -> None:
    yaml_record = (b"id: PYSEC-1\nmodified: '2024-01-02T03:04:05Z'\naffected:\n"
                   b"- package: {ecosystem: PyPI, name: pkg}\n  versions: [1.10, 2.0]\n  ranges:\n"
                   b"  - type: ECOSYSTEM\n    events: [{introduced: 0}, {fixed: 1.20}]\n")
    members = {"vulns/pkg/PYSEC-1.yaml": yaml_record, "GHSA-2.json": json.dumps(record("GHSA-2", "pkg2", versions=[
        "1.0"])).encode(), "README.md": b"# not a record", "triage/false_positives.yaml": b"ids: [CVE-1]\n"}
    for archive in (_zip(tmp_path / "all.zip", members), _tar(tmp_path / "vulns.tar.gz", members)):
        summary = import_advisories(archive)
        assert summary.status.records == 2 and summary.not_osv == 1 and summary.members.skipped == 1
        (entry,) = AdvisoryDatabase.open().entries("pkg")
        assert entry.versions == ("1.10", "2.0")  # YAML 1.10 stays "1.10", not the float 1.1
        assert entry.ranges[0].events == (("introduced", "0"), ("fixed", "1.20"))


def test_archive_path_tricks_links_and_encryption(tmp_path: Path) -> None:
    good = json.dumps(record("OK-1", "pkg", versions=["1.0"])).encode()
    tricky = {"../evil.json": good, "/abs/evil.json": good, "C:/win.json": good, "ok/OK-1.json": good}
    summary = import_advisories(_zip(tmp_path / "t.zip", tricky))
    assert summary.status.records == 1 and summary.members.refused == 3
    summary = import_advisories(_tar(tmp_path / "t.tar.gz", {"ok.json": good}, links={"link.json": "/etc/passwd"}))
    assert summary.status.records == 1 and summary.members.skipped == 1
    encrypted = _zip(tmp_path / "enc.zip", {"OK-1.json": good})
    raw = bytearray(encrypted.read_bytes())
    raw[6] |= 1  # the local header's "encrypted" flag
    raw[raw.rindex(b"PK\x01\x02") + 8] |= 1  # and the central directory's
    encrypted.write_bytes(bytes(raw))
    with pytest.raises(SourceError, match="encrypted"):
        import_advisories(encrypted)


def test_bounds_stop_the_import(tmp_path: Path, records_dir: RecordsDir) -> None:
    many = records_dir([record(f"R-{i}", "pkg", versions=["1.0"]) for i in range(20)])
    with pytest.raises(SourceError, match="more than 5 members"):
        import_advisories(many, limits=ImportLimits(max_members=5))
    with pytest.raises(SourceError, match="more than 1,000 bytes"):
        import_advisories(many, limits=ImportLimits(max_total_bytes=1000))


def test_oversized_records_are_refused_not_read(records_dir: RecordsDir) -> None:
    folder = records_dir([record(f"R-{i}", "pkg", versions=["1.0"]) for i in range(3)])
    with pytest.raises(SourceError, match="no OSV record affecting a PyPI package"):
        import_advisories(folder, limits=ImportLimits(max_record_bytes=50))


def test_gzip_bomb_is_bounded_by_decompressed_bytes(tmp_path: Path) -> None:
    bomb = _tar(tmp_path / "bomb.tar.gz", {"zeros.bin": b"\0" * 5_000_000, "R.json": b"{}"})
    assert bomb.stat().st_size < 50_000
    with pytest.raises(SourceError, match="more than 1,000,000 bytes in members"):
        import_advisories(bomb, limits=ImportLimits(max_total_bytes=1_000_000))


@pytest.mark.parametrize(("broken", "message"), [
    ({"id": "X", "modified": "yesterday", "affected": []}, "modified 'yesterday' is not an RFC 3339 time"),
    ({"id": "X", "modified": "2024-01-01T00:00:00Z", "affected": "pkg"}, "affected is not a list"),
    (record("X", "pkg", [{"fixed": "1.0"}]), "events has no introduced event"),
    (record("X", "pkg", [{"introduced": "0", "fixed": "1.0"}]), "must hold exactly one of"),
    (record("X", "pkg", versions=[1.0]), "versions holds a non-string entry"),
])
def test_malformed_records_refuse_the_import_and_keep_the_old_data(records_dir: RecordsDir,
                                                                     broken: dict[str, Any], message: str) -> None:
    import_advisories(records_dir(MINI_RECORDS))
    with pytest.raises(SourceError, match=message):
        import_advisories(records_dir([record("NEW-1", "pkg", versions=["1.0"]), broken]))
    assert database_status().records == 4  # unchanged
    summary = import_advisories(records_dir([record("NEW-1", "pkg", versions=["1.0"]), broken]), allow_invalid=True)
    assert summary.status.records == 1 and summary.status.invalid == 1 and message in summary.invalid[0]


def test_reimport_replaces_everything_in_one_transaction(records_dir: RecordsDir) -> None:
    import_advisories(records_dir(MINI_RECORDS))
    reader = AdvisoryDatabase.open()
    assert len(reader.entries("demo-pkg")) == 3
    import_advisories(records_dir([record("ONLY-1", "new-pkg", versions=["1.0"])]))
    assert reader.changed()  # a reader sees that an import committed
    fresh = AdvisoryDatabase.open()
    assert fresh.entries("demo-pkg") == () and len(fresh.entries("new-pkg")) == 1
    assert fresh.status.records == 1
    fresh.close()
    reader.close()


def test_empty_source_is_refused_and_missing_database_is_reported(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceError, match="no OSV record affecting a PyPI package"):
        import_advisories(tmp_path / "empty")
    with pytest.raises(SourceError, match="no such file or directory"):
        import_advisories(tmp_path / "absent.zip")
    (tmp_path / "notes.bin").write_bytes(b"\x00\x01")
    with pytest.raises(SourceError, match="not a directory, .zip, tarball"):
        import_advisories(tmp_path / "notes.bin")
    with pytest.raises(DatabaseError, match="no advisory database at"):
        AdvisoryDatabase.open()
    with pytest.raises(DatabaseError, match="no advisory database at"):
        database_status()


def test_foreign_or_corrupt_files_are_not_overwritten_or_trusted(tmp_path: Path, records_dir: RecordsDir) -> None:
    path = database_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(DatabaseError, match="not a usable advisory database"):
        AdvisoryDatabase.open()
    with pytest.raises(DatabaseError, match="import failed, nothing changed"):
        import_advisories(records_dir(MINI_RECORDS))
    path.unlink()
    other = sqlite3.connect(path)
    other.execute("CREATE TABLE users (name TEXT)")
    other.commit()
    other.close()
    with pytest.raises(DatabaseError, match="tables that are not Bastion's"):
        import_advisories(records_dir(MINI_RECORDS))


def test_other_schema_version_is_unusable_until_reimported(records_dir: RecordsDir) -> None:
    import_advisories(records_dir(MINI_RECORDS))
    connection = sqlite3.connect(database_path())
    connection.execute("UPDATE schema_version SET version = 99")
    connection.commit()
    connection.close()
    with pytest.raises(DatabaseError, match="schema version 99, this Bastion reads 1"):
        AdvisoryDatabase.open()
    import_advisories(records_dir(MINI_RECORDS))  # an import rebuilds the tables
    assert AdvisoryDatabase.open().status.records == 4


def test_shared_database_is_opened_once_and_follows_imports(records_dir: RecordsDir) -> None:
    with pytest.raises(DatabaseError):
        shared_database()
    import_advisories(records_dir(MINI_RECORDS))
    first = shared_database()
    assert shared_database() is first
    import_advisories(records_dir([record("ONLY-1", "new-pkg", versions=["1.0"])]))
    second = shared_database()
    assert second is not first and second.status.records == 1


def test_database_files_are_in_wal_mode(mini_db: Path) -> None:
    connection = sqlite3.connect(mini_db)
    assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    connection.close()


def test_pypa_archive_imports_in_seconds(pypa_archive: Path) -> None:
    started = time.monotonic()
    summary = import_advisories(pypa_archive)
    seconds = time.monotonic() - started
    assert summary.status.records == 2651 and summary.withdrawn == 10 and summary.status.packages == 660
    assert summary.not_osv == 1 and not summary.invalid  # triage/false_positives.yaml is not a record
    assert summary.status.newest_modified == "2024-10-10T17:22:00Z"
    assert seconds < 15, f"import took {seconds:.1f} s"


@pytest.mark.parametrize(("vector", "score"), [
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8), ("CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:C/C:H/I:N/A:N", 6.8),
    ("CVSS:3.0/AV:N/AC:L/PR:L/UI:N/S:C/C:L/I:L/A:N", 6.4), ("CVSS:3.1/AV:L/AC:L/PR:L/UI:R/S:U/C:L/I:N/A:N", 2.8),
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10.0), ("CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:N/I:N/A:N", 0.0),
])
def test_cvss3_base_scores(vector: str, score: float) -> None:
    assert cvss3_base(vector) == score


@pytest.mark.parametrize(("vector", "score"), [
    ("AV:N/AC:L/Au:N/C:P/I:P/A:P", 7.5), ("AV:N/AC:M/Au:N/C:N/I:P/A:N", 4.3), ("AV:N/AC:L/Au:N/C:C/I:C/A:C", 10.0),
    ("AV:L/AC:L/Au:N/C:N/I:N/A:N", 0.0),
])
def test_cvss2_base_scores(vector: str, score: float) -> None:
    assert cvss2_base(vector) == score


def test_severity_precedence() -> None:
    critical = ("CVSS_V3", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")
    v2_medium = ("CVSS_V2", "AV:N/AC:M/Au:N/C:N/I:P/A:N")
    assert severity_of([v2_medium, critical], ["LOW"]) == (Severity.CRITICAL, "CVSS 3.1 base 9.8")
    assert severity_of([v2_medium], ["CRITICAL"]) == (Severity.MEDIUM, "CVSS 2.0 base 4.3")
    assert severity_of([("CVSS_V4", "CVSS:4.0/AV:N")], ["moderate"]) == (Severity.MEDIUM, "database label MODERATE")
    assert severity_of([("CVSS_V3", "CVSS:3.1/AV:X")], [])[0] is Severity.HIGH  # malformed: falls through
    assert severity_of([], [])[0] is Severity.HIGH
    with pytest.raises(ValueError, match="missing or unknown base metric"):
        cvss3_base("CVSS:3.1/AV:N/AC:L")
