"""Lenient, bounded ZIP reader.

Attackers craft zips that ``torch.load`` (miniz) or ``zipfile`` accept while stricter scanners give up,
so this reader accepts at least what those loaders accept: CRC mismatches, local/central name
mismatches, odd flag bits, ZIP64, comments after the end record, prepended data, duplicate names,
and, when the central directory is missing or corrupt, a sequential scan of local headers.
"""

from __future__ import annotations

import stat
import struct
from collections.abc import Iterator
from typing import NamedTuple

from ._buffer import as_view, find, find_all_reversed
from .compression import Decoder, OutputBound, TruncatedStream, make_decoder, make_zip_lzma_decoder, run_decoder
from .limits import (
    DEFAULT_LIMITS,
    RATIO_FLOOR_BYTES,
    ArchiveError,
    ArchiveLimits,
    Buffer,
    ByteBudget,
    Member,
    check_declared_size,
    check_member_count,
)

__all__ = ["iter_zip", "read_zip_member"]

_LOCAL_SIG = b"PK\x03\x04"
_CENTRAL_SIG = b"PK\x01\x02"
_EOCD_SIG = b"PK\x05\x06"
_EOCD64_SIG = b"PK\x06\x06"
_LOCATOR64_SIG = b"PK\x06\x07"
_DESCRIPTOR_SIG = b"PK\x07\x08"

_LOCAL = struct.Struct("<4sHHHHHIIIHH")  # sig, version, flags, method, time, date, crc, csize, usize, nlen, elen
_CENTRAL = struct.Struct("<4sBBHHHHHIIIHHHHHII")  # sig, version, system, needed, flags, method, time, date,
#                                                  crc, csize, usize, nlen, elen, clen, disk, iattr, eattr, offset
_EOCD = struct.Struct("<4sHHHHIIH")  # sig, disk, cd disk, entries here, entries, cd size, cd offset, comment len
_EOCD64 = struct.Struct("<4sQHHIIQQQQ")  # sig, record size, made, needed, disk, cd disk, here, entries, size, offset
_LOCATOR64 = struct.Struct("<4sIQI")  # sig, disk, zip64 end record offset, disks

_MAX_COMMENT = 0xFFFF
_FLAG_ENCRYPTED = 0x1
_FLAG_DESCRIPTOR = 0x8
_FLAG_UTF8 = 0x800
_ZIP64_MARK = 0xFFFFFFFF
_ZIP64_EXTRA = 0x0001
_MAX_LINK_TARGET = 4096
_METHODS = {0: "stored", 8: "deflate", 12: "bzip2", 14: "lzma", 93: "zstd"}


class _Directory(NamedTuple):
    """Where a central directory sits, as worked out from an end-of-central-directory record."""

    start: int  # actual offset of the first central header in the buffer
    size: int  # declared size in bytes
    entries: int  # declared entry count
    delta: int  # actual minus recorded offset: bytes prepended to the archive (self-extractor stubs)


class _Central(NamedTuple):
    """The fields of one central directory header that the reader needs."""

    name: str
    flags: int
    method: int
    csize: int
    usize: int
    local_offset: int
    external_attr: int


def _method_name(method: int) -> str:
    return _METHODS.get(method, f"unknown:{method}")


def _decode_name(raw: bytes, flags: int) -> str:
    # Bit 11 says utf-8; otherwise the spec says cp437 (which maps all 256 bytes, so never fails).
    return raw.decode("utf-8", errors="replace") if flags & _FLAG_UTF8 else raw.decode("cp437")


def _extra_field(extra: bytes, wanted: int) -> bytes | None:
    """Body of the first extra field with id ``wanted``; a truncated trailing field is tolerated."""
    pos = 0
    while pos + 4 <= len(extra):
        tag, size = struct.unpack_from("<HH", extra, pos)
        if tag == wanted:
            return extra[pos + 4 : pos + 4 + size]
        pos += 4 + size
    return None


def _zip64_values(extra: bytes, values: list[int]) -> list[int]:
    """Replace each 0xFFFFFFFF value, in order, with the next 64-bit value of the zip64 extra field."""
    body = _extra_field(extra, _ZIP64_EXTRA)
    if body is None:
        return values
    resolved, pos = [], 0
    for value in values:
        if value == _ZIP64_MARK and pos + 8 <= len(body):
            value = struct.unpack_from("<Q", body, pos)[0]
            pos += 8
        resolved.append(value)
    return resolved


# --- locating the central directory -------------------------------------------------------------


