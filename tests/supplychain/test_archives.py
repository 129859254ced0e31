"""Tests for bastion.supplychain.archives: bounded, lenient readers for zip, tar, 7z and single streams.

Every sample is built here, in memory or in tmp_path. The picklescan samples, when present, are read
as bytes only and never unpickled.
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import io
import lzma
import mmap
import os
import pickletools
import stat
import struct
import tarfile
import time
import tracemalloc
import warnings
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import py7zr
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bastion.supplychain.archives import (
    ArchiveError,
    ArchiveLimits,
    ByteBudget,
    LimitExceeded,
    Member,
    decompress,
    iter_7z,
    iter_tar,
    iter_zip,
    read_zip_member,
    sniff_compression,
)

MiB = 1024**2
PICKLESCAN = Path("/work/shared/data/models/picklescan-tests")
PICKLE = b"\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00\x8c\x08builtins\x94."  # bytes only, never loaded
SMALL = ArchiveLimits(max_members=64, max_member_bytes=2 * MiB, max_total_bytes=4 * MiB, max_ratio=200.0)
PICKLE_OPCODES = frozenset(op.code.encode("latin-1")[0] for op in pickletools.opcodes)


# --- helpers ------------------------------------------------------------------------------------


def make_zip(entries: list[tuple[str, bytes]], compression: int = zipfile.ZIP_DEFLATED, **kwargs: object) -> bytes:
    out = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names warn; they are the point of some tests
        with zipfile.ZipFile(out, "w", compression=compression, **kwargs) as archive:  # type: ignore[arg-type]
            for name, data in entries:
                archive.writestr(name, data)
    return out.getvalue()


def read_all(buf: bytes | bytearray | memoryview | mmap.mmap, limits: ArchiveLimits = SMALL) -> list[tuple[str, bytes]]:
    return [(m.name, bytes(read_zip_member(buf, m, limits))) for m in iter_zip(buf, limits)]


def offsets(data: bytes, sig: bytes) -> list[int]:
    found, pos = [], data.find(sig)
    while pos >= 0:
        found.append(pos)
        pos = data.find(sig, pos + 1)
    return found


def set_flags(data: bytes, bits: int) -> bytes:
    """OR ``bits`` into the general purpose flags of every local (offset 6) and central (offset 8) header."""
    raw = bytearray(data)
    for pos in offsets(data, b"PK\x03\x04"):
        raw[pos + 6 : pos + 8] = struct.pack("<H", struct.unpack_from("<H", raw, pos + 6)[0] | bits)
    for pos in offsets(data, b"PK\x01\x02"):
        raw[pos + 8 : pos + 10] = struct.pack("<H", struct.unpack_from("<H", raw, pos + 8)[0] | bits)
    return bytes(raw)


def central_start(data: bytes) -> int:
    return offsets(data, b"PK\x01\x02")[0]


class Unseekable(io.RawIOBase):
    """Write-only stream without tell/seek, which makes zipfile use data descriptors (flag 0x8)."""

    def __init__(self) -> None:
        super().__init__()
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, b: object) -> int:
        chunk = bytes(b)  # type: ignore[call-overload]
        self.data += chunk
        return len(chunk)


def craft_zip64(members: list[tuple[bytes, bytes]], prefix: bytes = b"") -> bytes:
    """Stored members whose sizes and offsets all live in zip64 extras, closed by a zip64 end record.

    Offsets are recorded relative to the start of the zip, so ``prefix`` acts like a self-extractor stub.
    """
    body, central = bytearray(), bytearray()
    for name, data in members:
        offset, crc, size = len(body), zlib.crc32(data), len(data)
        local_extra = struct.pack("<HHQQ", 1, 16, size, size)
        body += struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 45, 0, 0, 0, 0x21, crc, 0xFFFFFFFF, 0xFFFFFFFF,
                            len(name), len(local_extra)) + name + local_extra + data
        extra = struct.pack("<HHQQQ", 1, 24, size, size, offset)
        central += struct.pack("<4sBBHHHHHIIIHHHHHII", b"PK\x01\x02", 45, 3, 45, 0, 0, 0, 0x21, crc, 0xFFFFFFFF,
                               0xFFFFFFFF, len(name), len(extra), 0, 0, 0, 0o100644 << 16, 0xFFFFFFFF) + name + extra
    cd_offset = len(body)
    body += central
    record = len(body)
    count = len(members)
    body += struct.pack("<4sQHHIIQQQQ", b"PK\x06\x06", 44, 45, 45, 0, 0, count, count, len(central), cd_offset)
    body += struct.pack("<4sIQI", b"PK\x06\x07", 0, record, 1)
    body += struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    return prefix + bytes(body)


def make_tar(add: Callable[[tarfile.TarFile], None]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as archive:
        add(archive)
    return out.getvalue()


def add_file(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    archive.addfile(info, io.BytesIO(data))


def add_link(archive: tarfile.TarFile, name: str, target: str, kind: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    archive.addfile(info)


def tar_contents(buf: bytes, limits: ArchiveLimits = SMALL) -> list[tuple[Member, bytes]]:
    return [(member, read()) for member, read in iter_tar(buf, limits)]


def make_7z(path: Path, entries: list[tuple[str, bytes]], **kwargs: object) -> bytes:
    with py7zr.SevenZipFile(path, "w", **kwargs) as archive:  # type: ignore[arg-type]
        for name, data in entries:
            archive.writestr(data, name)
    return path.read_bytes()


def zeros_deflated(total: int, wbits: int = -15) -> bytes:
    """Compress ``total`` zero bytes without ever holding them all in memory."""
    packer = zlib.compressobj(9, zlib.DEFLATED, wbits)
    block = bytes(MiB)
    parts = [packer.compress(block) for _ in range(total // MiB)]
    return b"".join(parts) + packer.flush()


# --- zip: normal archives -----------------------------------------------------------------------


@pytest.mark.parametrize("method", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
def test_zip_round_trip(method: int) -> None:
    entries = [("archive/data.pkl", PICKLE), ("archive/data/0", os.urandom(5000)), ("empty", b"")]
    data = make_zip(entries, compression=method)
    assert read_all(data) == entries
    names = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate", zipfile.ZIP_BZIP2: "bzip2"}
    assert {m.method for m in iter_zip(data)} == {names.get(method, "lzma")}


def test_zip_member_fields() -> None:
    data = make_zip([("dir/", b""), ("dir/a.bin", b"abc")], compression=zipfile.ZIP_STORED)
    members = list(iter_zip(data))
    assert [m.name for m in members] == ["dir/", "dir/a.bin"]
    assert members[0].is_dir and not members[1].is_dir
    member = members[1]
    assert (member.size, member.compressed_size, member.encrypted, member.is_link) == (3, 3, False, False)
    assert data[member.offset : member.offset + 3] == b"abc"


def test_zip_stored_member_is_zero_copy_view() -> None:
    data = make_zip([("weights.bin", b"w" * 10_000)], compression=zipfile.ZIP_STORED)
    member = next(iter_zip(data))
    view = read_zip_member(data, member, SMALL)
    assert isinstance(view, memoryview) and view.readonly
    assert view.obj is data  # a slice of the caller's buffer, not a copy


def test_zip_from_mmap_is_not_copied(tmp_path: Path) -> None:
    payload = os.urandom(MiB) * 48
    path = tmp_path / "big.zip"
    path.write_bytes(make_zip([("data.pkl", PICKLE), ("data/0", payload)], compression=zipfile.ZIP_STORED))
    with path.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        tracemalloc.start()
        try:
            members = list(iter_zip(mapped))
            views = [read_zip_member(mapped, m, ArchiveLimits()) for m in members]
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 4 * MiB
        assert bytes(views[0]) == PICKLE and len(views[1]) == len(payload)
        assert views[1][:16] == payload[:16]
        del views


def test_zip_symlink_entry_is_reported() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        info = zipfile.ZipInfo("link")
        info.create_system = 3
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(info, "../../etc/passwd")
    member = next(iter_zip(out.getvalue()))
    assert member.is_link and member.link_target == "../../etc/passwd"


def test_zip_utf8_and_cp437_names() -> None:
    data = make_zip([("données.pkl", b"x")])  # zipfile sets flag bit 11 for non-ascii names
    assert next(iter_zip(data)).name == "données.pkl"
    raw = bytearray(set_flags(data, 0))
    for pos in offsets(data, b"PK\x01\x02"):  # clear bit 11 in the central header: name is now cp437
        raw[pos + 9] &= ~0x08
    assert next(iter_zip(bytes(raw))).name == "données.pkl".encode().decode("cp437")


def test_zip_zstd_member() -> None:
    zstd = pytest.importorskip("backports.zstd")
    payload = b"zstd payload " * 1000
    packed = zstd.compress(payload)
    data = bytearray(make_zip([("z.bin", packed)], compression=zipfile.ZIP_STORED))
    for pos, field in [(offsets(bytes(data), b"PK\x03\x04")[0], 8), (central_start(bytes(data)), 10)]:
        data[pos + field : pos + field + 2] = struct.pack("<H", 93)
    member = next(iter_zip(bytes(data)))
    assert member.method == "zstd"
    assert bytes(read_zip_member(bytes(data), member, SMALL)) == payload


def test_zip_unknown_method_raises_archive_error() -> None:
    data = bytearray(make_zip([("a", b"abc")], compression=zipfile.ZIP_STORED))
    cd = central_start(bytes(data))
    data[cd + 10 : cd + 12] = struct.pack("<H", 99)
    member = next(iter_zip(bytes(data)))
    assert member.method == "unknown:99"
    with pytest.raises(ArchiveError, match="unsupported compression method"):
        read_zip_member(bytes(data), member, SMALL)


# --- zip: leniency ------------------------------------------------------------------------------


def test_zip_crc_mismatch_is_ignored() -> None:
    data = bytearray(make_zip([("data.pkl", PICKLE * 10)]))
    for pos, field in [(offsets(bytes(data), b"PK\x03\x04")[0], 14), (central_start(bytes(data)), 16)]:
        data[pos + field : pos + field + 4] = b"\xde\xad\xbe\xef"
    with pytest.raises(zipfile.BadZipFile):
        zipfile.ZipFile(io.BytesIO(bytes(data))).read("data.pkl")
    assert read_all(bytes(data)) == [("data.pkl", PICKLE * 10)]


def test_zip_local_and_central_names_differ() -> None:
    data = bytearray(make_zip([("data.pkl", PICKLE)]))
    local = offsets(bytes(data), b"PK\x03\x04")[0]
    data[local + 30 : local + 38] = b"datap.kl"
    assert read_all(bytes(data)) == [("data.pkl", PICKLE)]


def test_zip_local_extra_length_differs_from_central() -> None:
    """The data offset must come from the local header's own name and extra lengths."""
    plain = make_zip([("data.pkl", PICKLE)], compression=zipfile.ZIP_STORED)
    local_end = 30 + len("data.pkl")
    extra = struct.pack("<HH", 0xCAFE, 6) + b"padpad"
    data = bytearray(plain[:local_end] + extra + plain[local_end:])
    data[28:30] = struct.pack("<H", len(extra))
    cd = central_start(bytes(data))
    data[cd + 42 : cd + 46] = struct.pack("<I", 0)
    eocd = offsets(bytes(data), b"PK\x05\x06")[-1]
    data[eocd + 16 : eocd + 20] = struct.pack("<I", cd)
    assert read_all(bytes(data)) == [("data.pkl", PICKLE)]


