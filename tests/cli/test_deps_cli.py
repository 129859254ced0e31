"""`bastion db import`, `bastion db status` and `bastion deps` end to end: output, formats and exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from _cli import run_bastion as bastion

PYPA_ARCHIVE = Path(__file__).resolve().parents[2].parent / "shared/data/advisories/pypa-advisory-database-vulns.tar.gz"


def _record(advisory_id: str, name: str, events: list[dict[str, str]], **extra: Any) -> dict[str, Any]:
    return {"id": advisory_id, "modified": "2099-01-01T00:00:00Z", **extra,
            "affected": [{"package": {"ecosystem": "PyPI", "name": name},
                          "ranges": [{"type": "ECOSYSTEM", "events": events}]}]}


@pytest.fixture
def advisories(tmp_path: Path) -> Path:
    folder = tmp_path / "osv"
    folder.mkdir()
    records = [
        _record("PYSEC-2099-1", "demo-pkg", [{"introduced": "0"}, {"fixed": "1.2.0"}], aliases=["CVE-2099-1"],
                severity=[{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}]),
        _record("PYSEC-2099-2", "other-pkg", [{"introduced": "1.0"}, {"fixed": "1.0.5"}]),
    ]
    for item in records:
        (folder / f"{item['id']}.json").write_text(json.dumps(item))
    return folder


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "app"
    root.mkdir()
    (root / "requirements.txt").write_text("demo-pkg==1.1.0\nother-pkg==1.0.1\n")
    return root


def _imported(advisories: Path) -> None:
    run = bastion("db", "import", str(advisories))
    assert run.returncode == 0, run.stderr


def test_status_without_a_database_exits_2(tmp_path: Path) -> None:
    run = bastion("db", "status")
    assert run.returncode == 2 and "no advisory database at" in run.stderr and "bastion db import" in run.stderr
    run = bastion("db", "status", "--format", "json")
    assert run.returncode == 2 and "error" in json.loads(run.stdout)


def test_import_then_status(advisories: Path) -> None:
    run = bastion("db", "import", str(advisories))
    assert run.returncode == 0, run.stderr
    assert "imported 2 advisories (2 packages)" in run.stdout and "newest advisory modified 2099-01-01" in run.stdout
    status = bastion("db", "status")
    assert status.returncode == 0 and "advisories:      2 (2 packages)" in status.stdout
    assert f"source:          {advisories}" in status.stdout and "stale" not in status.stdout
    data = json.loads(bastion("db", "status", "--format", "json").stdout)
    assert (data["records"], data["packages"], data["stale"], data["source"]) == (2, 2, False, str(advisories))
    assert data["path"].endswith("advisories.sqlite")


def test_import_errors_exit_2_and_change_nothing(advisories: Path, tmp_path: Path) -> None:
    _imported(advisories)
    run = bastion("db", "import", str(tmp_path / "absent.zip"))
    assert run.returncode == 2 and "absent.zip: no such file or directory" in run.stderr
    (advisories / "BROKEN.json").write_text('{"id": "B", "modified": "soon", "affected": []}')
    run = bastion("db", "import", str(advisories))
    assert run.returncode == 2 and "BROKEN.json: modified 'soon' is not an RFC 3339 time" in run.stderr
    assert json.loads(bastion("db", "status", "--format", "json").stdout)["records"] == 2
    run = bastion("db", "import", str(advisories), "--allow-invalid")
    assert run.returncode == 0 and "skipped 1 malformed records" in run.stdout


def test_deps_reports_vulnerabilities_and_exits_1(advisories: Path, project: Path) -> None:
    _imported(advisories)
    run = bastion("deps", str(project), "--format", "json")
    assert run.returncode == 1, run.stderr
    report = json.loads(run.stdout)
    found = {(f["rule_id"], f["evidence"], f["severity"]): f for f in report["findings"]}
    critical = found[("BST-DEP-001", "demo-pkg==1.1.0", "critical")]
    assert critical["title"] == "demo-pkg 1.1.0: PYSEC-2099-1 (CVE-2099-1)"
    assert critical["remediation"] == "upgrade to 1.2.0"
    assert found[("BST-DEP-001", "other-pkg==1.0.1", "high")]["remediation"] == "upgrade to 1.0.5"
    assert [t["kind"] for t in report["targets"]] == ["requirements"]
    assert report["targets"][0]["facts"]["vulnerable"] == 2


def test_fail_on_changes_the_exit_code(advisories: Path, project: Path) -> None:
    _imported(advisories)
    (project / "requirements.txt").write_text("other-pkg==1.0.1\n")
    assert bastion("deps", str(project / "requirements.txt")).returncode == 1
    assert bastion("deps", str(project / "requirements.txt"), "--fail-on", "critical").returncode == 0
    assert bastion("deps", str(project), "--fail-on", "nonsense").returncode == 2


def test_table_output_and_output_file(advisories: Path, project: Path, tmp_path: Path) -> None:
    _imported(advisories)
    run = bastion("deps", str(project))
    assert run.returncode == 1
    assert "requirements.txt (requirements): 2 dependencies, 2 audited, 0 not audited, 2 vulnerable" in run.stdout
    assert "PYSEC-2099-1" in run.stdout and "BST-DEP-001" in run.stdout
    out = tmp_path / "report.json"
    run = bastion("deps", str(project), "--format", "json", "--output", str(out))
    assert run.returncode == 1 and run.stdout == ""
    assert len(json.loads(out.read_text())["findings"]) == 2
    assert bastion("deps", str(project), "--output", str(tmp_path / "no" / "r.json")).returncode == 2


def test_deps_without_a_database_is_incomplete_exit_2(project: Path) -> None:
    (project / "requirements.txt").write_text("six==1.16.0\n")
    run = bastion("deps", str(project), "--format", "json")
    assert run.returncode == 2
    report = json.loads(run.stdout)
    assert [f["rule_id"] for f in report["findings"]] == ["BST-DEP-003"]
    assert report["targets"][0]["status"] == "incomplete"


def test_nothing_to_audit_is_exit_2(advisories: Path, tmp_path: Path) -> None:
    _imported(advisories)
    (tmp_path / "empty").mkdir()
    run = bastion("deps", str(tmp_path / "empty"))
    assert run.returncode == 2 and "holds no dependency manifest" in run.stderr
    run = bastion("deps", str(tmp_path / "missing"))
    assert run.returncode == 2 and "no such file or directory" in run.stderr


def test_default_path_is_the_current_folder(advisories: Path, project: Path) -> None:
    _imported(advisories)
    run = bastion("deps", "--format", "json", cwd=project)
    assert run.returncode == 1 and json.loads(run.stdout)["targets"][0]["path"] == "./requirements.txt"


def test_invalid_deps_configuration_exits_2_naming_the_key(advisories: Path, project: Path) -> None:
    _imported(advisories)
    (project / "bastion.toml").write_text("[deps]\nmax_age_days = -1\n")
    run = bastion("deps", "requirements.txt", cwd=project)
    assert run.returncode == 2 and "bastion.toml: [deps] max_age_days must be a positive number" in run.stderr
    (project / "bastion.toml").write_text('[deps]\nignore = ["PYSEC-2099-1", "PYSEC-2099-2"]\n')
    assert bastion("deps", "requirements.txt", cwd=project).returncode == 0


def test_env_audits_the_running_interpreter(advisories: Path) -> None:
    _imported(advisories)
    run = bastion("deps", "--env", "--format", "json", "--fail-on", "critical")
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr
    report = json.loads(run.stdout)
    (target,) = report["targets"]
    assert target["path"] == "<environment>" and target["kind"] == "environment"
    assert target["facts"]["dependencies"] > 5  # at least Bastion's own requirements


def test_scan_includes_the_audit_when_the_check_is_registered(advisories: Path, project: Path) -> None:
    """`bastion scan` runs every registered check; once the dependency check is registered it reports here."""
    from bastion.scan.engine import load_checks

    if not any(check.name == "dependencies" for check in load_checks()):
        pytest.skip("the dependencies check is not registered under bastion.checks in this install yet")
    _imported(advisories)
    run = bastion("scan", str(project), "--format", "json")
    assert run.returncode == 1
    assert "PYSEC-2099-1" in {f["title"].split(": ")[1].split(" ")[0] for f in json.loads(run.stdout)["findings"]}


def test_pypa_archive_through_the_cli(tmp_path: Path) -> None:
    if not PYPA_ARCHIVE.is_file():
        pytest.skip("../shared/data/advisories is absent")
    run = bastion("db", "import", str(PYPA_ARCHIVE))
    assert run.returncode == 0 and "imported 2,651 advisories (660 packages)" in run.stdout
    assert "skipped 10 withdrawn" in run.stdout
    status = json.loads(bastion("db", "status", "--format", "json").stdout)
    assert status["stale"] is True and status["newest_modified"] == "2024-10-10T17:22:00Z"
    (tmp_path / "requirements.txt").write_text("django==3.0.1\n")
    report = json.loads(bastion("deps", str(tmp_path / "requirements.txt"), "--format", "json").stdout)
    titles = {f["title"] for f in report["findings"]}
    assert "django 3.0.1: PYSEC-2021-9 (CVE-2021-3281)" in titles
    assert "BST-DEP-004" in {f["rule_id"] for f in report["findings"]}  # the 2024 data is stale