def _zip64_record(view: memoryview, eocd_pos: int) -> tuple[int, int, int, int] | None:
    """(entries, cd size, cd offset, record offset) from a zip64 end record, if a locator precedes the EOCD."""
    locator = eocd_pos - _LOCATOR64.size
    if locator < 0 or bytes(view[locator : locator + 4]) != _LOCATOR64_SIG:
        return None
    recorded = _LOCATOR64.unpack_from(view, locator)[2]
    # zipfile expects the record right before the locator; the locator's own offset is wrong when data is prepended.
    for pos in dict.fromkeys((locator - _EOCD64.size, recorded)):
        if 0 <= pos <= len(view) - _EOCD64.size and bytes(view[pos : pos + 4]) == _EOCD64_SIG:
            fields = _EOCD64.unpack_from(view, pos)
            return fields[7], fields[8], fields[9], pos
    return None


def _directories(view: memoryview) -> Iterator[_Directory]:
    """Plausible central directories, trying end records from the last one backwards (as zipfile does)."""
    tail = max(0, len(view) - _EOCD.size - _MAX_COMMENT)
    for eocd_pos in find_all_reversed(view, _EOCD_SIG, tail):
        if eocd_pos + _EOCD.size > len(view):
            continue
        _sig, _disk, _cd_disk, _here, entries, cd_size, cd_offset, _clen = _EOCD.unpack_from(view, eocd_pos)
        cd_end = eocd_pos
        zip64 = _zip64_record(view, eocd_pos)
        if zip64 is not None:
            entries, cd_size, cd_offset, cd_end = zip64
        if entries == 0 and cd_size == 0:
            yield _Directory(cd_end, 0, 0, 0)
            continue
        # The directory normally ends where the end record starts; its recorded offset is the fallback.
        for start in dict.fromkeys((cd_end - cd_size, cd_offset)):
            if 0 <= start <= len(view) - 4 and bytes(view[start : start + 4]) == _CENTRAL_SIG:
                yield _Directory(start, cd_size, entries, start - cd_offset)


# --- central directory entries -----------------------------------------------------------------


def _central_entry(view: memoryview, pos: int) -> tuple[_Central, int] | None:
    """Parse the central header at ``pos``; return it and the next header's offset, or None if truncated."""
    if pos + _CENTRAL.size > len(view):
        return None
    fields = _CENTRAL.unpack_from(view, pos)
    flags, method, csize, usize, nlen, elen, clen = fields[4], fields[5], fields[9], fields[10], *fields[11:14]
    external_attr, local_offset = fields[16], fields[17]
    name_end = pos + _CENTRAL.size + nlen
    extra_end = name_end + elen
    if extra_end > len(view):
        return None
    extra = bytes(view[name_end:extra_end])
    usize, csize, local_offset = _zip64_values(extra, [usize, csize, local_offset])
    name = _decode_name(bytes(view[pos + _CENTRAL.size : name_end]), flags)
    entry = _Central(name, flags, method, csize, usize, local_offset, external_attr)
    return entry, extra_end + clen


def _local_data_offset(view: memoryview, recorded: int, delta: int) -> int:
    """Data offset behind the local header at ``recorded`` (+ ``delta``), using the local lengths; -1 if absent."""
    for pos in dict.fromkeys((recorded + delta, recorded)):
        if 0 <= pos <= len(view) - _LOCAL.size and bytes(view[pos : pos + 4]) == _LOCAL_SIG:
            nlen, elen = struct.unpack_from("<HH", view, pos + 26)
            # The local name/extra may differ from the central ones (miniz never compares them).
            return int(pos + _LOCAL.size + nlen + elen)
    return -1


def _link_target(view: memoryview, offset: int, entry: _Central) -> str | None:
    """A zip symlink stores its target as the member data; read it only when small and stored."""
    if entry.method != 0 or offset < 0 or entry.csize > _MAX_LINK_TARGET or offset + entry.csize > len(view):
        return None
    return bytes(view[offset : offset + entry.csize]).decode("utf-8", errors="replace")


def _central_member(view: memoryview, entry: _Central, delta: int) -> Member:
    offset = _local_data_offset(view, entry.local_offset, delta)
    is_link = stat.S_ISLNK(entry.external_attr >> 16)
    return Member(
        name=entry.name,
        size=entry.usize,
        compressed_size=entry.csize,
        offset=offset,
        method=_method_name(entry.method),
        # Only the trailing slash makes a directory for zipfile; attribute bits could hide a file from scanners.
        is_dir=entry.name.endswith("/"),
        is_link=is_link,
        link_target=_link_target(view, offset, entry) if is_link else None,
        encrypted=bool(entry.flags & _FLAG_ENCRYPTED),
    )