@pytest.mark.parametrize("bits", [0x8, 0x20, 0x40, 0x20 | 0x40, 0x2 | 0x4 | 0x10 | 0x1000 | 0x4000])
def test_zip_odd_flag_bits_are_tolerated(bits: int) -> None:
    data = set_flags(make_zip([("model/config.pkl", PICKLE), ("other", b"x" * 100)]), bits)
    assert read_all(data) == [("model/config.pkl", PICKLE), ("other", b"x" * 100)]
    assert not any(m.encrypted for m in iter_zip(data))


def test_zip_encrypted_flag_is_reported_and_data_not_decrypted() -> None:
    data = set_flags(make_zip([("model/config.pkl", PICKLE)], compression=zipfile.ZIP_STORED), 0x1)
    member = next(iter_zip(data))
    assert member.encrypted
    # The bit is not trusted (loaders ignore it): stored bytes come back exactly as they are.
    assert bytes(read_zip_member(data, member, SMALL)) == PICKLE


def test_zip_really_encrypted_deflate_member_raises_archive_error() -> None:
    ciphertext = bytes(range(7, 250)) * 4  # not a valid deflate stream, like real ZipCrypto output
    data = bytearray(set_flags(make_zip([("secret.txt", ciphertext)], compression=zipfile.ZIP_STORED), 0x1))
    for pos, field in [(offsets(bytes(data), b"PK\x03\x04")[0], 8), (central_start(bytes(data)), 10)]:
        data[pos + field : pos + field + 2] = struct.pack("<H", 8)
    member = next(iter_zip(bytes(data)))
    assert member.encrypted and member.method == "deflate"
    with pytest.raises(ArchiveError, match="encrypted"):
        read_zip_member(bytes(data), member, SMALL)


