"""Fixtures of the dependency-audit tests: small OSV records written here, and the shared PyPA archive."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from deps_records import MINI_RECORDS, write_records

from bastion.supplychain.deps.database import database_path, import_advisories

PYPA_ARCHIVE = (Path(__file__).resolve().parents[4] / "shared" / "data" / "advisories"
                / "pypa-advisory-database-vulns.tar.gz")
"""``../shared/data/advisories``: the PyPA advisory database (2,661 OSV YAML records) as one tarball."""


@pytest.fixture
def records_dir(tmp_path: Path) -> Callable[[list[dict[str, Any]]], Path]:
    """``records_dir(records)``: a fresh folder holding the records as JSON files."""
    counter = iter(range(1000))

    def make(records: list[dict[str, Any]]) -> Path:
        return write_records(tmp_path / f"records{next(counter)}", records)

    return make


@pytest.fixture
def mini_db(tmp_path: Path) -> Path:
    """MINI_RECORDS imported into this test's BASTION_HOME; returns the database path."""
    import_advisories(write_records(tmp_path / "mini-records", MINI_RECORDS))
    return database_path()


@pytest.fixture(scope="session")
def pypa_archive() -> Path:
    """The shared PyPA archive; tests that need it are skipped when it is absent."""
    if not PYPA_ARCHIVE.is_file():
        pytest.skip("../shared/data/advisories is absent: PyPA tests need the shared test material")
    return PYPA_ARCHIVE


@pytest.fixture(scope="session")
def pypa_db_file(pypa_archive: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The PyPA archive imported once per session into its own file."""
    path = tmp_path_factory.mktemp("pypa-db") / "advisories.sqlite"
    import_advisories(pypa_archive, path)
    return path


@pytest.fixture
def pypa_db(pypa_db_file: Path) -> Path:
    """The imported PyPA database copied into this test's BASTION_HOME; returns its path."""
    target = database_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(pypa_db_file, target)
    return target
