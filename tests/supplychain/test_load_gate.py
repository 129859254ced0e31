"""The load gate: only the model-file scan decides; medium or worse refuses; the override is loud and on record;
TorchScript archives pass while pickles that call into ``torch.jit`` stay critical."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from _cli import BENIGN, MALICIOUS
from bastion.findings import ScanResult, Severity
from bastion.supplychain.gate import GATE_SEVERITY, UNSAFE_LOG, UnsafeLoadError, gate


def _log(home: Path | None = None) -> Path:
    return Path(home or os.environ["BASTION_HOME"]) / UNSAFE_LOG


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_gate_threshold_is_medium() -> None:
    assert GATE_SEVERITY is Severity.MEDIUM


def test_clean_pickle_passes_and_leaves_no_record(tmp_path: Path) -> None:
    result = gate(_write(tmp_path / "head.pkl", BENIGN))
    assert not [f for f in result.findings if f.severity >= Severity.MEDIUM]
    assert not result.errors
    assert not _log().exists()


def test_malicious_pickle_is_refused_with_its_findings(tmp_path: Path) -> None:
    path = _write(tmp_path / "model.pkl", MALICIOUS)
    with pytest.raises(UnsafeLoadError) as caught:
        gate(path, what="NER model")
    message = str(caught.value)
    assert "NER model" in message and str(path) in message and "BST-PKL-001" in message and "critical" in message
    assert [f.rule_id for f in caught.value.result.findings if f.severity is Severity.CRITICAL] == ["BST-PKL-001"]
    assert not _log().exists()


def test_a_folder_is_refused_when_one_file_is_bad(tmp_path: Path) -> None:
    _write(tmp_path / "ok.pkl", BENIGN)
    bad = _write(tmp_path / "sub.pkl", MALICIOUS)
    with pytest.raises(UnsafeLoadError, match="BST-PKL-001") as caught:
        gate(tmp_path)
    assert str(bad) in str(caught.value)


def test_medium_finding_alone_refuses(tmp_path: Path) -> None:
    path = _write(tmp_path / "tagged.pkl", b"cipaddress\nIPv4Address\n(S'10.0.0.1'\ntR.")  # harmless, not allow-listed
    with pytest.raises(UnsafeLoadError, match=r"BST-PKL-005 \(medium\)"):
        gate(path)


def test_a_scan_error_refuses(tmp_path: Path) -> None:
    with pytest.raises(UnsafeLoadError, match="no such file"):
        gate(tmp_path / "absent.pkl")


def test_override_warns_and_records_one_json_line(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = _write(tmp_path / "model.pkl", MALICIOUS)  # only gated here; nothing is ever unpickled
    with caplog.at_level("WARNING", logger="bastion.load"):
        result = gate(path, what="model", allow_unsafe=True)
    assert any(f.rule_id == "BST-PKL-001" for f in result.findings)
    assert "LOADING AN UNSAFE MODEL" in caplog.text and str(_log()) in caplog.text
    lines = _log().read_text("utf-8").splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert set(record) == {"time", "what", "path", "sha256", "rules", "errors", "user", "pid"}
    assert record["sha256"] == hashlib.sha256(MALICIOUS).hexdigest()
    assert record["rules"] == ["BST-PKL-001"] and record["errors"] == []
    assert record["path"] == str(path.resolve()) and record["what"] == "model"
    assert record["time"].endswith("Z") and record["pid"] == os.getpid() and record["user"]


def test_override_on_a_folder_records_no_file_hash(tmp_path: Path) -> None:
    folder = tmp_path / "bundle"
    folder.mkdir()
    _write(folder / "a.pkl", MALICIOUS)
    gate(folder, allow_unsafe=True)
    record = json.loads(_log().read_text("utf-8"))
    assert record["sha256"] is None and record["rules"] == ["BST-PKL-001"]


def test_override_that_cannot_be_recorded_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path / "model.pkl", MALICIOUS)
    home_file = _write(tmp_path / "home-file", b"not a folder")
    dir_log = tmp_path / "dir-log"
    (dir_log / UNSAFE_LOG).mkdir(parents=True)
    for home in (home_file, dir_log):
        monkeypatch.setenv("BASTION_HOME", str(home))
        with pytest.raises(UnsafeLoadError, match="could not be recorded"):
            gate(path, allow_unsafe=True)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes into read-only folders")
def test_override_with_a_read_only_home_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path / "model.pkl", MALICIOUS)
    home = tmp_path / "ro"
    home.mkdir()
    home.chmod(0o500)
    monkeypatch.setenv("BASTION_HOME", str(home))
    try:
        with pytest.raises(UnsafeLoadError, match="could not be recorded"):
            gate(path, allow_unsafe=True)
    finally:
        home.chmod(0o700)


def test_gate_ignores_findings_of_other_checks(tmp_path: Path, scan_file: Callable[..., ScanResult]) -> None:
    """A model folder with a secret in a config file is not a code-execution risk for loading."""
    folder = tmp_path / "model"
    folder.mkdir()
    _write(folder / "head.pkl", BENIGN)
    token = "ghp" + "_R7tK2mXq9LwZ4vB8nP3sD6fH1jC5yA0eQuIo"  # split so this file itself holds no token
    (folder / "settings.py").write_text(f'token = "{token}"\n')
    assert [f for f in scan_file(folder).findings if f.severity >= Severity.MEDIUM]  # a full scan flags the token...
    result = gate(folder)  # ...the gate does not refuse over it
    assert not [f for f in result.findings if f.rule_id.startswith(("BST-SEC", "BST-AI"))]


# -- TorchScript -------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def scripted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3)).eval()
    folder = tmp_path_factory.mktemp("ts")
    paths = {"script": folder / "scripted.pt", "trace": folder / "traced.pt", "whole": folder / "whole.pt"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.script(net).save(str(paths["script"]))
        torch.jit.trace(net, torch.zeros(1, 4)).save(str(paths["trace"]))
    torch.save(net, str(paths["whole"]))
    return paths


@pytest.mark.parametrize("kind", ["script", "trace", "whole"])
def test_torch_archives_scan_clean(scripted: dict[str, Path], kind: str) -> None:
    result = gate(scripted[kind])
    assert not [f for f in result.findings if f.rule_id == "BST-PKL-001"]
    assert not [f for f in result.findings if f.severity >= Severity.MEDIUM]


@pytest.mark.parametrize("payload", [
    b"ctorch.jit\nload\n(S'evil.pt'\ntR.",
    b"ctorch.jit._script\nRecursiveScriptModule\n(tR.",
    b"ctorch\njit.load\n(S'evil.pt'\ntR.",
], ids=["torch.jit.load", "jit-internals", "split-name"])
def test_pickles_calling_into_torch_jit_stay_critical(tmp_path: Path, payload: bytes) -> None:
    path = _write(tmp_path / "model.pkl", payload)
    with pytest.raises(UnsafeLoadError) as caught:
        gate(path)
    critical = [f for f in caught.value.result.findings if f.severity is Severity.CRITICAL]
    assert [f.rule_id for f in critical] == ["BST-PKL-001"]


def test_torchscript_list_builder_is_the_only_jit_exception(tmp_path: Path) -> None:
    builder = _write(tmp_path / "ok.pkl", b"ctorch.jit._pickle\nbuild_intlist\n((lp0\nI1\natR.")
    gate(builder)
    other = _write(tmp_path / "bad.pkl", b"ctorch.jit._pickle\nsomething_else\n((ltR.")
    with pytest.raises(UnsafeLoadError, match="BST-PKL-001"):
        gate(other)


def test_pickled_zip_member_inside_a_torch_archive_is_still_scanned(tmp_path: Path, scripted: dict[str, Path]) -> None:
    """A TorchScript archive whose data.pkl was swapped for a malicious pickle is refused."""
    import zipfile

    source = scripted["script"]
    target = tmp_path / "tampered.pt"
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w") as dst:
        for info in src.infolist():
            data: Any = src.read(info.filename)
            if info.filename.endswith("/data.pkl"):
                data = pickle.dumps(None, protocol=2)[:2] + MALICIOUS
            dst.writestr(info, data)
    with pytest.raises(UnsafeLoadError, match="BST-PKL-001"):
        gate(target)