def test_zip_without_central_directory_falls_back_to_local_headers() -> None:
    entries = [("a.pkl", PICKLE), ("b.bin", os.urandom(3000)), ("a.pkl", b"second")]
    data = make_zip(entries)
    truncated = data[: central_start(data)]
    assert read_all(truncated) == entries


def test_zip_with_corrupt_central_directory_falls_back() -> None:
    entries = [("data.pkl", PICKLE), ("data/0", b"0" * 500)]
    data = bytearray(make_zip(entries))
    cd = central_start(bytes(data))
    data[cd : cd + 4] = b"JUNK"
    assert read_all(bytes(data)) == entries


def test_zip_short_central_directory_gets_missing_members_from_local_scan() -> None:
    entries = [("first", b"1" * 40), ("hidden.pkl", PICKLE)]
    data = bytearray(make_zip(entries, compression=zipfile.ZIP_STORED))
    second = offsets(bytes(data), b"PK\x01\x02")[1]
    data[second : second + 4] = b"XXXX"  # the directory now breaks after its first entry
    assert read_all(bytes(data)) == entries


def test_zip_local_walk_skips_over_a_stored_inner_zip() -> None:
    inner = make_zip([("inner.pkl", PICKLE)], compression=zipfile.ZIP_STORED)
    outer = make_zip([("nested.zip", inner), ("after", b"x")], compression=zipfile.ZIP_STORED)
    outer_directory = struct.unpack_from("<I", outer, offsets(outer, b"PK\x05\x06")[-1] + 16)[0]
    cut = outer[:outer_directory]
    with zipfile.ZipFile(io.BytesIO(cut)) as archive:  # zipfile now finds the inner directory and reads that
        assert archive.namelist() == ["inner.pkl"]
    # The scanner reports what zipfile sees, then the outer members that only the local headers show.
    assert read_all(cut) == [("inner.pkl", PICKLE), ("nested.zip", inner), ("after", b"x")]


def test_zip_local_walk_recovers_from_an_impossible_size() -> None:
    data = bytearray(make_zip([("first", b"1" * 100), ("data.pkl", PICKLE)], compression=zipfile.ZIP_STORED))
    data[18:22] = struct.pack("<I", 0x7FFFFFFF)  # first local header's compressed size
    members = list(iter_zip(bytes(data[: central_start(bytes(data))])))
    assert [m.name for m in members] == ["first", "data.pkl"]
    assert bytes(read_zip_member(bytes(data), members[1], SMALL)) == PICKLE


