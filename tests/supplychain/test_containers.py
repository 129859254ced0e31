"""Bounds and containers: bombs, deep nesting, opcode and time budgets, encryption, names, paths and symlinks.

A bound reached makes the target ``incomplete`` (exit 2): "could not scan" is never a pass.
"""

from __future__ import annotations

import gzip
import io
import os
import pickle
import random
import struct
import tarfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from bastion.config import Limits, Settings
from bastion.findings import ScanResult, Severity, TargetStatus

ScanFile = Callable[..., ScanResult]

OS_SYSTEM = b"\x80\x04\x8c\x02os\x8c\x06system\x93\x8c\x02id\x85R."
BENIGN = pickle.dumps({"weights": [1.0, 2.0], "name": "tiny"}, protocol=4)


def _describe(result: ScanResult) -> str:
    found = "; ".join(f"{f.rule_id} {f.severity.label} {f.title} @{f.location.path}!{f.location.member}"
                      for f in result.findings)
    targets = "; ".join(f"{t.path} kind={t.kind} {t.status.value} {t.reason!r}" for t in result.targets)
    return f"{targets} :: {found or 'no findings'}"


def _zip(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in members.items():
            archive.writestr(zipfile.ZipInfo(name), data, compress_type=method)
    return buffer.getvalue()


def _only(result: ScanResult) -> tuple[Severity | None, TargetStatus, str]:
    assert len(result.targets) == 1, _describe(result)
    target = result.targets[0]
    return result.worst(), target.status, target.reason or ""


# ---- decompression and nesting bounds ----


def test_gzip_bomb_stops_at_the_bound(tmp_path: Path, scan_file: ScanFile) -> None:
    path = tmp_path / "weights.pkl.gz"
    path.write_bytes(gzip.compress(b"\0" * 50_000_000, 9))  # ~50 kB on disk
    started = time.monotonic()
    result = scan_file(path, Settings(limits=Limits(max_decompressed_bytes=10_000_000)))
    assert time.monotonic() - started < 10
    _, status, reason = _only(result)
    assert status is TargetStatus.INCOMPLETE and "exceeded" in reason, _describe(result)
    assert result.exit_code(Severity.MEDIUM) == 2


def test_zip_member_bomb_stops_at_the_bound(tmp_path: Path, scan_file: ScanFile) -> None:
    path = tmp_path / "bundle.zip"
    path.write_bytes(_zip({"zeros.bin": b"\0" * 50_000_000}))
    started = time.monotonic()
    result = scan_file(path, Settings(limits=Limits(max_decompressed_bytes=10_000_000)))
    assert time.monotonic() - started < 10
    _, status, _ = _only(result)
    assert status is TargetStatus.INCOMPLETE, _describe(result)
    assert result.exit_code(Severity.MEDIUM) == 2


def _overlapping_zip() -> bytes:
    """Two central-directory entries that point at the same local header: the core of a non-recursive zip bomb."""
    data = bytearray(_zip({"a.bin": b"\0" * 100_000, "b.bin": b"x"}))
    central = [i for i in range(len(data)) if data[i:i + 4] == b"PK\x01\x02"]
    first_offset = struct.unpack_from("<I", data, central[0] + 42)[0]
    struct.pack_into("<I", data, central[1] + 42, first_offset)  # b.bin now reuses a.bin's header and data
    return bytes(data)


def test_overlapping_zip_members_are_a_bomb_finding(tmp_path: Path, scan_file: ScanFile) -> None:
    path = tmp_path / "bundle.zip"
    path.write_bytes(_overlapping_zip())
    result = scan_file(path)
    bombs = [f for f in result.findings if f.rule_id == "BST-ARC-002"]
    assert len(bombs) == 1 and bombs[0].severity is Severity.HIGH, _describe(result)
    assert "a.bin" in bombs[0].title and "b.bin" in bombs[0].title


def test_ordinary_zip_has_no_overlap_finding(tmp_path: Path, scan_file: ScanFile) -> None:
    path = tmp_path / "bundle.zip"
    path.write_bytes(_zip({"a.bin": b"\0" * 100_000, "b.bin": b"x", "c.pkl": BENIGN}))
    result = scan_file(path)
    assert result.findings == (), _describe(result)


def test_nesting_deeper_than_max_depth(tmp_path: Path, scan_file: ScanFile) -> None:
    data = OS_SYSTEM
    for level in range(5):
        data = _zip({f"level{level}.bin" if level else "data.pkl": data})
    path = tmp_path / "deep.zip"
    path.write_bytes(data)
    result = scan_file(path, Settings(limits=Limits(max_depth=2)))
    _, status, reason = _only(result)
    assert status is TargetStatus.INCOMPLETE and "max_depth=2" in reason, _describe(result)
    assert result.exit_code(Severity.MEDIUM) == 2
    # with the default depth the payload at the bottom is found
    deep = scan_file(path)
    assert deep.exit_code(Severity.MEDIUM) == 1 and "BST-PKL-001" in {f.rule_id for f in deep.findings}


def test_too_many_members(tmp_path: Path, scan_file: ScanFile) -> None:
    path = tmp_path / "many.zip"
    path.write_bytes(_zip({f"m{i}.txt": b"x" for i in range(10)}))
    result = scan_file(path, Settings(limits=Limits(max_members=3)))
    _, status, _ = _only(result)
    assert status is TargetStatus.INCOMPLETE, _describe(result)
    assert result.exit_code(Severity.MEDIUM) == 2


# ---- pickle budgets ----


def test_max_opcodes_on_a_big_benign_pickle(tmp_path: Path, scan_file: ScanFile) -> None:
    path = tmp_path / "big.pkl"
    path.write_bytes(pickle.dumps(list(range(200_000)), protocol=4))  # ~200k opcodes
    result = scan_file(path, Settings(limits=Limits(max_opcodes=1000)))
    _, status, reason = _only(result)
    assert status is TargetStatus.INCOMPLETE and "opcodes" in reason, _describe(result)
    assert result.exit_code(Severity.MEDIUM) == 2
    assert scan_file(path).exit_code(Severity.MEDIUM) == 0


def test_max_opcodes_is_enforced_below_the_check_interval(tmp_path: Path, scan_file: ScanFile) -> None:
    path = tmp_path / "medium.pkl"
    path.write_bytes(pickle.dumps(list(range(20_000)), protocol=4))  # ~20k opcodes, 20x the bound
    result = scan_file(path, Settings(limits=Limits(max_opcodes=1000)))
    _, status, _ = _only(result)
    assert status is TargetStatus.INCOMPLETE, _describe(result)
    assert result.exit_code(Severity.MEDIUM) == 2


def test_tiny_timeout_makes_the_target_incomplete(tmp_path: Path, scan_file: ScanFile) -> None:
    path = tmp_path / "slow.pkl"
    path.write_bytes(pickle.dumps([[i, str(i)] for i in range(100_000)], protocol=4))
    started = time.monotonic()
    result = scan_file(path, Settings(limits=Limits(timeout_seconds=0.005)))
    assert time.monotonic() - started < 10
    _, status, reason = _only(result)
    assert status is TargetStatus.INCOMPLETE and "time limit" in reason, _describe(result)
    assert result.exit_code(Severity.MEDIUM) == 2


# ---- encryption, unrecognised content ----


def _set_encrypted_flag(data: bytes) -> bytes:
    out = bytearray(data)
    for signature, flag_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        pos = out.find(signature)
        while pos >= 0:
            out[pos + flag_at] |= 0x01
            pos = out.find(signature, pos + 4)
    return bytes(out)


def test_encrypted_member_is_incomplete(tmp_path: Path, scan_file: ScanFile) -> None:
    path = tmp_path / "secret.zip"
    path.write_bytes(_set_encrypted_flag(_zip({"weights.pkl": b"\x93\x11" * 64}, zipfile.ZIP_STORED)))
    with zipfile.ZipFile(path) as archive:
        assert archive.infolist()[0].flag_bits & 0x1
    result = scan_file(path)
    _, status, reason = _only(result)
    assert status is TargetStatus.INCOMPLETE and "encrypted" in reason, _describe(result)
    assert result.exit_code(Severity.MEDIUM) == 2


def _noise() -> bytes:
    data = random.Random(1234).randbytes(4096)
    return b"\x17" + data[1:]  # not a pickle opcode, not a known magic


def test_model_named_noise_is_incomplete(tmp_path: Path, scan_file: ScanFile) -> None:
    path = tmp_path / "model.pt"
    path.write_bytes(_noise())
    result = scan_file(path)
    _, status, reason = _only(result)
    assert status is TargetStatus.INCOMPLETE and "not a format Bastion recognises" in reason, _describe(result)
    assert result.targets[0].kind == "unrecognised"
    assert result.exit_code(Severity.MEDIUM) == 2


def test_other_noise_is_skipped(tmp_path: Path, scan_file: ScanFile) -> None:
    path = tmp_path / "data.xyz"
    path.write_bytes(_noise())
    result = scan_file(path)
    worst, status, _ = _only(result)
    assert status is TargetStatus.SKIPPED and worst is None, _describe(result)
    assert result.exit_code(Severity.MEDIUM) == 0


# ---- paths that escape ----


def test_zip_slip_member(tmp_path: Path, scan_file: ScanFile) -> None:
    path = tmp_path / "slip.zip"
    path.write_bytes(_zip({"../../evil.pkl": BENIGN}))
    result = scan_file(path)
    slips = [f for f in result.findings if f.rule_id == "BST-ARC-001"]
    assert slips and slips[0].severity >= Severity.HIGH and slips[0].location.member == "../../evil.pkl", \
        _describe(result)
    assert result.exit_code(Severity.MEDIUM) == 1


def test_tar_symlink_member_escapes(tmp_path: Path, scan_file: ScanFile) -> None:
    path = tmp_path / "links.tar"
    with tarfile.open(path, "w") as archive:
        link = tarfile.TarInfo("model/config.pkl")
        link.type = tarfile.SYMTYPE
        link.linkname = "/etc/passwd"
        archive.addfile(link)
        info = tarfile.TarInfo("model/weights.pkl")
        info.size = len(BENIGN)
        archive.addfile(info, io.BytesIO(BENIGN))
    result = scan_file(path)
    assert "BST-ARC-001" in {f.rule_id for f in result.findings}, _describe(result)
    assert result.exit_code(Severity.MEDIUM) == 1


needs_symlinks = pytest.mark.skipif(not hasattr(os, "symlink") or os.name == "nt", reason="needs POSIX symlinks")


@needs_symlinks
def test_symlink_out_of_the_root_is_not_followed(tmp_path: Path, scan_file: ScanFile) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "evil.pkl").write_bytes(OS_SYSTEM)
    root = tmp_path / "project"
    root.mkdir()
    (root / "weights.pkl").write_bytes(BENIGN)
    (root / "linked.pkl").symlink_to(outside / "evil.pkl")
    (root / "linked_dir").symlink_to(outside, target_is_directory=True)
    result = scan_file(root)
    by_name = {Path(t.path).name: t for t in result.targets}
    for name in ("linked.pkl", "linked_dir"):
        assert by_name[name].status is TargetStatus.SKIPPED, _describe(result)
        assert "outside" in (by_name[name].reason or ""), _describe(result)
    assert by_name["weights.pkl"].status is TargetStatus.SCANNED
    assert not result.findings, _describe(result)
    assert result.exit_code(Severity.MEDIUM) == 0