def _parse_directory(view: memoryview, directory: _Directory, limits: ArchiveLimits) -> list[Member]:
    """Members listed by ``directory``, read until the headers stop (whatever the declared count says)."""
    members: list[Member] = []
    pos = directory.start
    # Read headers while the signature matches, not a fixed count: zipfile trusts the size, miniz the count.
    while bytes(view[pos : pos + 4]) == _CENTRAL_SIG:
        parsed = _central_entry(view, pos)
        if parsed is None:
            break
        entry, pos = parsed
        check_member_count(len(members) + 1, limits, entry.name)
        members.append(_central_member(view, entry, directory.delta))
    return members


def _read_central(view: memoryview, limits: ArchiveLimits) -> list[Member] | None:
    """Members from the first usable central directory, or None when there is none."""
    for directory in _directories(view):
        members = _parse_directory(view, directory, limits)
        if members or directory.entries == 0:
            return members
    return None


# --- fallback: sequential local headers --------------------------------------------------------


def _descriptor_end(view: memoryview, data_start: int) -> tuple[int, int]:
    """(data end, next search offset) for a member whose sizes follow its data in a data descriptor."""
    nearest = len(view)
    for sig in (_DESCRIPTOR_SIG, _LOCAL_SIG, _CENTRAL_SIG):
        hit = find(view, sig, data_start, nearest)
        if hit >= 0:
            nearest = hit
    if bytes(view[nearest : nearest + 4]) == _DESCRIPTOR_SIG:
        return nearest, nearest + 4
    # A descriptor without signature (crc, csize, usize) may sit right before the next header.
    unsigned = nearest - 12
    if unsigned >= data_start and struct.unpack_from("<I", view, unsigned + 4)[0] == unsigned - data_start:
        return unsigned, nearest
    return nearest, nearest


def _local_member(view: memoryview, pos: int, known: dict[int, int]) -> tuple[Member, int] | None:
    """Member described by the local header at ``pos`` and where to look for the next one; None if truncated.

    ``known`` maps data offsets of members already listed by the central directory to their
    compressed sizes, which are more reliable than local ones (data descriptors leave those zero).
    """
    if pos + _LOCAL.size > len(view):
        return None
    _sig, _ver, flags, method, _t, _d, _crc, csize, usize, nlen, elen = _LOCAL.unpack_from(view, pos)
    name_end = pos + _LOCAL.size + nlen
    data_start = name_end + elen
    if data_start > len(view):
        return None
    usize, csize = _zip64_values(bytes(view[name_end:data_start]), [usize, csize])
    if data_start in known:
        csize = known[data_start]
        next_pos = data_start + csize
    elif flags & _FLAG_DESCRIPTOR and csize == 0:
        data_end, next_pos = _descriptor_end(view, data_start)
        csize = data_end - data_start
    else:
        # An impossible size is corrupt: keep searching right after the header rather than give up.
        next_pos = data_start + csize if data_start + csize <= len(view) else data_start
    name = _decode_name(bytes(view[pos + _LOCAL.size : name_end]), flags)
    member = Member(
        name=name,
        size=usize,
        compressed_size=csize,
        offset=data_start,
        method=_method_name(method),
        is_dir=name.endswith("/"),
        is_link=False,  # local headers carry no file mode
        link_target=None,
        encrypted=bool(flags & _FLAG_ENCRYPTED),
    )
    return member, next_pos


def _scan_local(view: memoryview, limits: ArchiveLimits, known: dict[int, int], count: int) -> Iterator[Member]:
    """Members found by walking local headers, skipping those whose data offset is in ``known``."""
    pos = find(view, _LOCAL_SIG)
    while pos >= 0:
        parsed = _local_member(view, pos, known)
        if parsed is None:
            return
        member, next_pos = parsed
        if member.offset not in known:
            count += 1
            check_member_count(count, limits, member.name)
            yield member
        # Jump over the data when its size is known, so a stored inner zip is not mistaken for members.
        if bytes(view[next_pos : next_pos + 4]) == _LOCAL_SIG:
            pos = next_pos
        else:
            pos = find(view, _LOCAL_SIG, max(next_pos, pos + 4))


def iter_zip(buf: Buffer, limits: ArchiveLimits = DEFAULT_LIMITS) -> Iterator[Member]:
    """List the members of a zip held in ``buf`` without decompressing anything.

    First every entry of the central directory (duplicates included), as zipfile and torch see them;
    then any member found only by walking the local file headers, as streaming readers see them.
    With the directory missing or corrupt, the walk alone lists the archive. Raises ``LimitExceeded``
    past ``max_members`` and ``ArchiveError`` when the buffer holds neither a directory nor a header.
    """
    view = as_view(buf)
    listed = _read_central(view, limits)
    members = listed or []
    yield from members
    known = {m.offset: m.compressed_size for m in members if m.offset >= 0}
    found = False
    for member in _scan_local(view, limits, known, len(members)):
        found = True
        yield member
    if listed is None and not found:
        raise ArchiveError(f"not a zip: no central directory and no local file header in {len(view)} bytes")