def test_zip_members_hidden_from_the_central_directory_are_listed() -> None:
    """A streaming reader (local headers) would see 'hidden.pkl'; zipfile would not. Report both views."""
    data = make_zip([("shown", b"benign"), ("hidden.pkl", PICKLE)], compression=zipfile.ZIP_STORED)
    cd, eocd = central_start(data), offsets(data, b"PK\x05\x06")[-1]
    first_entry = data[cd : cd + 46 + len("shown")]
    doctored = bytearray(data[:cd] + first_entry + data[eocd:])
    end = len(doctored) - 22
    doctored[end + 8 : end + 16] = struct.pack("<HHI", 1, 1, len(first_entry))
    with zipfile.ZipFile(io.BytesIO(bytes(doctored))) as archive:
        assert archive.namelist() == ["shown"]
    assert read_all(bytes(doctored)) == [("shown", b"benign"), ("hidden.pkl", PICKLE)]


def test_zip_data_descriptors_without_central_directory() -> None:
    sink = Unseekable()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("data.pkl", PICKLE)
        with archive.open("blob", "w") as handle:
            handle.write(b"blob" * 5000)
        archive.writestr("stored.bin", b"stored-data", compress_type=zipfile.ZIP_STORED)
    full = bytes(sink.data)
    assert all(struct.unpack_from("<H", full, pos + 6)[0] & 0x8 for pos in offsets(full, b"PK\x03\x04"))
    expected = [("data.pkl", PICKLE), ("blob", b"blob" * 5000), ("stored.bin", b"stored-data")]
    assert read_all(full) == expected
    # Local headers say size 0: the walk has to find where each member's data ends.
    assert read_all(full[: central_start(full)]) == expected


def test_zip64_from_zipfile_force_zip64() -> None:
    out = io.BytesIO()
    with (
        zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive,
        archive.open("big.bin", "w", force_zip64=True) as handle,
    ):
        handle.write(b"z" * 70_000)
    data = out.getvalue()
    assert read_all(data) == [("big.bin", b"z" * 70_000)]
    assert read_all(data[: central_start(data)]) == [("big.bin", b"z" * 70_000)]  # local zip64 extra


@pytest.mark.parametrize("prefix", [b"", b"#!/bin/sh\nexit 0\n" + os.urandom(3000)])
def test_zip64_end_record_and_extras(prefix: bytes) -> None:
    data = craft_zip64([(b"data.pkl", PICKLE), (b"data/0", b"tensor" * 100)], prefix)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:  # the crafted file is a valid zip64 archive
        assert archive.read("data/0") == b"tensor" * 100
    members = list(iter_zip(data))
    assert [(m.name, m.size, m.compressed_size) for m in members] == [("data.pkl", len(PICKLE), len(PICKLE)),
                                                                       ("data/0", 600, 600)]
    assert read_all(data) == [("data.pkl", PICKLE), ("data/0", b"tensor" * 100)]


def test_zip_with_prepended_data() -> None:
    entries = [("data.pkl", PICKLE), ("x", b"y" * 1000)]
    data = b"MZ" + os.urandom(10_000) + make_zip(entries)
    assert read_all(data) == entries
    assert all(data[m.offset - 30 - len(m.name) : m.offset].startswith(b"PK\x03\x04") for m in iter_zip(data))


def test_zip_with_comment_and_trailing_bytes() -> None:
    entries = [("data.pkl", PICKLE)]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.comment = b"PK\x05\x06 looks like an end record but is only a comment"
        archive.writestr(*entries[0])
    assert read_all(out.getvalue() + b"trailing garbage" * 50) == entries


def test_zip_duplicate_names_are_all_yielded() -> None:
    entries = [("data.pkl", b"harmless"), ("data/0", b"t"), ("data.pkl", PICKLE)]
    data = make_zip(entries)
    assert read_all(data) == entries


def test_zip_empty_archive() -> None:
    assert read_all(make_zip([])) == []


# --- zip: bounds --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def deflate_bomb() -> bytes:
    packed = zeros_deflated(200 * MiB)
    name = b"bomb.bin"
    header = struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, 8, 0, 0x21, 0, len(packed), 200 * MiB, len(name), 0)
    central = struct.pack("<4sBBHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 3, 20, 0, 8, 0, 0x21, 0, len(packed), 200 * MiB,
                          len(name), 0, 0, 0, 0, 0, 0)
    body = header + name + packed
    eocd = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 1, 1, len(central) + len(name), len(body), 0)
    return body + central + name + eocd


def test_deflate_bomb_stops_at_member_bound_quickly(deflate_bomb: bytes) -> None:
    limits = ArchiveLimits(max_member_bytes=8 * MiB, max_ratio=1e9)
    member = next(iter_zip(deflate_bomb, limits))
    assert member.size == 200 * MiB
    tracemalloc.start()
    started = time.monotonic()
    try:
        # Declared size over the bound: refused before a byte is inflated.
        with pytest.raises(LimitExceeded, match=r"max_member_bytes.*declared size"):
            read_zip_member(deflate_bomb, member, limits)
        # A lying central directory: inflation itself stops at the bound.
        lying = Member(**{**member.__dict__, "size": 10})
        with pytest.raises(LimitExceeded, match="max_member_bytes"):
            read_zip_member(deflate_bomb, lying, limits)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.monotonic() - started < 5
    assert peak < 32 * MiB


