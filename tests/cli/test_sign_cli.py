"""`bastion keys generate`, `bastion sign` and `bastion verify` end to end: exit codes, messages, JSON, files."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from _cli import run_bastion as bastion


@pytest.fixture()
def signed(tmp_path: Path) -> tuple[Path, Path]:
    """A model folder signed with a fresh key; returns (model, public key)."""
    model = tmp_path / "model"
    (model / "weights").mkdir(parents=True)
    (model / "config.json").write_text('{"layers": 2}\n')
    (model / "weights" / "w.safetensors").write_bytes(b"\x07" * 100_000)
    run = bastion("keys", "generate", str(tmp_path / "key.pem"))
    assert run.returncode == 0, run.stderr
    run = bastion("sign", str(model), "--key", str(tmp_path / "key.pem"))
    assert run.returncode == 0, run.stderr
    return model, tmp_path / "key.pem.pub"


def test_keys_generate_writes_a_private_key_0600_and_refuses_to_overwrite(tmp_path: Path) -> None:
    run = bastion("keys", "generate", str(tmp_path / "k.pem"))
    assert run.returncode == 0, run.stderr
    assert stat.S_IMODE((tmp_path / "k.pem").stat().st_mode) == 0o600
    assert "key id:" in run.stdout and "BEGIN" not in run.stdout
    again = bastion("keys", "generate", str(tmp_path / "k.pem"))
    assert again.returncode == 2 and "already exists" in again.stderr
    assert bastion("keys", "generate", str(tmp_path / "k.pem"), "--force", "-a", "ecdsa-p384").returncode == 0
    bad = bastion("keys", "generate", str(tmp_path / "r.pem"), "--algorithm", "rsa")
    assert bad.returncode == 2 and "unknown key algorithm" in bad.stderr


def test_sign_writes_path_sig_and_verify_accepts(signed: tuple[Path, Path]) -> None:
    model, public = signed
    assert model.with_name("model.sig").is_file()
    run = bastion("verify", str(model), "--key", str(public))
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.startswith("OK: 2 files match the signature")


def test_verify_names_each_changed_file_and_exits_1(signed: tuple[Path, Path]) -> None:
    model, public = signed
    (model / "weights" / "w.safetensors").write_bytes(b"\x07" * 99_999 + b"\x08")
    (model / "config.json").unlink()
    (model / "weights" / "trojan.pkl").write_bytes(b"cos\nsystem\n")
    run = bastion("verify", str(model), "--key", str(public))
    assert run.returncode == 1
    assert run.stdout.splitlines() == [
        "modified: weights/w.safetensors",
        "missing: config.json",
        "added: weights/trojan.pkl",
        "FAILED: 3 file(s) differ from the signature (1 modified, 1 missing, 1 added)",
    ]


def test_verify_json_for_ci(signed: tuple[Path, Path], tmp_path: Path) -> None:
    model, public = signed
    (model / "config.json").write_text('{"layers": 3}\n')
    out = tmp_path / "verdict.json"
    run = bastion("verify", str(model), "--key", str(public), "--format", "json", "--output", str(out))
    assert run.returncode == 1 and run.stdout == ""
    verdict = json.loads(out.read_text())
    assert verdict["ok"] is False and verdict["modified"] == ["config.json"] and verdict["error"] is None


def test_wrong_key_and_corrupt_signature_exit_1_with_the_reason(signed: tuple[Path, Path], tmp_path: Path) -> None:
    model, _ = signed
    assert bastion("keys", "generate", str(tmp_path / "other.pem")).returncode == 0
    run = bastion("verify", str(model), "--key", str(tmp_path / "other.pem.pub"))
    assert run.returncode == 1 and "FAILED:" in run.stdout and "signed by another key" in run.stdout
    model.with_name("model.sig").write_text("{ not json")
    run = bastion("verify", str(model), "--key", str(tmp_path / "other.pem.pub"))
    assert run.returncode == 1 and "not a signature file" in run.stdout


def test_usage_and_io_errors_exit_2(signed: tuple[Path, Path], tmp_path: Path) -> None:
    model, public = signed
    run = bastion("verify", str(model), "--key", str(tmp_path / "absent.pub"))
    assert run.returncode == 2 and "no such public key file" in run.stderr
    run = bastion("verify", str(model), "--key", str(public), "--signature", str(tmp_path / "absent.sig"))
    assert run.returncode == 2 and "no such signature file" in run.stderr
    run = bastion("verify", str(model), "--key", str(tmp_path / "key.pem"))
    assert run.returncode == 2 and "is a private key" in run.stderr
    run = bastion("sign", str(model), "--key", str(public))
    assert run.returncode == 2 and "this is a public key" in run.stderr


def test_sign_refuses_a_symlink_naming_it(tmp_path: Path) -> None:
    model = tmp_path / "m"
    model.mkdir()
    (model / "real.bin").write_bytes(b"x")
    (model / "link.bin").symlink_to(tmp_path / "elsewhere")
    assert bastion("keys", "generate", str(tmp_path / "k.pem")).returncode == 0
    run = bastion("sign", str(model), "--key", str(tmp_path / "k.pem"))
    assert run.returncode == 2 and "link.bin: a symbolic link" in run.stderr
    assert not (tmp_path / "m.sig").exists()


def test_custom_signature_path_and_ignore(tmp_path: Path) -> None:
    model = tmp_path / "m"
    (model / "logs").mkdir(parents=True)
    (model / "w.bin").write_bytes(b"w")
    assert bastion("keys", "generate", str(tmp_path / "k.pem")).returncode == 0
    run = bastion("sign", str(model), "-k", str(tmp_path / "k.pem"), "-s", str(model / "SIGNATURE"),
                  "--ignore", "logs")
    assert run.returncode == 0 and "Signed 1 files" in run.stdout, run.stderr
    (model / "logs" / "today.txt").write_text("noise\n")
    run = bastion("verify", str(model), "-k", str(tmp_path / "k.pem.pub"), "-s", str(model / "SIGNATURE"))
    assert run.returncode == 0, run.stdout


def test_encrypted_key_reads_its_password_from_the_environment(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    weights = tmp_path / "w.bin"
    weights.write_bytes(b"w")
    monkeypatch.delenv("BASTION_KEY_PASSWORD", raising=False)
    run = bastion("keys", "generate", str(tmp_path / "k.pem"), "--encrypt")
    assert run.returncode == 2 and "BASTION_KEY_PASSWORD" in run.stderr
    monkeypatch.setenv("BASTION_KEY_PASSWORD", "s3cret-pass")
    assert bastion("keys", "generate", str(tmp_path / "k.pem"), "--encrypt").returncode == 0
    assert bastion("sign", str(weights), "--key", str(tmp_path / "k.pem")).returncode == 0
    monkeypatch.delenv("BASTION_KEY_PASSWORD")
    run = bastion("sign", str(weights), "--key", str(tmp_path / "k.pem"))
    assert run.returncode == 2 and "encrypted" in run.stderr and "s3cret" not in run.stderr
    assert bastion("verify", str(weights), "--key", str(tmp_path / "k.pem.pub")).returncode == 0


def test_default_key_lives_in_bastion_home(tmp_path: Path) -> None:
    home = Path(os.environ["BASTION_HOME"])  # an empty folder per test (tests/conftest.py)
    assert bastion("keys", "generate").returncode == 0
    key = home / "keys" / "signing.pem"
    assert stat.S_IMODE(key.parent.stat().st_mode) == 0o700 and stat.S_IMODE(key.stat().st_mode) == 0o600
    weights = tmp_path / "w.bin"
    weights.write_bytes(b"w")
    assert bastion("sign", str(weights)).returncode == 0
    assert bastion("verify", str(weights), "--key", f"{key}.pub").returncode == 0


def test_sign_and_verify_run_without_typer_rich_or_pydantic(tmp_path: Path) -> None:
    # Like `scan`, signing a model must not pay for the CLI framework's import (0.17 s per call with Typer).
    from bastion.supplychain.signing import generate_keys

    weights = tmp_path / "w.bin"
    weights.write_bytes(b"w" * 1000)
    keys = generate_keys(tmp_path / "k.pem")
    code = ("import sys, runpy; sys.argv=['bastion', *sys.argv[1:]]\n"
            "try: runpy.run_module('bastion', run_name='__main__')\n"
            "except SystemExit as e: print('exit', e.code)\n"
            "print('typer' in sys.modules, 'rich' in sys.modules, 'pydantic' in sys.modules)")
    for args in (["sign", str(weights), "--key", str(keys.private_key)],
                 ["verify", str(weights), "--key", str(keys.public_key)]):
        run = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=60)
        assert run.stdout.splitlines()[-2:] == ["exit 0", "False False False"], run.stdout + run.stderr


@pytest.mark.parametrize(("verb", "options"), [
    ("sign", ["--key", "--signature", "--ignore", "--no-default-ignore", "--workers", "$BASTION_KEY_PASSWORD"]),
    ("verify", ["--key", "--signature", "--format", "--output", "--workers", "text or json"]),
])
def test_sign_and_verify_help_list_their_options(verb: str, options: list[str]) -> None:
    run = bastion(verb, "--help")
    assert run.returncode == 0 and run.stderr == ""
    assert run.stdout.startswith(f"usage: bastion {verb} ")
    text = " ".join(run.stdout.split())
    assert all(option in text for option in options), run.stdout


@pytest.mark.parametrize(("args", "message"), [
    (["verify", "model"], "bastion verify: the following arguments are required: -k/--key"),
    (["verify", "model", "--key", "k.pub", "--workers", "0"], "bastion verify: argument --workers: must be at least 1"),
    (["sign", "model", "--workers", "0"], "bastion sign: argument --workers: must be at least 1"),
    (["sign", "model", "--workers", "two"], "bastion sign: argument --workers: 'two' is not a whole number"),
    (["sign"], "bastion sign: the following arguments are required: PATH"),
    (["verify", "model", "--key", "k.pub", "--format", "xml"],
     "bastion verify: unknown format 'xml'; choose one of: text, json"),
    (["verify", "model", "--key", "k.pub", "--colour"], "bastion verify: unrecognized arguments: --colour"),
])
def test_usage_errors_exit_2_naming_the_verb(tmp_path: Path, args: list[str], message: str) -> None:
    run = bastion(*args, cwd=tmp_path)
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr.startswith(message), run.stderr


def test_ignore_is_repeatable_and_workers_accepted(tmp_path: Path) -> None:
    model = tmp_path / "m"
    (model / "logs").mkdir(parents=True)
    (model / "w.bin").write_bytes(b"w")
    (model / "notes.txt").write_text("draft\n")
    assert bastion("keys", "generate", str(tmp_path / "k.pem")).returncode == 0
    run = bastion("sign", str(model), "-k", str(tmp_path / "k.pem"), "-i", "logs", "--ignore", "notes.txt",
                  "--workers", "1")
    assert run.returncode == 0 and "Signed 1 files" in run.stdout, run.stderr
    (model / "logs" / "today.txt").write_text("noise\n")
    (model / "notes.txt").write_text("final\n")
    run = bastion("verify", str(model), "-k", str(tmp_path / "k.pem.pub"), "--workers", "2")
    assert run.returncode == 0 and run.stdout.startswith("OK: 1 files match"), run.stdout + run.stderr


def test_typer_app_forwards_verify(signed: tuple[Path, Path]) -> None:
    # Library users who embed the Typer app still reach the same sign and verify commands.
    from typer.testing import CliRunner

    from bastion.cli.app import app

    model, public = signed
    result = CliRunner().invoke(app, ["verify", str(model), "--key", str(public), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["ok"] is True
    (model / "config.json").write_text('{"layers": 3}\n')
    result = CliRunner().invoke(app, ["verify", str(model), "-k", str(public)])
    assert result.exit_code == 1 and "modified: config.json" in result.stdout
    result = CliRunner().invoke(app, ["verify", "--help"])
    assert result.exit_code == 0 and "usage: bastion verify" in result.stdout
