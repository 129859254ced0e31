"""`bastion scan --format json` against its documented schema, docs/schema/scan-report.schema.json."""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from _cli import BENIGN, MALFORMED, MALICIOUS, scan_report
from bastion.reports.json_format import SCHEMA_ID

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "docs" / "schema" / "scan-report.schema.json"


def bastion_json(*args: str, cwd: Path) -> tuple[int, dict[str, Any]]:
    """`bastion scan ARGS --format json`: the exit code and the parsed report."""
    return scan_report("json", *args, cwd=cwd)


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text("utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)  # no format checker: the schema uses no formats


def check(report: dict[str, Any], validator: Draft202012Validator) -> None:
    """Valid against the schema, and internally consistent."""
    errors = sorted(validator.iter_errors(report), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:10])
    summary = report["summary"]
    assert summary["targets"] == len(report["targets"])
    assert summary["findings"] == len(report["findings"])
    assert sum(summary["by_severity"].values()) == len(report["findings"])
    assert sum(summary["by_status"].values()) == len(report["targets"])
    for status in summary["by_status"]:
        assert summary["by_status"][status] == sum(t["status"] == status for t in report["targets"])
    paths = {t["path"] for t in report["targets"]}
    for finding in report["findings"]:
        assert finding["location"]["path"] in paths


@pytest.fixture()
def tree(tmp_path: Path) -> Path:
    """tmp/sub/dir with one file of each outcome, and tmp/clean with a benign model only."""
    (tmp_path / "clean").mkdir()
    (tmp_path / "clean" / "good.pkl").write_bytes(BENIGN)
    (tmp_path / "clean" / "notes.txt").write_text("not a model\n")
    root = tmp_path / "sub" / "dir"
    (root / "deeper").mkdir(parents=True)
    (root / "x.pkl").write_bytes(MALICIOUS)
    (root / "deeper" / "y.pkl").write_bytes(BENIGN)
    (root / "broken.pkl").write_bytes(MALFORMED)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("archive/data.pkl", MALICIOUS)
    (root / "model.pt").write_bytes(buffer.getvalue())
    return tmp_path


def test_schema_id_is_the_emitted_schema_value() -> None:
    schema = json.loads(SCHEMA_PATH.read_text("utf-8"))
    assert schema["$id"] == SCHEMA_ID
    assert schema["properties"]["schema"]["const"] == SCHEMA_ID
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_clean_directory(tree: Path, validator: Draft202012Validator) -> None:
    code, report = bastion_json("clean", cwd=tree)
    assert code == 0
    check(report, validator)
    assert report["schema"] == SCHEMA_ID and report["findings"] == []
    assert {t["path"]: t["status"] for t in report["targets"]} == {"clean/good.pkl": "scanned",
                                                                   "clean/notes.txt": "skipped"}


def test_malicious_incomplete_and_member_findings(tree: Path, validator: Draft202012Validator) -> None:
    code, report = bastion_json("sub/dir", cwd=tree)
    assert code == 1
    check(report, validator)
    status = {t["path"]: t["status"] for t in report["targets"]}
    assert status == {"sub/dir/broken.pkl": "incomplete", "sub/dir/deeper/y.pkl": "scanned",
                      "sub/dir/model.pt": "scanned", "sub/dir/x.pkl": "scanned"}
    where = {(f["rule_id"], f["location"]["path"], f["location"]["member"]) for f in report["findings"]}
    assert ("BST-PKL-001", "sub/dir/x.pkl", None) in where
    assert ("BST-PKL-001", "sub/dir/model.pt", "archive/data.pkl") in where
    assert ("BST-PKL-011", "sub/dir/broken.pkl", None) in where
    assert report["findings"][0]["severity"] == "critical"  # worst first


def test_incomplete_only(tree: Path, validator: Draft202012Validator) -> None:
    code, report = bastion_json("sub/dir/broken.pkl", "--fail-on", "critical", cwd=tree)
    assert code == 2
    check(report, validator)
    assert report["targets"][0]["status"] == "incomplete" and report["targets"][0]["reason"]


def test_missing_path(tree: Path, validator: Draft202012Validator) -> None:
    code, report = bastion_json("no/such/model.pkl", "clean/good.pkl", cwd=tree)
    assert code == 2
    check(report, validator)
    assert report["summary"]["errors"] == ["no/such/model.pkl: no such file or directory"]
    missing = report["targets"][0]
    assert missing == {"path": "no/such/model.pkl", "kind": "unknown", "sha256": None, "status": "skipped",
                       "reason": "no such file or directory", "size": None, "facts": {}}


def test_no_hash_and_symlink_leaving_the_root(tree: Path, validator: Draft202012Validator) -> None:
    if hasattr(os, "symlink"):
        (tree / "clean" / "escape.pkl").symlink_to(tree / "sub" / "dir" / "x.pkl")
    code, report = bastion_json("clean", "--no-hash", cwd=tree)
    check(report, validator)
    assert all(t["sha256"] is None for t in report["targets"])
    assert code == 0
    if hasattr(os, "symlink"):
        escape = next(t for t in report["targets"] if t["path"] == "clean/escape.pkl")
        assert escape["status"] == "skipped" and "outside" in escape["reason"]


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("sample")
    (folder / "x.pkl").write_bytes(MALICIOUS)
    return bastion_json("x.pkl", cwd=folder)[1]


@pytest.mark.parametrize(
    "damage",
    [
        lambda r: r.update(extra=1),
        lambda r: r["targets"][0].update(status="passed"),
        lambda r: r["targets"][0].pop("sha256"),
        lambda r: r["findings"][0]["location"].update(line=3),
        lambda r: r["findings"][0].update(severity="CRITICAL"),
        lambda r: r["summary"]["by_severity"].pop("info"),
        lambda r: r["targets"][0].update(status="scanned", reason="why"),
        lambda r: r.update(schema="https://bastion.dev/schema/scan-report/2.0"),
    ],
)
def test_schema_rejects_what_bastion_never_writes(
    sample: dict[str, Any], validator: Draft202012Validator, damage: Any
) -> None:
    report = json.loads(json.dumps(sample))
    check(report, validator)
    damage(report)
    assert list(validator.iter_errors(report))


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("sub/dir", {"sub/dir/x.pkl", "sub/dir/deeper/y.pkl"}),
        ("sub/dir/", {"sub/dir/x.pkl", "sub/dir/deeper/y.pkl"}),
        ("./sub/dir", {"./sub/dir/x.pkl", "./sub/dir/deeper/y.pkl"}),
        ("sub/dir/x.pkl", {"sub/dir/x.pkl"}),
    ],
)
def test_location_path_is_the_command_line_path_joined_with_the_walked_path(
    tree: Path, validator: Draft202012Validator, given: str, expected: set[str]
) -> None:
    code, report = bastion_json(given, cwd=tree)
    check(report, validator)
    assert code == 1
    assert expected <= {t["path"] for t in report["targets"]}
    malicious = [f for f in report["findings"] if f["rule_id"] == "BST-PKL-001" and f["location"]["member"] is None]
    assert [f["location"]["path"] for f in malicious] == [p for p in expected if p.endswith("x.pkl")]


def test_absolute_path_is_kept_absolute(tree: Path, validator: Draft202012Validator) -> None:
    root = tree / "sub" / "dir"
    code, report = bastion_json(str(root), cwd=tree)
    check(report, validator)
    assert str(root / "x.pkl") in {f["location"]["path"] for f in report["findings"]}