def test_deflate_bomb_hits_total_and_ratio_bounds(deflate_bomb: bytes) -> None:
    member = next(iter_zip(deflate_bomb))
    undeclared = Member(**{**member.__dict__, "size": 10})  # a lying central directory
    with pytest.raises(LimitExceeded, match="max_total_bytes"):
        read_zip_member(deflate_bomb, undeclared, ArchiveLimits(max_total_bytes=4 * MiB, max_ratio=1e9))
    with pytest.raises(LimitExceeded, match="max_ratio"):
        read_zip_member(deflate_bomb, undeclared, ArchiveLimits(max_ratio=20.0))


def test_budget_spans_several_members() -> None:
    data = make_zip([(f"m{i}", bytes(MiB)) for i in range(3)])
    limits = ArchiveLimits(max_total_bytes=2 * MiB + 10, max_ratio=1e6)
    budget = ByteBudget(limits)
    members = list(iter_zip(data, limits))
    read_zip_member(data, members[0], limits, budget)
    read_zip_member(data, members[1], limits, budget)
    with pytest.raises(LimitExceeded, match="max_total_bytes"):
        read_zip_member(data, members[2], limits, budget)


def test_bzip2_zip_member_is_bounded() -> None:
    data = make_zip([("zeros", bytes(20 * MiB))], compression=zipfile.ZIP_BZIP2)
    member = next(iter_zip(data))
    undeclared = Member(**{**member.__dict__, "size": 1})
    with pytest.raises(LimitExceeded):
        read_zip_member(data, undeclared, ArchiveLimits(max_member_bytes=MiB, max_ratio=1e9))


def test_zip_member_count_bound() -> None:
    data = make_zip([(f"f{i}", b"") for i in range(20)])
    with pytest.raises(LimitExceeded, match="max_members"):
        list(iter_zip(data, ArchiveLimits(max_members=10)))
    with pytest.raises(LimitExceeded, match="max_members"):
        list(iter_zip(data[: central_start(data)], ArchiveLimits(max_members=10)))


def test_zip_declared_size_bound() -> None:
    data = make_zip([("big", b"x" * 5000)], compression=zipfile.ZIP_STORED)
    member = next(iter_zip(data))
    with pytest.raises(LimitExceeded, match="max_member_bytes"):
        read_zip_member(data, member, ArchiveLimits(max_member_bytes=1000))


# --- zip: malformed input -----------------------------------------------------------------------


@pytest.mark.parametrize("data", [b"", b"PK", b"not a zip at all" * 100, os.urandom(4096), b"PK\x05\x06" + bytes(10)])
def test_zip_garbage_raises_archive_error(data: bytes) -> None:
    with pytest.raises(ArchiveError):
        for member in iter_zip(data, SMALL):
            read_zip_member(data, member, SMALL)


def test_zip_truncated_member_data_raises_archive_error() -> None:
    data = make_zip([("a", os.urandom(5000))], compression=zipfile.ZIP_STORED)
    cut = data[:2000]
    members = list(iter_zip(cut))
    assert [m.name for m in members] == ["a"]
    with pytest.raises(ArchiveError, match="past the end"):
        read_zip_member(cut, members[0], SMALL)
    deflated = make_zip([("a", os.urandom(5000))])
    cut = deflated[:2000]
    with pytest.raises(ArchiveError, match="truncated"):
        read_zip_member(cut, next(iter_zip(cut)), SMALL)


def test_zip_missing_local_header_raises_archive_error() -> None:
    data = bytearray(make_zip([("a", b"abc")]))
    data[0:4] = b"XXXX"
    member = next(iter_zip(bytes(data)))
    assert member.offset == -1
    with pytest.raises(ArchiveError, match="local file header"):
        read_zip_member(bytes(data), member, SMALL)


# --- tar ----------------------------------------------------------------------------------------


def test_tar_round_trip_and_fields() -> None:
    payload = os.urandom(3000)

    def add(archive: tarfile.TarFile) -> None:
        add_file(archive, "model/data.pkl", PICKLE)
        add_file(archive, "model/weights.bin", payload)
        info = tarfile.TarInfo("model/sub")
        info.type = tarfile.DIRTYPE
        archive.addfile(info)

    data = make_tar(add)
    got = tar_contents(data)
    assert [(m.name, content) for m, content in got] == [
        ("model/data.pkl", PICKLE), ("model/weights.bin", payload), ("model/sub", b"")]
    member = got[1][0]
    assert (member.method, member.size, member.is_dir, member.is_link) == ("tar", 3000, False, False)
    assert data[member.offset : member.offset + 3000] == payload
    assert got[2][0].is_dir