@needs_symlinks
def test_symlink_inside_the_root_is_scanned(tmp_path: Path, scan_file: ScanFile) -> None:
    root = tmp_path / "project"
    (root / "real").mkdir(parents=True)
    (root / "real" / "model.pkl").write_bytes(OS_SYSTEM)
    (root / "alias.pkl").symlink_to(root / "real" / "model.pkl")
    result = scan_file(root)
    by_name = {Path(t.path).name: t for t in result.targets}
    assert by_name["alias.pkl"].status is TargetStatus.SCANNED, _describe(result)
    assert by_name["alias.pkl"].kind == "pickle"
    flagged = {Path(f.location.path).name for f in result.findings if f.rule_id == "BST-PKL-001"}
    assert flagged == {"alias.pkl", "model.pkl"}, _describe(result)
    assert result.exit_code(Severity.MEDIUM) == 1


def test_struct_helper_sanity() -> None:
    """The encrypted-flag patcher touches only the flag fields (general purpose bit 0)."""
    plain = _zip({"a.txt": b"hello"}, zipfile.ZIP_STORED)
    patched = _set_encrypted_flag(plain)
    diff = [i for i, (x, y) in enumerate(zip(plain, patched, strict=True)) if x != y]
    assert len(diff) == 2
    assert struct.unpack_from("<H", patched, 6)[0] & 1


