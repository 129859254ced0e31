"""The `bastion scan` command end to end: exit codes, formats, output files, usage errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from _cli import BENIGN, MALICIOUS, scan_report
from _cli import run_bastion as bastion


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / "models").mkdir(parents=True)
    (root / "models" / "good.pkl").write_bytes(BENIGN)
    (root / "notes.txt").write_text("not a model\n")
    return root


def test_clean_tree_exits_0(project: Path) -> None:
    run = bastion("scan", str(project))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "no findings" in run.stdout


def test_malicious_file_exits_1_and_names_the_global(project: Path) -> None:
    (project / "models" / "bad.bin").write_bytes(MALICIOUS)
    run = bastion("scan", str(project), "--format", "json")
    assert run.returncode == 1
    report = json.loads(run.stdout)
    rules = {(f["rule_id"], f["severity"]) for f in report["findings"]}
    assert ("BST-PKL-001", "critical") in rules
    bad = [f for f in report["findings"] if f["location"]["path"].endswith("bad.bin")]
    assert bad and "os.system" in bad[0]["title"]


def test_fail_on_threshold_changes_exit(project: Path) -> None:
    (project / "odd.pkl").write_bytes(b"\x80\x04\x8c\x05mylib\x8c\x05Model\x93)R.")
    assert bastion("scan", str(project)).returncode == 1  # unknown global is medium
    assert bastion("scan", str(project), "--fail-on", "high").returncode == 0
    assert bastion("scan", str(project), "--fail-on", "critical").returncode == 0


def test_incomplete_target_exits_2_never_0(project: Path) -> None:
    (project / "model.pt").write_bytes(b"\xfe\xff" * 32)  # named like a model, content unrecognised
    run = bastion("scan", str(project), "--format", "json")
    assert run.returncode == 2
    report = json.loads(run.stdout)
    statuses = {t["path"]: t["status"] for t in report["targets"]}
    assert statuses[str(project / "model.pt")] == "incomplete"


def test_findings_beat_incomplete(project: Path) -> None:
    (project / "model.pt").write_bytes(b"\xfe\xff" * 32)
    (project / "bad.pkl").write_bytes(MALICIOUS)
    assert bastion("scan", str(project)).returncode == 1


def test_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    run = bastion("scan", str(tmp_path / "nope"))
    assert run.returncode == 2
    assert "no such file or directory" in run.stderr


@pytest.mark.parametrize("args", [["--format", "xml"], ["--fail-on", "severe"]])
def test_bad_options_exit_2_with_message(project: Path, args: list[str]) -> None:
    run = bastion("scan", str(project), *args)
    assert run.returncode == 2
    assert "choose one of" in run.stderr


def test_output_file_is_written_whole(project: Path, tmp_path: Path) -> None:
    (project / "bad.pkl").write_bytes(MALICIOUS)
    out = tmp_path / "report.sarif"
    run = bastion("scan", str(project), "--format", "sarif", "--output", str(out))
    assert run.returncode == 1
    assert run.stdout == ""
    sarif = json.loads(out.read_text())
    assert sarif["version"] == "2.1.0"
    assert not list(tmp_path.glob(".report.sarif.*")), "temporary file left behind"


def test_output_into_missing_folder_is_refused(project: Path, tmp_path: Path) -> None:
    run = bastion("scan", str(project), "--output", str(tmp_path / "no" / "such" / "r.json"))
    assert run.returncode == 2
    assert "does not exist" in run.stderr


def test_location_path_joins_given_path_and_walk(project: Path) -> None:
    (project / "models" / "bad.pkl").write_bytes(MALICIOUS)
    run = bastion("scan", "proj", "--format", "json", cwd=project.parent)
    report = json.loads(run.stdout)
    assert report["findings"][0]["location"]["path"] == os.path.join("proj", "models", "bad.pkl")


def test_config_allow_list_lowers_unknown_global_but_not_deny(project: Path, tmp_path: Path) -> None:
    (project / "odd.pkl").write_bytes(b"\x80\x04\x8c\x05mylib\x8c\x05Model\x93)R.")
    (project / "bad.pkl").write_bytes(MALICIOUS)
    config = tmp_path / "bastion.toml"
    config.write_text('[pickle]\nallow = ["mylib Model", "os system"]\n')
    report = json.loads(bastion("scan", str(project), "--format", "json", "--config", str(config)).stdout)
    titles = " ".join(f["title"] for f in report["findings"])
    assert "mylib.Model" not in titles
    assert "os.system" in titles  # the allow-list can never weaken a deny rule


def test_config_errors_name_the_place(project: Path, tmp_path: Path) -> None:
    config = tmp_path / "bastion.toml"
    config.write_text("[limits]\ntimeout_seconds = -1\n")
    run = bastion("scan", str(project), "--config", str(config))
    assert run.returncode == 2
    assert "timeout_seconds" in run.stderr and str(config) in run.stderr


def test_scanned_tree_config_is_ignored(project: Path) -> None:
    (project / "bastion.toml").write_text('[pickle]\nallow = ["mylib Model"]\n')
    (project / "odd.pkl").write_bytes(b"\x80\x04\x8c\x05mylib\x8c\x05Model\x93)R.")
    assert bastion("scan", str(project)).returncode == 1


def test_version_is_fast_and_does_not_import_the_cli() -> None:
    code = "import sys, runpy; sys.argv=['bastion','--version']; runpy.run_module('bastion', run_name='__main__'); " \
           "print('typer' in sys.modules, 'rich' in sys.modules)"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert run.stdout.splitlines() == ["bastion 0.1.0", "False False"]


def test_rules_lists_catalogue() -> None:
    run = bastion("rules", "--format", "json")
    rules = json.loads(run.stdout)
    assert {"BST-PKL-001", "BST-SCAN-001"} <= {r["rule_id"] for r in rules}


def test_demo_builds_and_scans(tmp_path: Path) -> None:
    run = bastion("demo", str(tmp_path / "demo"))
    assert run.returncode == 0, run.stderr
    report = json.loads((tmp_path / "demo" / "bastion-report.json").read_text())
    critical = {Path(f["location"]["path"]).name for f in report["findings"] if f["severity"] == "critical"}
    assert critical == {"sentiment_head.pkl", "resnet_finetuned.pt", "requirements.txt", "explore.ipynb"}
    [leak] = [f for f in report["findings"] if f["rule_id"] == "BST-SEC-001"]
    assert "output" in leak["location"]["member"] and "T3BlbkFJ" not in json.dumps(report)  # masked, never clear
    [pin] = [f for f in report["findings"] if f["rule_id"] == "BST-DEP-001"]
    assert "torch==2.5.1" in pin["evidence"] and "2.6.0" in pin["remediation"]
    pii = {(f["location"]["column"], f["rule_id"], f["severity"]) for f in report["findings"]
           if f["rule_id"].startswith("BST-PII")}
    assert pii == {("card_number", "BST-PII-001", "high"), ("email", "BST-PII-002", "medium"),
                   ("phone", "BST-PII-002", "medium"), ("applicant_name", "BST-PII-002", "medium")}
    # besides the trojans, the pin, the leak and the dataset: a low staleness warning (the demo advisory is old)
    # and the info record of the framework version
    assert {f["rule_id"] for f in report["findings"] if f["severity"] not in ("critical", "high")} <= {
        "BST-DEP-004", "BST-DEP-005", "BST-AI-002", "BST-PII-002"}


def test_scan_runs_without_typer_or_rich_when_clean(project: Path) -> None:
    # `scan` is the verb CI runs on every commit: it must not pay for the CLI framework's import.
    code = ("import sys, runpy; sys.argv=['bastion','scan',sys.argv[1],'--no-hash']\n"
            "try: runpy.run_module('bastion', run_name='__main__')\n"
            "except SystemExit as e: print('exit', e.code)\n"
            "print('typer' in sys.modules, 'rich' in sys.modules, 'pydantic' in sys.modules)")
    run = subprocess.run([sys.executable, "-c", code, str(project)], capture_output=True, text=True, timeout=60)
    assert run.stdout.splitlines()[-2:] == ["exit 0", "False False False"], run.stdout + run.stderr


def test_scan_help_and_top_level_listing() -> None:
    run = bastion("scan", "--help")
    assert run.returncode == 0
    assert "--fail-on" in run.stdout and "--no-hash" in run.stdout
    listing = bastion("--help")
    assert listing.returncode == 0 and "scan" in listing.stdout and "rules" in listing.stdout


def test_typer_app_forwards_scan(project: Path) -> None:
    # Library users who embed the Typer app still reach the same scan command.
    from typer.testing import CliRunner

    from bastion.cli.app import app

    (project / "evil.pkl").write_bytes(MALICIOUS)
    result = CliRunner().invoke(app, ["scan", str(project / "evil.pkl"), "--format", "json", "--no-hash"])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["targets"][0]["sha256"] is None


def _signed_model(tmp_path: Path) -> tuple[Path, Path]:
    from bastion.supplychain.signing import generate_keys, sign

    model = tmp_path / "model"
    model.mkdir()
    (model / "head.pkl").write_bytes(BENIGN)
    (tmp_path / "keys").mkdir()
    keys = generate_keys(tmp_path / "keys" / "signer.pem")
    sign(model, keys.private_key)
    return model, keys.public_key


def test_trust_accepts_a_valid_signature_and_names_tampering(tmp_path: Path) -> None:
    model, public = _signed_model(tmp_path)
    assert bastion("scan", str(model), "--trust", str(public)).returncode == 0
    (model / "head.pkl").write_bytes(BENIGN + b"\n")
    code, report = scan_report("json", str(model), "--trust", str(public), cwd=tmp_path)
    assert code == 1
    [finding] = report["findings"]
    assert finding["rule_id"] == "BST-SIG-002" and "modified: head.pkl" in finding["detail"]


def test_trust_reports_unsigned_models_and_untrusted_signers(tmp_path: Path) -> None:
    from bastion.supplychain.signing import generate_keys

    model, _ = _signed_model(tmp_path)
    other = generate_keys(tmp_path / "other.pem").public_key
    code, report = scan_report("json", str(model), "--trust", str(other), cwd=tmp_path)
    assert code == 1 and [f["rule_id"] for f in report["findings"]] == ["BST-SIG-003"]
    (tmp_path / "model.sig").unlink()
    code, report = scan_report("json", str(model), "--trust", str(other), cwd=tmp_path)
    assert code == 1 and [f["rule_id"] for f in report["findings"]] == ["BST-SIG-001"]


def test_trust_from_the_project_file_is_relative_to_it(tmp_path: Path) -> None:
    model, public = _signed_model(tmp_path)
    config = tmp_path / "keys" / "bastion.toml"
    config.write_text(f'[scan]\ntrust = ["{public.name}"]\n')
    (model / "extra.pkl").write_bytes(BENIGN)
    code, report = scan_report("json", str(model), "--config", str(config), cwd=tmp_path)
    assert code == 1 and "added: extra.pkl" in report["findings"][0]["detail"]


def test_unreadable_trusted_key_is_not_a_pass(tmp_path: Path) -> None:
    model, _ = _signed_model(tmp_path)
    run = bastion("scan", str(model), "--trust", str(tmp_path / "missing.pub"))
    assert run.returncode == 2 and "signature not checked" in run.stderr


def test_unknown_scan_key_in_project_file_is_an_error(tmp_path: Path) -> None:
    config = tmp_path / "bastion.toml"
    config.write_text('[scan]\ntrusted = ["k.pub"]\n')
    run = bastion("scan", str(tmp_path), "--config", str(config))
    assert run.returncode == 2 and "[scan] trusted is not a known key" in run.stderr