def test_tar_reports_traversal_names_and_links() -> None:
    def add(archive: tarfile.TarFile) -> None:
        add_file(archive, "../evil.pkl", PICKLE)
        add_file(archive, "/abs/path", b"abs")
        add_link(archive, "sym", "../../etc/passwd", tarfile.SYMTYPE)
        add_link(archive, "hard", "../evil.pkl", tarfile.LNKTYPE)

    got = tar_contents(make_tar(add))
    assert [m.name for m, _ in got] == ["../evil.pkl", "/abs/path", "sym", "hard"]
    assert got[0][1] == PICKLE
    links = {m.name: (m.is_link, m.link_target, content) for m, content in got[2:]}
    assert links == {"sym": (True, "../../etc/passwd", b""), "hard": (True, "../evil.pkl", b"")}
    assert not got[0][0].is_link


def test_tar_readers_work_after_iteration_and_duplicates_are_kept() -> None:
    def add(archive: tarfile.TarFile) -> None:
        add_file(archive, "data.pkl", b"first")
        add_file(archive, "data.pkl", PICKLE)

    pairs = list(iter_tar(make_tar(add), SMALL))
    assert [read() for _, read in reversed(pairs)] == [PICKLE, b"first"]


def test_tar_bounds() -> None:
    def add(archive: tarfile.TarFile) -> None:
        for index in range(8):
            add_file(archive, f"f{index}", bytes(600_000))

    data = make_tar(add)
    with pytest.raises(LimitExceeded, match="max_members"):
        tar_contents(data, ArchiveLimits(max_members=5))
    with pytest.raises(LimitExceeded, match="max_member_bytes"):
        tar_contents(data, ArchiveLimits(max_member_bytes=100_000))
    with pytest.raises(LimitExceeded, match="max_total_bytes"):
        tar_contents(data, ArchiveLimits(max_total_bytes=2 * MiB))
    listed = [member.name for member, _ in iter_tar(data, ArchiveLimits(max_member_bytes=1))]
    assert len(listed) == 8  # listing alone never reads data


def test_compressed_tar_via_decompress() -> None:
    data = make_tar(lambda archive: add_file(archive, "data.pkl", PICKLE))
    for kind, packed in [("gzip", gzip.compress(data)), ("bz2", bz2.compress(data)), ("xz", lzma.compress(data))]:
        assert sniff_compression(packed) == kind
        inner = decompress(kind, packed, 10 * MiB)
        assert sniff_compression(inner) == "tar"
        assert [(m.name, content) for m, content in tar_contents(inner)] == [("data.pkl", PICKLE)]


@pytest.mark.parametrize("data", [b"", b"\x00" * 10, os.urandom(2048), b"x" * 512])
def test_tar_garbage_raises_archive_error(data: bytes) -> None:
    with pytest.raises(ArchiveError):
        tar_contents(data)


def test_tar_truncated_member_raises_archive_error() -> None:
    data = make_tar(lambda archive: add_file(archive, "big", os.urandom(10_000)))
    with pytest.raises(ArchiveError):
        tar_contents(data[:3000])


# --- 7z -----------------------------------------------------------------------------------------


def test_7z_round_trip(tmp_path: Path) -> None:
    entries = [("data.pkl", PICKLE), ("dir/weights.bin", os.urandom(20_000)), ("empty", b""), ("data.pkl", b"dup")]
    data = make_7z(tmp_path / "a.7z", entries)
    assert sniff_compression(data) == "7z"
    got = [(m.name, read()) for m, read in iter_7z(data, SMALL)]
    assert got == entries
    assert {m.method for m, _ in iter_7z(data, SMALL)} == {"7z"}


def test_7z_symlink_and_directory(tmp_path: Path) -> None:
    (tmp_path / "target.txt").write_text("hello")
    (tmp_path / "link").symlink_to("target.txt")
    (tmp_path / "d").mkdir()
    with py7zr.SevenZipFile(tmp_path / "l.7z", "w") as archive:
        archive.write(tmp_path / "target.txt", "target.txt")
        archive.write(tmp_path / "link", "link")
        archive.write(tmp_path / "d", "d")
    members = {m.name: m for m, _ in iter_7z((tmp_path / "l.7z").read_bytes(), SMALL)}
    assert members["link"].is_link and members["link"].link_target == "target.txt"
    assert members["d"].is_dir and not members["target.txt"].is_link


def test_7z_unsafe_member_name_is_still_read(tmp_path: Path) -> None:
    """py7zr's own extract refuses '../' names; the scanner must still see the data."""
    path = tmp_path / "evil.7z"
    with py7zr.SevenZipFile(path, "w") as archive:
        archive.set_encoded_header_mode(False)  # plain header, so the name can be patched below
        archive.writestr(PICKLE, "xx/evil.pkl")
    raw = bytearray(path.read_bytes())
    at = raw.find("xx/evil.pkl".encode("utf-16-le"))
    raw[at : at + 4] = "..".encode("utf-16-le")
    next_offset, next_size = struct.unpack_from("<QQ", raw, 12)
    header = bytes(raw[32 + next_offset : 32 + next_offset + next_size])
    raw[28:32] = struct.pack("<I", zlib.crc32(header))
    raw[8:12] = struct.pack("<I", zlib.crc32(bytes(raw[12:32])))
    assert [(m.name, read()) for m, read in iter_7z(bytes(raw), SMALL)] == [("../evil.pkl", PICKLE)]