def test_text_starting_with_c_is_not_taken_for_a_protocol_0_pickle(tmp_path: Path, scan_file: ScanFile) -> None:
    # "c" is the GLOBAL opcode, but Python's unpickler could never import "hat_template:" - this is YAML, not a pickle.
    path = tmp_path / "config.yaml"
    path.write_text('chat_template:\n  "{{ config.__class__.__init__.__globals__[\'os\'] }}"\nname: x\n')
    result = scan_file(path)
    assert result.findings == () and result.targets[0].kind == "unknown", _describe(result)


def test_real_protocol_0_pickle_without_extension_is_still_recognised(tmp_path: Path, scan_file: ScanFile) -> None:
    path = tmp_path / "blob"
    path.write_bytes(b"cos\nsystem\n(S'id'\ntR.")
    result = scan_file(path)
    assert result.targets[0].kind == "pickle" and result.worst() is Severity.CRITICAL, _describe(result)


def test_protocol_0_payload_followed_by_garbage_is_still_a_pickle(tmp_path: Path, scan_file: ScanFile) -> None:
    # Python's unpickler calls os.system before it reaches the garbage, so the probe must accept this stream.
    path = tmp_path / "blob"
    path.write_bytes(b"cos\nsystem\n(S'id'\ntR" + b"\xff" * 40 + b"more text " * 100)
    result = scan_file(path)
    assert result.targets[0].kind == "pickle" and result.worst() is Severity.CRITICAL, _describe(result)
