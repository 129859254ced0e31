"""The audit end to end: ``scan`` with DependencyCheck, fail-closed cases, configuration, frameworks and the
driver, the installed environment, and known vulnerable pins of the PyPA database."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from deps_records import MINI_RECORDS, record, write_records
from packaging.version import InvalidVersion, Version

from bastion.config import ConfigError, Settings
from bastion.findings import Finding, ScanResult, Severity, TargetStatus
from bastion.scan import scan
from bastion.supplychain.deps import DependencyCheck
from bastion.supplychain.deps.audit import audit_environment, audit_paths
from bastion.supplychain.deps.config import DepsConfig
from bastion.supplychain.deps.database import import_advisories


def scan_deps(path: Path, settings: Settings | None = None) -> ScanResult:
    return scan([str(path)], settings or Settings(), checks=[DependencyCheck()])


def rules(result: ScanResult) -> list[str]:
    return [f.rule_id for f in result.findings]


def only(result: ScanResult, rule_id: str) -> list[Finding]:
    return [f for f in result.findings if f.rule_id == rule_id]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "requirements.txt").write_text("# app\ndemo-pkg==1.1.0\nother-pkg==1.0\nsafe-pkg==1.0\n")
    (root / "model.pkl").write_bytes(b"\x80\x04N.")
    (root / "README.md").write_text("hello\n")
    return root


def test_scan_reports_vulnerable_pins_with_ids_aliases_severity_and_fix(mini_db: Path, project: Path) -> None:
    result = scan_deps(project)
    demo = [f for f in only(result, "BST-DEP-001") if f.evidence == "demo-pkg==1.1.0"]
    assert len(demo) == 2  # TEST-2020-1 and GHSA-aaaa-bbbb-cccc merged (same CVE); TEST-2021-2 ([1.0, 1.5])
    merged = next(f for f in demo if "CVE-2020-0001" in f.title)
    # named by the GHSA id (PYSEC-, then GHSA- ids are preferred), the worst severity, every id in the detail
    assert merged.title == "demo-pkg 1.1.0: GHSA-aaaa-bbbb-cccc (CVE-2020-0001)"
    assert merged.severity is Severity.CRITICAL
    assert "aliases: CVE-2020-0001, TEST-2020-1" in merged.detail
    assert merged.remediation.startswith("upgrade to 1.2.1")  # the larger of the merged records' fixes
    assert merged.location.path == str(project / "requirements.txt") and merged.location.offset == len("# app\n")
    assert "line 2" in merged.detail
    last_affected = next(f for f in demo if "TEST-2021-2" in f.title)
    assert last_affected.severity is Severity.MEDIUM and last_affected.remediation.startswith("upgrade to 2.0.3")
    (listed,) = [f for f in only(result, "BST-DEP-001") if f.evidence == "other-pkg==1.0"]
    assert listed.severity is Severity.HIGH and listed.remediation.startswith("no fixed version is known")
    target = next(t for t in result.targets if t.path.endswith("requirements.txt"))
    assert target.kind == "requirements" and target.status is TargetStatus.SCANNED
    assert (target.facts["dependencies"], target.facts["audited"], target.facts["vulnerable"]) == (3, 3, 2)
    assert {v["id"] for v in target.facts["vulnerabilities"]} == {"GHSA-aaaa-bbbb-cccc", "TEST-2021-2", "TEST-2022-3"}
    others = {t.path: t.kind for t in result.targets if not t.path.endswith("requirements.txt")}
    assert set(others.values()) == {"unknown"}  # the check leaves other files alone
    assert result.exit_code(Severity.MEDIUM) == 1


def test_clean_pins_pass(mini_db: Path, tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("demo-pkg==1.6.0\nother-pkg==1.1\n")
    result = scan_deps(tmp_path)
    assert rules(result) == [] and result.exit_code(Severity.LOW) == 0


def test_missing_database_makes_every_manifest_incomplete(project: Path) -> None:
    result = scan_deps(project)
    assert rules(result) == ["BST-DEP-003"]
    target = next(t for t in result.targets if t.kind == "requirements")
    assert target.status is TargetStatus.INCOMPLETE and "no advisory database" in (target.reason or "")
    assert result.exit_code(Severity.MEDIUM) == 2  # never 0: nothing was checked
    assert result.exit_code(Severity.LOW) == 1


def test_empty_database_is_as_bad_as_a_missing_one(project: Path, tmp_path: Path) -> None:
    import sqlite3

    from bastion.supplychain.deps.database import database_path

    import_advisories(write_records(tmp_path / "r", MINI_RECORDS))
    connection = sqlite3.connect(database_path())
    connection.execute("DELETE FROM affected")
    connection.execute("DELETE FROM advisories")
    connection.commit()
    connection.close()
    result = scan_deps(project)
    assert "BST-DEP-003" in rules(result)
    assert "is empty" in only(result, "BST-DEP-003")[0].detail and result.exit_code(Severity.MEDIUM) == 2


def test_unpinned_and_unresolvable_dependencies_are_findings(mini_db: Path, tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("demo-pkg>=1.0\nflask\ngit+https://x/y.git#egg=y\nz==1.0-custom\n")
    result = scan_deps(tmp_path)
    unaudited = only(result, "BST-DEP-002")
    assert [f.evidence for f in unaudited] == ["demo-pkg>=1.0", "flask", "y"]
    assert "allows versions that 3 known advisories affect" in unaudited[0].detail
    assert all(f.severity is Severity.MEDIUM for f in unaudited) and result.exit_code(Severity.MEDIUM) == 1


def test_non_pep440_version_of_an_advised_package_is_unaudited(tmp_path: Path) -> None:
    import_advisories(write_records(tmp_path / "r", [record("X-1", "pkg", versions=["2.0.0-final"])]))
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "requirements.txt").write_text("pkg===2.0.0-final\n")
    result = scan_deps(tmp_path / "p")
    assert sorted(rules(result)) == ["BST-DEP-001", "BST-DEP-002"]  # listed by string, ranges not comparable


def test_stale_database_is_a_low_warning(tmp_path: Path) -> None:
    old = [record("OLD-1", "pkg", versions=["1.0"], modified="2020-01-01T00:00:00Z")]
    import_advisories(write_records(tmp_path / "r", old))
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "requirements.txt").write_text("other==1.0\n")
    result = scan_deps(tmp_path / "p")
    (stale,) = only(result, "BST-DEP-004")
    assert stale.severity is Severity.LOW and "2020-01-01T00:00:00Z" in stale.detail
    assert result.exit_code(Severity.MEDIUM) == 0
    fresh = Settings(sections={"deps": {"max_age_days": 100_000}})
    assert only(scan_deps(tmp_path / "p", fresh), "BST-DEP-004") == []


def test_ignore_list_suppresses_by_id_or_alias_and_says_so(mini_db: Path, project: Path) -> None:
    settings = Settings(sections={"deps": {"ignore": ["cve-2020-0001", "TEST-2022-3"]}})
    result = scan_deps(project, settings)
    assert [f.title for f in only(result, "BST-DEP-001")] == ["demo-pkg 1.1.0: TEST-2021-2"]
    target = next(t for t in result.targets if t.kind == "requirements")
    assert target.facts["ignored_advisories"] == ["GHSA-aaaa-bbbb-cccc", "TEST-2022-3"]


@pytest.mark.parametrize(("table", "message"), [
    ({"max_age": 3}, r"proj/bastion.toml: \[deps\] max_age is not a known key"),
    ({"max_age_days": 0}, r"proj/bastion.toml: \[deps\] max_age_days must be a positive number"),
    ({"max_age_days": True}, r"max_age_days must be a positive number"),
    ({"ignore": "CVE-1"}, r"proj/bastion.toml: \[deps\] ignore must be a list"),
])
def test_invalid_configuration_names_file_and_key(table: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        DepsConfig.from_settings(Settings(source="proj/bastion.toml", sections={"deps": table}))


def test_unreadable_manifest_is_incomplete_not_clean(mini_db: Path, tmp_path: Path) -> None:
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "pyproject.toml").write_text("[project\n")
    result = scan_deps(tmp_path / "p")
    (target,) = result.targets
    assert target.kind == "pyproject" and target.status is TargetStatus.INCOMPLETE
    assert "not valid TOML" in (target.reason or "") and result.exit_code(Severity.MEDIUM) == 2


def test_frameworks_and_cuda_wheels_are_reported(mini_db: Path, tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("torch==2.1.0\njaxlib>=0.4\nnvidia-cublas-cu12==12.1.3.1\n"
                                               "nvidia-cudnn-cu12==8.9.2.26\n")
    result = scan_deps(tmp_path)
    titles = sorted(f.title for f in only(result, "BST-DEP-005"))
    assert titles == ["CUDA libraries: 2 NVIDIA wheel(s)", "ML framework jaxlib >=0.4", "ML framework torch 2.1.0"]
    facts = result.targets[0].facts
    assert facts["frameworks"] == {"torch": "2.1.0", "jaxlib": ">=0.4"}
    assert facts["cuda_libraries"] == {"nvidia-cublas-cu12": "12.1.3.1", "nvidia-cudnn-cu12": "8.9.2.26"}


def _fake_nvidia_smi(folder: Path, body: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "nvidia-smi"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(0o755)


def _site(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    for name, version in (("demo_pkg", "1.1.0"), ("torch", "2.0.1+cu118")):
        folder = site / f"{name}-{version}.dist-info"
        folder.mkdir(parents=True)
        (folder / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (site / "torch").mkdir()
    (site / "torch" / "version.py").write_text("__version__ = '2.0.1+cu118'\ncuda: Optional[str] = '11.8'\n")
    return site


@pytest.mark.skipif(sys.platform == "win32", reason="a shell script stands in for nvidia-smi")
def test_environment_audit_with_driver(mini_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_nvidia_smi(tmp_path / "bin", "echo 535.104.05; echo 535.104.05")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    result = audit_environment(Settings(), paths=[str(_site(tmp_path))])
    (target,) = result.targets
    assert target.path == "<environment>" and target.kind == "environment"
    assert target.facts["nvidia_driver"] == "535.104.05" and target.facts["torch_cuda"] == "11.8"
    assert target.facts["frameworks"] == {"torch": "2.0.1+cu118"}
    driver = next(f for f in only(result, "BST-DEP-005") if "driver" in f.title)
    assert driver.title == "NVIDIA driver 535.104.05 (not audited)" and "CUDA 11.8" in driver.detail
    assert {f.evidence for f in only(result, "BST-DEP-001")} == {"demo-pkg==1.1.0"}


@pytest.mark.skipif(sys.platform == "win32", reason="a shell script stands in for nvidia-smi")
def test_failing_or_hanging_nvidia_smi_is_reported(mini_db: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from bastion.supplychain.deps import frameworks

    _fake_nvidia_smi(tmp_path / "bin", "echo 'NVIDIA-SMI has failed' >&2; exit 9")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    probe = frameworks.nvidia_driver()
    assert probe is not None and probe.version is None and "exited 9: NVIDIA-SMI has failed" in (probe.error or "")
    _fake_nvidia_smi(tmp_path / "bin", "sleep 5; echo 535.0")  # the shell forks: a child holds the pipe
    started = time.monotonic()
    probe = frameworks.nvidia_driver(timeout=0.3)
    assert probe is not None and "did not answer within 0.3 s" in (probe.error or "")
    assert time.monotonic() - started < 3
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    assert frameworks.nvidia_driver() is None


def test_environment_without_database_is_incomplete(tmp_path: Path) -> None:
    result = audit_environment(Settings(), paths=[str(_site(tmp_path))], probe_driver=False)
    assert result.targets[0].status is TargetStatus.INCOMPLETE and result.exit_code(Severity.MEDIUM) == 2


def test_audit_paths_keeps_only_manifests_and_rejects_non_manifests(mini_db: Path, project: Path) -> None:
    result = audit_paths([str(project)], Settings())
    assert [t.path for t in result.targets] == [str(project / "requirements.txt")]
    assert result.targets[0].sha256 is None
    assert audit_paths([str(project / "README.md")], Settings()).errors[0].endswith(
        "is not a dependency manifest (requirements*.txt, pyproject.toml, poetry.lock, uv.lock, Pipfile, "
        "Pipfile.lock, pylock.toml, environment.yml)")
    (project / "requirements.txt").unlink()
    empty = audit_paths([str(project)], Settings())
    assert empty.targets == () and "holds no dependency manifest" in empty.errors[0]
    assert empty.exit_code(Severity.MEDIUM) == 2


def test_check_module_imports_nothing_heavy() -> None:
    code = ("import sys, bastion.scan, bastion.supplychain.deps; "
            "print(sorted(m for m in ('packaging', 'sqlite3', 'yaml', 'tomllib', 'subprocess') if m in sys.modules))")
    baseline = subprocess.run([sys.executable, "-c", code.replace(", bastion.supplychain.deps", "")],
                              capture_output=True, text=True, check=True).stdout
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded == baseline


def test_non_manifest_files_are_not_opened(mini_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import bastion.supplychain.deps.manifests as manifests

    opened: list[str] = []
    original = manifests.recognise
    monkeypatch.setattr(manifests, "recognise", lambda shown, *a, **k: opened.append(shown) or original(shown, *a, **k))
    for name in ("a.txt", "b.yml", "c.toml", "data.csv", "requirements.txt"):
        (tmp_path / name).write_text("x\n")
    scan_deps(tmp_path)
    assert opened == [str(tmp_path / "requirements.txt")]


# Known vulnerable pins, computed here from the raw PyPA records (their ``versions`` lists and ranges), not by
# Bastion's own reader.

def _pypa_records(archive: Path) -> list[dict[str, Any]]:
    found = []
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar:
            if member.isfile() and member.name.startswith("vulns/") and member.name.endswith(".yaml"):
                handle = tar.extractfile(member)
                assert handle is not None
                data = yaml.load(handle.read(), Loader=getattr(yaml, "CBaseLoader", yaml.BaseLoader))  # all strings
                if not data.get("withdrawn"):
                    found.append(data)
    return found


def _version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def _expected_pins(records: list[dict[str, Any]], count: int) -> dict[tuple[str, str], dict[str, str | None]]:
    """(package, version) -> {advisory id: smallest fixed version above it} for ``count`` pins: one listed
    final release per advisory, taken from the newest advisories first."""
    pins: dict[tuple[str, str], dict[str, str | None]] = {}
    for data in sorted(records, key=lambda r: r["id"], reverse=True):
        affected = data["affected"][0]
        releases = [v for v in affected.get("versions", []) if (p := _version(v)) and not p.is_prerelease]
        if not releases:
            continue
        version = max(releases, key=lambda v: _version(v) or Version("0"))
        name = affected["package"]["name"].lower().replace("_", "-").replace(".", "-")
        if (name, version) not in pins and len(pins) < count:
            pins[(name, version)] = {}
    for data in records:
        affected = data["affected"][0]
        name = affected["package"]["name"].lower().replace("_", "-").replace(".", "-")
        for (pin_name, version), ids in pins.items():
            if pin_name == name and version in affected.get("versions", []):
                fixes = [Version(e["fixed"]) for r in affected.get("ranges", []) if r["type"] == "ECOSYSTEM"
                         for e in r["events"] if "fixed" in e and _version(e["fixed"])]
                above = sorted(f for f in fixes if f > Version(version))
                ids[data["id"]] = str(above[0]) if above else None
    return pins


def test_known_vulnerable_pins_from_the_pypa_database(pypa_db: Path, pypa_archive: Path, tmp_path: Path) -> None:
    pins = _expected_pins(_pypa_records(pypa_archive), 200)
    assert len(pins) == 200
    project = tmp_path / "pins"
    project.mkdir()
    (project / "requirements.txt").write_text("".join(f"{name}=={version}\n" for name, version in pins))
    started = time.monotonic()
    result = audit_paths([str(project)], Settings())
    seconds = time.monotonic() - started
    reported: dict[tuple[str, str], dict[str, str]] = {}
    for vulnerability in result.targets[0].facts["vulnerabilities"]:  # type: ignore[attr-defined]
        key = (vulnerability["package"], vulnerability["version"])
        for advisory in (vulnerability["id"], *vulnerability["aliases"]):
            reported.setdefault(key, {})[advisory] = vulnerability["fix"]
    missing = [(pin, advisory) for pin, ids in pins.items() for advisory in ids
               if advisory not in reported.get(pin, {})]
    assert missing == []
    wrong_fix = [(pin, advisory, fix, reported[pin][advisory]) for pin, ids in pins.items()
                 for advisory, fix in ids.items() if fix is not None and reported[pin][advisory] != fix]
    assert wrong_fix == []
    assert result.targets[0].facts["vulnerable"] == 200
    assert seconds < 5, f"auditing 200 pins took {seconds:.2f} s"


@pytest.mark.parametrize(("pin", "advisory", "alias", "fix", "severity"), [
    ("django==3.0.1", "PYSEC-2021-9", "CVE-2021-3281", "3.0.12", Severity.HIGH),
    ("jinja2==2.10", "PYSEC-2019-217", "CVE-2019-10906", "2.10.1", Severity.HIGH),
    ("pyyaml==5.3", "PYSEC-2020-96", "CVE-2020-1747", "5.3.1", Severity.HIGH),
    ("torch==1.12.0", "PYSEC-2022-43015", "CVE-2022-45907", "1.13.1", Severity.HIGH),
    ("mlflow==2.8.0", "PYSEC-2023-252", None, None, Severity.HIGH),  # CVSS 3.1 7.5
])
def test_well_known_advisories(pypa_db: Path, tmp_path: Path, pin: str, advisory: str, alias: str | None,
                               fix: str | None, severity: Severity) -> None:
    (tmp_path / "requirements.txt").write_text(pin + "\n")
    result = audit_paths([str(tmp_path / "requirements.txt")], Settings())
    finding = next(f for f in only(result, "BST-DEP-001") if f.title.split(": ")[1].startswith(advisory))
    assert finding.evidence == pin and finding.severity is severity
    if alias:
        assert alias in finding.title
    if fix:
        assert finding.remediation.startswith(f"upgrade to {fix}")