def test_7z_declared_sizes_checked_before_decoding(tmp_path: Path) -> None:
    data = make_7z(tmp_path / "z.7z", [("zeros", bytes(8 * MiB)), ("b", b"x")])
    with pytest.raises(LimitExceeded, match="max_member_bytes"):
        next(iter_7z(data, ArchiveLimits(max_member_bytes=MiB)))
    with pytest.raises(LimitExceeded, match="max_total_bytes"):
        next(iter_7z(data, ArchiveLimits(max_total_bytes=MiB)))
    with pytest.raises(LimitExceeded, match="max_ratio"):
        next(iter_7z(data, ArchiveLimits(max_ratio=10.0)))
    with pytest.raises(LimitExceeded, match="max_members"):
        next(iter_7z(data, ArchiveLimits(max_members=1)))
    assert len(list(iter_7z(data, ArchiveLimits(max_ratio=1e9)))) == 2


@pytest.mark.parametrize("header_encryption", [False, True])
def test_7z_encrypted_raises_archive_error(tmp_path: Path, header_encryption: bool) -> None:
    data = make_7z(tmp_path / "e.7z", [("s.txt", b"secret")], password="pw", header_encryption=header_encryption)
    with pytest.raises(ArchiveError, match="encrypted"):
        list(iter_7z(data, SMALL))


