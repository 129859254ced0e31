"""Shared fixtures: the shared test corpus, a one-file scan helper, and an isolated BASTION_HOME."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bastion.config import Settings
from bastion.findings import ScanResult
from bastion.scan import scan

SHARED_MODELS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "models"
"""``../shared/data/models`` relative to the repository root: third-party model fixtures (not in the repo)."""


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own empty BASTION_HOME, so no test reads or writes the user's ~/.bastion."""
    home = tmp_path_factory.mktemp("bastion-home")
    monkeypatch.setenv("BASTION_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def shared_models() -> Path:
    """The shared model corpus; tests that need it are skipped when it is absent."""
    if not SHARED_MODELS.is_dir():
        pytest.skip("../shared/data/models is absent: corpus tests need the shared test material")
    return SHARED_MODELS


@pytest.fixture
def scan_file() -> Callable[..., ScanResult]:
    """``scan_file(path, settings=None)``: scan one path (file or directory) with the installed checks."""

    def run(path: str | Path, settings: Settings | None = None) -> ScanResult:
        return scan([str(path)], settings)

    return run
