"""Bounded 7z reader built on py7zr: listing first, limits checked on declared sizes, then in-memory decoding.

py7zr's public ``extract(factory=...)`` keys outputs by sanitised path and refuses the whole archive
when one name is unsafe (``../evil``), which is exactly what a scanner must still look at. So members
are registered with py7zr's worker by their index instead; the worker then decodes every folder once,
in order, into capped in-memory writers. Nothing touches the file system.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from typing import IO, Any, cast

import py7zr
import py7zr.exceptions
from py7zr.io import MemIO, Py7zIO, WriterFactory

from ._buffer import BufferReader, as_view
from .limits import (
    DEFAULT_LIMITS,
    RATIO_FLOOR_BYTES,
    ArchiveError,
    ArchiveLimits,
    Buffer,
    ByteBudget,
    LimitExceeded,
    Member,
    check_declared_size,
    check_member_count,
)

__all__ = ["iter_7z"]

SevenZipReader = Callable[[], bytes]
"""Returns one member's data, already decoded within the archive's limits."""


class _Capture(Py7zIO):
    """In-memory writer that refuses to grow past the member and total bounds."""

    def __init__(self, name: str, budget: ByteBudget) -> None:
        self._name = name
        self._budget = budget
        self._data = bytearray()
        self._pos = 0

    def write(self, s: bytes | bytearray) -> int:
        limits = self._budget.limits
        if len(self._data) + len(s) > limits.max_member_bytes:
            raise LimitExceeded(f"max_member_bytes={limits.max_member_bytes} exceeded by member {self._name!r}")
        self._budget.charge(len(s), self._name)
        self._data += s
        return len(s)

    def read(self, size: int | None = None) -> bytes:
        end = len(self._data) if size is None or size < 0 else self._pos + size
        chunk = bytes(self._data[self._pos : end])
        self._pos += len(chunk)
        return chunk

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: len(self._data)}.get(whence, 0)
        self._pos = max(0, base + offset)
        return self._pos

    def flush(self) -> None:
        return None

    def size(self) -> int:
        return len(self._data)

    def value(self) -> bytes:
        return bytes(self._data)


class _CaptureFactory(WriterFactory):
    """Creates one ``_Capture`` per member, keyed by the member index used as its file name."""

    def __init__(self, names: dict[str, str], budget: ByteBudget) -> None:
        self._names = names
        self._budget = budget
        self.captures: dict[str, _Capture] = {}

    def create(self, filename: str) -> Py7zIO:
        capture = _Capture(self._names.get(filename, filename), self._budget)
        self.captures[filename] = capture
        return capture


def _wrap(exc: Exception, context: str) -> ArchiveError:
    if isinstance(exc, ArchiveError):
        return exc
    if isinstance(exc, py7zr.exceptions.DecompressionBombError):
        return LimitExceeded(f"{context}: {exc}")
    if isinstance(exc, py7zr.exceptions.PasswordRequired):
        return ArchiveError(f"{context}: 7z archive is encrypted (password required)")
    return ArchiveError(f"{context}: {type(exc).__name__}: {exc}")


def _open(view: memoryview) -> py7zr.SevenZipFile:
    try:
        archive = py7zr.SevenZipFile(cast(IO[bytes], BufferReader(view)), mode="r")
    except Exception as exc:
        raise _wrap(exc, "cannot read 7z header") from exc
    if archive.needs_password():
        # Without a password the header parsed, but the member data is AES encrypted.
        raise ArchiveError("7z archive is encrypted (members need a password); contents not examined")
    return archive


def _member(entry: Any, content: bytes | None) -> Member:
    is_link = bool(entry.is_symlink)
    target = content.decode("utf-8", errors="replace") if is_link and content is not None else None
    return Member(
        name=str(entry.filename),
        size=int(entry.uncompressed or 0),
        compressed_size=-1 if entry.compressed is None else int(entry.compressed),
        offset=-1,
        method="7z",
        is_dir=bool(entry.is_directory),
        is_link=is_link,
        link_target=target,
        encrypted=False,
    )


def _check_listing(entries: list[Any], limits: ArchiveLimits, packed: int) -> None:
    """Apply every bound to the declared sizes before a single byte is decoded."""
    total = 0
    for count, entry in enumerate(entries, start=1):
        name = str(entry.filename)
        check_member_count(count, limits, name)
        size = int(entry.uncompressed or 0)
        check_declared_size(size, limits, name)
        total += size
        if total > limits.max_total_bytes:
            raise LimitExceeded(f"max_total_bytes={limits.max_total_bytes} exceeded by declared sizes at {name!r}")
    if total > RATIO_FLOOR_BYTES and total > limits.max_ratio * max(1, packed):
        raise LimitExceeded(f"max_ratio={limits.max_ratio} exceeded: {total} bytes declared in a {packed}-byte archive")


def _decode_all(archive: py7zr.SevenZipFile, entries: list[Any], budget: ByteBudget) -> dict[str, _Capture]:
    """Decode every non-directory member into memory in one pass over the archive's folders."""
    names = {str(index): str(entry.filename) for index, entry in enumerate(entries)}
    factory = _CaptureFactory(names, budget)
    worker = archive.worker
    for index, entry in enumerate(entries):
        target = None if entry.is_directory else MemIO(str(index), factory)
        worker.register_filelike(entry.id, target)
    # py7zr's own total guard as a second line of defence; ours raises first with a better message.
    worker.max_extract_size = budget.limits.max_total_bytes + 1
    worker.extract(archive.fp, None, parallel=False)
    return factory.captures


def _members(view: memoryview, limits: ArchiveLimits) -> list[tuple[Member, bytes]]:
    archive = _open(view)
    try:
        entries = list(archive.files)
        _check_listing(entries, limits, len(view))
        captures = _decode_all(archive, entries, ByteBudget(limits))
    except Exception as exc:
        raise _wrap(exc, "cannot decode 7z archive") from exc
    finally:
        archive.close()
    result = []
    for index, entry in enumerate(entries):
        capture = captures.get(str(index))
        content = capture.value() if capture is not None else None
        result.append((_member(entry, content), content or b""))
    return result


def _constant(data: bytes) -> SevenZipReader:
    return lambda: data


def iter_7z(buf: Buffer, limits: ArchiveLimits = DEFAULT_LIMITS) -> Iterator[tuple[Member, SevenZipReader]]:
    """Yield each member of the 7z archive in ``buf`` with a reader for its (already decoded) data.

    The listing is checked against ``limits`` (count, declared member and total sizes, ratio against
    the archive size) before anything is decoded; decoding then happens once, into memory, within the
    same bounds. Encrypted archives raise ``ArchiveError`` saying so. Symlink targets are reported.
    """
    view = as_view(buf)
    for member, content in _members(view, limits):
        yield member, _constant(content)