def test_7z_garbage_and_truncation_raise_archive_error(tmp_path: Path) -> None:
    data = make_7z(tmp_path / "t.7z", [("a", os.urandom(50_000))])
    for bad in [b"", b"7z\xbc\xaf\x27\x1c", data[:100], data[: len(data) // 2], os.urandom(500)]:
        with pytest.raises(ArchiveError):
            list(iter_7z(bad, SMALL))
    corrupt = bytearray(data)
    corrupt[40:60] = bytes(20)
    with pytest.raises(ArchiveError):
        list(iter_7z(bytes(corrupt), SMALL))


# --- single streams -----------------------------------------------------------------------------


PAYLOAD = b"model weights " * 5000
STREAMS = {
    "gzip": gzip.compress(PAYLOAD),
    "bz2": bz2.compress(PAYLOAD),
    "xz": lzma.compress(PAYLOAD),
    "lzma": lzma.compress(PAYLOAD, format=lzma.FORMAT_ALONE),
    "zlib": zlib.compress(PAYLOAD),
}


@pytest.mark.parametrize("kind", sorted(STREAMS))
def test_decompress_round_trip_and_sniff(kind: str) -> None:
    packed = STREAMS[kind]
    assert sniff_compression(packed) == kind
    assert decompress(kind, packed, len(PAYLOAD)) == PAYLOAD
    assert decompress(kind, memoryview(packed), len(PAYLOAD)) == PAYLOAD
    with pytest.raises(LimitExceeded, match="max_bytes"):
        decompress(kind, packed, len(PAYLOAD) - 1)


@pytest.mark.parametrize("kind", sorted(STREAMS))
def test_decompress_truncated_or_garbage_raises_archive_error(kind: str) -> None:
    packed = STREAMS[kind]
    for bad in [b"", packed[: len(packed) // 2], packed[:6] + os.urandom(200)]:
        with pytest.raises(ArchiveError):
            decompress(kind, bad, 10 * MiB)


def test_decompress_concatenated_gzip_members_and_trailing_padding() -> None:
    packed = gzip.compress(b"one") + gzip.compress(b"two") + bytes(16)
    assert decompress("gzip", packed, 100) == b"onetwo"


def test_decompress_gzip_bomb_is_bounded() -> None:
    packed = zeros_deflated(200 * MiB, wbits=31)
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(LimitExceeded):
            decompress("gzip", packed, 4 * MiB)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.monotonic() - started < 5 and peak < 16 * MiB


def test_decompress_unknown_kind() -> None:
    with pytest.raises(ValueError):
        decompress("rar", b"", 10)


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"PK\x03\x04rest", "zip"),
        (b"PK\x05\x06" + bytes(18), "zip"),
        (b"PK\x07\x08rest", "zip"),
        (b"7z\xbc\xaf\x27\x1c\x00\x04", "7z"),
        (b"\x1f\x8b\x08\x00", "gzip"),
        (b"BZh91AY&SY", "bz2"),
        (b"BZh0", None),
        (b"\xfd7zXZ\x00\x00", "xz"),
        (bytes(257) + b"ustar\x0000", "tar"),
        (bytes(257) + b"ustar  \x00", "tar"),
        (b"\x78\x9c\x01\x02", "zlib"),
        (b"\x78\x01", "zlib"),
        (b"\x78\xda", "zlib"),
        (b"\x78\x9d", None),
        (b"\x80\x04\x95", None),
        (b"", None),
        (b"\x5d\x00\x00\x80\x00" + b"\xff" * 8, "lzma"),
        (b"\x5d\x00\x00\x01\x00" + struct.pack("<Q", 1234), "lzma"),
        (b"\x5d\x12\x34\x56\x78" + b"\xff" * 8, None),
    ],
)
def test_sniff_compression(head: bytes, expected: str | None) -> None:
    assert sniff_compression(head) == expected


# --- fuzzing: only ArchiveError may escape -------------------------------------------------------


FUZZ_LIMITS = ArchiveLimits(max_members=50, max_member_bytes=MiB, max_total_bytes=2 * MiB, max_ratio=50.0)
VALID_ZIP = make_zip([("data.pkl", PICKLE), ("data/0", b"abc" * 300), ("s", b"stored")])
VALID_ZIP_STORED = make_zip([("data.pkl", PICKLE), ("x/", b"")], compression=zipfile.ZIP_STORED)


def _fuzz_tar_members(archive: tarfile.TarFile) -> None:
    add_file(archive, "data.pkl", PICKLE)
    add_link(archive, "l", "data.pkl", tarfile.SYMTYPE)


VALID_TAR = make_tar(_fuzz_tar_members)


def exercise_zip(data: bytes) -> None:
    """Any exception other than ArchiveError propagates and fails the test."""
    budget = ByteBudget(FUZZ_LIMITS)
    with contextlib.suppress(ArchiveError):
        for member in iter_zip(data, FUZZ_LIMITS):
            with contextlib.suppress(ArchiveError):
                read_zip_member(data, member, FUZZ_LIMITS, budget)


def exercise_tar(data: bytes) -> None:
    with contextlib.suppress(ArchiveError):
        for _member, read in iter_tar(data, FUZZ_LIMITS):
            with contextlib.suppress(ArchiveError):
                read()


def exercise_streams(data: bytes) -> None:
    for kind in ("gzip", "bz2", "xz", "lzma", "zlib"):
        with contextlib.suppress(ArchiveError):
            decompress(kind, data, MiB)


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    raw = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(0, 8))):
        pos = draw(st.integers(0, len(raw) - 1))
        action = draw(st.sampled_from(["set", "insert", "delete"]))
        if action == "set":
            raw[pos] = draw(st.integers(0, 255))
        elif action == "insert":
            raw[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        else:
            del raw[pos : pos + draw(st.integers(1, 8))]
        if not raw:
            break
    cut = draw(st.integers(0, len(raw)))
    return bytes(raw[:cut] if draw(st.booleans()) else raw)


SLOW_OK = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SLOW_OK
@given(st.binary(max_size=2048))
def test_fuzz_random_bytes(data: bytes) -> None:
    exercise_zip(data)
    exercise_zip(b"PK\x03\x04" + data)
    exercise_tar(data)
    exercise_streams(data)


@SLOW_OK
@given(mutated([VALID_ZIP, VALID_ZIP_STORED, craft_zip64([(b"a", b"b" * 50)], b"pre")]))
def test_fuzz_mutated_zip(data: bytes) -> None:
    exercise_zip(data)


@SLOW_OK
@given(mutated([VALID_TAR]))
def test_fuzz_mutated_tar(data: bytes) -> None:
    exercise_tar(data)


@SLOW_OK
@given(mutated(list(STREAMS.values())))
def test_fuzz_mutated_streams(data: bytes) -> None:
    exercise_streams(data)


# --- picklescan samples (bytes only; never unpickled) ---------------------------------------------


needs_samples = pytest.mark.skipif(
    not PICKLESCAN.is_dir(), reason=f"picklescan sample folder {PICKLESCAN} is absent in this checkout"
)


def sample(name: str) -> bytes:
    return (PICKLESCAN / name).read_bytes()


def looks_like_pickle(data: bytes) -> bool:
    return bool(data) and data[0] in PICKLE_OPCODES


@needs_samples
@pytest.mark.parametrize(
    "name",
    ["malicious1.zip", "malicious1_0x1.zip", "malicious1_0x20.zip", "malicious1_0x40.zip",
     "malicious1_central_directory.zip", "malicious1_wrong_ext.zip"],
)
def test_picklescan_zip_variants_expose_the_pickle(name: str) -> None:
    data = sample(name)
    contents = [bytes(read_zip_member(data, m, SMALL)) for m in iter_zip(data, SMALL)]
    assert any(looks_like_pickle(c) for c in contents)


@needs_samples
def test_picklescan_7z_exposes_the_pickle() -> None:
    contents = [read() for _, read in iter_7z(sample("malicious1.7z"), SMALL)]
    assert any(looks_like_pickle(c) for c in contents)


@needs_samples
def test_picklescan_password_protected_zip_is_reported_encrypted() -> None:
    members = list(iter_zip(sample("benign_password_protected.zip"), SMALL))
    assert members and all(m.encrypted for m in members)


def test_limits_validation() -> None:
    with pytest.raises(ValueError):
        ArchiveLimits(max_members=-1)
    with pytest.raises(ValueError):
        ArchiveLimits(max_ratio=0)


@pytest.mark.parametrize("at", [0, 4093, 4095, 4096, 12285, 12287, 3 * (1 << 20) + 5])
def test_find_sees_needles_across_growing_windows(at: int) -> None:
    from bastion.supplychain.archives._buffer import find

    data = bytearray(at + 64)
    data[at : at + 4] = b"PK\x03\x04"
    view = memoryview(bytes(data))
    assert find(view, b"PK\x03\x04") == at
    assert find(view, b"PK\x03\x04", 0, at + 3) == -1  # the end bound cuts the needle
    assert find(view, b"PK\x03\x04", at + 1) == -1