# --- reading member data -----------------------------------------------------------------------


def _read_stored(view: memoryview, member: Member, limits: ArchiveLimits) -> memoryview:
    end = member.offset + member.compressed_size
    if member.compressed_size < 0 or end > len(view):
        raise ArchiveError(
            f"member {member.name!r}: stored data at offset {member.offset} runs past the end of the buffer "
            f"({member.compressed_size} bytes declared, {len(view) - member.offset} available)"
        )
    check_declared_size(member.compressed_size, limits, member.name)
    return view[member.offset : end]


def _member_decoder(view: memoryview, member: Member, data_end: int) -> tuple[Decoder, int]:
    """Decoder for the member's method and the offset where its compressed stream starts."""
    if member.method == "lzma":
        # Zip lzma data starts with version (2), properties size (2) and the LZMA1 properties.
        header = member.offset + 4
        if header > data_end:
            raise ArchiveError(f"member {member.name!r}: lzma header truncated at offset {member.offset}")
        props_size = struct.unpack_from("<H", view, member.offset + 2)[0]
        props = bytes(view[header : min(header + props_size, data_end)])
        return make_zip_lzma_decoder(props), header + props_size
    kinds = {"deflate": "deflate", "bzip2": "bz2", "zstd": "zstd"}
    if member.method not in kinds:
        raise ArchiveError(f"member {member.name!r}: unsupported compression method {member.method}")
    return make_decoder(kinds[member.method]), member.offset


def _output_bounds(member: Member, limits: ArchiveLimits, budget: ByteBudget, extent: int) -> list[OutputBound]:
    """Ceilings on one member's output: its own size, what is left of the total, and the ratio bound."""
    name = repr(member.name)
    ratio_cap = max(RATIO_FLOOR_BYTES, int(limits.max_ratio * extent))
    return [
        OutputBound(limits.max_member_bytes, f"max_member_bytes={limits.max_member_bytes} exceeded by member {name}"),
        OutputBound(budget.remaining(), f"max_total_bytes={limits.max_total_bytes} exceeded reading member {name}"),
        OutputBound(ratio_cap, f"max_ratio={limits.max_ratio} exceeded by member {name} ({extent} compressed bytes)"),
    ]


def _decompress_member(view: memoryview, member: Member, limits: ArchiveLimits, budget: ByteBudget) -> bytearray:
    data_end = min(len(view), member.offset + max(0, member.compressed_size))
    out = bytearray()
    try:
        decoder, start = _member_decoder(view, member, data_end)
        bounds = _output_bounds(member, limits, budget, data_end - member.offset)
        run_decoder(decoder, view[:data_end], start, out, bounds, f"member {member.name!r}")
    except TruncatedStream:
        # zipfile stops once it has the declared size, so an unterminated stream (7-Zip's lzma) is fine then.
        if len(out) < member.size or member.size == 0:
            raise
    except ArchiveError:
        raise
    except Exception as exc:  # zlib.error, LZMAError, OSError from bz2, ArchiveError from the decoders, ...
        hint = " (it is marked encrypted)" if member.encrypted else ""
        raise ArchiveError(f"member {member.name!r} at offset {member.offset}: cannot decompress{hint}: {exc}") from exc
    return out


def read_zip_member(
    buf: Buffer, member: Member, limits: ArchiveLimits = DEFAULT_LIMITS, budget: ByteBudget | None = None
) -> Buffer:
    """Return the uncompressed data of ``member`` (from ``iter_zip`` on the same ``buf``), bounded by ``limits``.

    Stored members come back as a zero-copy read-only memoryview of ``buf``; compressed ones as a
    read-only memoryview of a new buffer. CRCs are not checked. The encrypted flag is reported but
    not trusted, because loaders ignore it: the data is returned as stored (ciphertext if it really
    is encrypted) and never decrypted. Pass one ``budget`` across calls to bound the archive total.
    """
    view = as_view(buf)
    budget = budget if budget is not None else ByteBudget(limits)
    check_declared_size(member.size, limits, member.name)
    if member.offset < 0 or member.offset > len(view):
        raise ArchiveError(f"member {member.name!r}: no local file header found at its recorded offset")
    if member.method == "stored":
        return _read_stored(view, member, limits)
    out = _decompress_member(view, member, limits, budget)
    budget.charge(len(out), member.name)
    return memoryview(out).toreadonly()
